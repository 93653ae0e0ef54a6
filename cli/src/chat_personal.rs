//! The personalized REPL's own commands and lines for `keel chat --user`: `/up` and `/down`
//! (a rating of the last answer), `/again` (a second answer, then the person picks one),
//! `/why` (what shaped the last answer), `/profile`, and the turn line printed after each
//! answer.

use std::io::Write;

use keel::engine::{ChatMessage, GenerationParams};
use keel::prefs::{ContextKey, FeedbackEvent, FeedbackKind, Shaping, TurnId};
use keel::runtime::{BestOfReport, PersonalChat, PersonalReport};

use crate::chat_answer::{stream_answer_personal, Current};
use crate::chat_cmd::{history_reply, Last};
use crate::error::CliError;
use crate::store_access::{personal_error, print_feedback};

/// The turn id and what shaped a personalized answer, for stderr.
pub(crate) fn personal_line(report: &PersonalReport) -> String {
    let shaped: Vec<String> = report
        .shaped_by
        .iter()
        .map(|s| format!("{} ({})", s.dimension.name(), s.source.describe()))
        .collect();
    format!(
        "[turn {}; shaped by: {}]",
        report.turn_id.as_str(),
        if shaped.is_empty() {
            "nothing yet".to_owned()
        } else {
            shaped.join(", ")
        }
    )
}

/// How a best-of-n answer was chosen and what it cost, for stderr.
pub(crate) fn best_of_line(r: &BestOfReport) -> String {
    let scores: Vec<String> = r
        .best_of
        .candidates
        .iter()
        .map(|c| match c.score {
            Some(s) => format!("{}: {s:+.2} ({} tokens)", c.index + 1, c.tokens),
            None => format!("{}: blocked ({} tokens)", c.index + 1, c.tokens),
        })
        .collect();
    format!(
        "[best of {}: chose {}; {}; cost {} tokens, {:.1} s]",
        r.best_of.candidates.len(),
        r.best_of.chosen + 1,
        scores.join(", "),
        r.best_of.total_tokens,
        r.best_of.total_ms / 1000.0
    )
}

/// A preference that shaped an answer, in words.
pub(crate) fn shaping_line(s: &Shaping) -> String {
    format!(
        "{}: {:.2} (weight {:+.2}, confidence {:.0}%, {} event{} of evidence, {}) — {}",
        s.dimension.name().replace('_', " "),
        s.value,
        s.weight,
        s.confidence * 100.0,
        s.evidence,
        if s.evidence == 1 { "" } else { "s" },
        s.source.describe(),
        s.instruction
    )
}

pub(crate) fn why(last: Option<&Last>) {
    match last {
        None => eprintln!("(no answer yet)"),
        Some(l) if l.report.shaped_by.is_empty() => eprintln!(
            "Nothing shaped turn {}: no preference is confident yet.",
            l.report.turn_id.as_str()
        ),
        Some(l) => {
            eprintln!("Turn {} was shaped by:", l.report.turn_id.as_str());
            for s in &l.report.shaped_by {
                eprintln!("  {}", shaping_line(s));
            }
        }
    }
}

pub(crate) fn show_profile(
    chat: &PersonalChat,
    user: &str,
    context: Option<&ContextKey>,
) -> Result<(), CliError> {
    let profile = chat.profile(user, context).map_err(personal_error)?;
    for line in profile.describe() {
        eprintln!("  {line}");
    }
    Ok(())
}

pub(crate) fn rate(
    chat: &PersonalChat,
    user: &str,
    context: &Option<ContextKey>,
    last: Option<&Last>,
    up: bool,
) -> Result<(), CliError> {
    let Some(last) = last else {
        eprintln!("(no answer to rate yet)");
        return Ok(());
    };
    let event = FeedbackEvent {
        turn: last.report.turn_id.clone(),
        context: context.clone(),
        kind: FeedbackKind::Rating { up },
    };
    let report = chat.feedback(user, &event).map_err(personal_error)?;
    print_feedback(&report);
    Ok(())
}

/// `/again`: a second answer to the same prompt, then the person picks one: a pairwise
/// choice. Asking again is itself a signal against the first answer (regenerate), recorded
/// unless the person then picks the first answer after all: their explicit choice says the
/// opposite, and it stands alone.
#[allow(clippy::too_many_arguments)]
pub(crate) fn again(
    chat: &PersonalChat,
    user: &str,
    context: &Option<ContextKey>,
    last: &mut Option<Last>,
    conversation: &mut Vec<ChatMessage>,
    params: &GenerationParams,
    n: u32,
    current: &Current,
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
) -> Result<(), CliError> {
    let Some(first) = last.take() else {
        eprintln!("(no answer to regenerate yet)");
        return Ok(());
    };
    if !first.in_history {
        eprintln!("(the last turn was blocked and is not part of the conversation; ask again)");
        *last = Some(first);
        return Ok(());
    }
    let mut params = params.clone();
    params.sampling.seed = params.sampling.seed.wrapping_add(n);
    if params.sampling.temperature == 0.0 {
        params.sampling.temperature = 0.8;
    }
    let second = stream_answer_personal(
        chat,
        user,
        context,
        first.messages.clone(),
        &params,
        current,
    )?;
    eprintln!("{}", personal_line(&second.1));
    eprint!(
        "Which answer do you prefer: 1 (turn {}) or 2 (turn {})? ",
        first.report.turn_id.as_str(),
        second.1.turn_id.as_str()
    );
    let _ = std::io::stderr().flush();
    let choice = lines
        .next()
        .transpose()
        .map_err(|e| CliError::io("read the choice", e))?
        .unwrap_or_default();
    let choice = choice.trim();
    let picked: Option<(&TurnId, &TurnId)> = match choice {
        "1" => Some((&first.report.turn_id, &second.1.turn_id)),
        "2" => Some((&second.1.turn_id, &first.report.turn_id)),
        _ => None,
    };
    match picked {
        Some((winner, loser)) => {
            let pairwise = FeedbackEvent {
                turn: winner.clone(),
                context: context.clone(),
                kind: FeedbackKind::Pairwise {
                    other: loser.clone(),
                },
            };
            print_feedback(&chat.feedback(user, &pairwise).map_err(personal_error)?);
        }
        None => eprintln!("(no choice recorded; keeping the second answer)"),
    }
    if choice != "1" {
        let regenerate = FeedbackEvent {
            turn: first.report.turn_id.clone(),
            context: context.clone(),
            kind: FeedbackKind::Regenerate,
        };
        print_feedback(&chat.feedback(user, &regenerate).map_err(personal_error)?);
    }
    *last = Some(if choice != "1" {
        keep_if_shown(first, second, conversation)
    } else {
        first
    });
    Ok(())
}

/// Put the second answer in place of the first in the conversation, unless the gate blocked
/// it (then the first stays); the answer kept is the one /up, /down and /why refer to.
fn keep_if_shown(
    first: Last,
    second: (String, PersonalReport),
    conversation: &mut Vec<ChatMessage>,
) -> Last {
    match history_reply(&second.0, &second.1.turn) {
        Some(reply) => {
            conversation.pop();
            conversation.push(ChatMessage::assistant(reply));
            Last {
                messages: first.messages,
                report: second.1,
                in_history: true,
            }
        }
        None => {
            eprintln!("(the second answer was blocked; the first stays in the conversation)");
            first
        }
    }
}
