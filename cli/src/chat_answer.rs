//! One answer of `keel chat`: a plain, personalized or best-of-n turn, streamed to stdout
//! (a best-of answer is shown whole when its candidates are in), with Ctrl-C cancelling the
//! generation that is running, and the status line shown after it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use keel::engine::{CancelHandle, ChatMessage, GenerationParams};
use keel::prefs::ContextKey;
use keel::runtime::{
    BestOfReport, GatedChat, PersonalChat, PersonalError, PersonalEvent, PersonalReport, TurnEvent,
    TurnReport,
};

use crate::chat_personal::best_of_line;
use crate::error::CliError;
use crate::store_access::personal_error;

/// What Ctrl-C acts on: the generation to cancel, if one is running; whether a turn is under
/// way (being prepared, or between the candidates of a best-of turn, with nothing generating);
/// and whether Ctrl-C interrupted it (the gate also stops a generation it blocks, through the
/// same handle, so a cancelled handle alone does not say the person asked to stop).
#[derive(Debug, Default)]
pub(crate) struct Running {
    handle: Option<CancelHandle>,
    busy: bool,
    interrupted: bool,
}

/// Ctrl-C: cancel the running generation, or mark the turn under way as interrupted (it stops
/// before it generates), or, at the prompt, say to leave (`true`).
fn on_ctrl_c(running: &mut Running) -> bool {
    if let Some(handle) = running.handle.as_ref() {
        handle.cancel();
        running.interrupted = true;
        false
    } else if running.busy {
        running.interrupted = true;
        false
    } else {
        true
    }
}

/// Shared between the answer being produced and the Ctrl-C handler.
pub(crate) type Current = Arc<Mutex<Running>>;

/// Who is served: anybody (no store), or one person by their preferences.
pub(crate) enum Session {
    Plain(GatedChat),
    Personal {
        chat: Box<PersonalChat>,
        user: String,
        context: Option<ContextKey>,
        best_of: u32,
    },
}

/// One answer as shown, with its reports.
pub(crate) struct Answer {
    pub(crate) text: String,
    pub(crate) report: TurnReport,
    pub(crate) personal: Option<PersonalReport>,
    /// What a best-of-n answer cost and how its candidates scored.
    pub(crate) best_of: Option<serde_json::Value>,
}

/// Cancel the turn under way on Ctrl-C; at the prompt (no turn under way), leave.
pub(crate) fn install_ctrl_c(current: Current) -> Result<(), CliError> {
    ctrlc::set_handler(move || {
        let leave = on_ctrl_c(&mut lock(&current));
        if leave {
            std::process::exit(130);
        }
    })
    .map_err(|e| CliError::Usage(format!("could not install the Ctrl-C handler: {e}")))
}

/// One line about a finished turn, for stderr.
pub(crate) fn status_line(report: &TurnReport) -> String {
    let gate = format!(
        "gate: {}{}",
        report.verdict.as_str(),
        if report.bundle.developer_mode {
            " (developer mode: nothing checked)"
        } else {
            ""
        }
    );
    match &report.generation {
        Some(g) => format!(
            "[{} tokens, {:.1} tok/s, {} of {} prompt tokens reused{}; {gate}]",
            g.generated_tokens,
            g.decode_tok_s,
            g.reused_tokens,
            g.prompt_tokens,
            if g.finish == keel::engine::FinishReason::Cancelled {
                ", cancelled"
            } else {
                ""
            }
        ),
        None => format!("[nothing generated; {gate}]"),
    }
}

/// Stream one answer to stdout (when `print`), returning what was shown and the reports.
/// From the start of the turn to its end, Ctrl-C cancels the turn rather than leaving.
pub(crate) fn stream_answer(
    session: &Session,
    messages: Vec<ChatMessage>,
    params: &GenerationParams,
    current: &Current,
    print: bool,
) -> Result<Answer, CliError> {
    let _turn = TurnUnderWay::begin(current);
    match session {
        Session::Plain(chat) => {
            let mut turn = chat.chat(messages, params.clone())?;
            set_current(current, turn.cancel_handle());
            let mut out = Printer::new(print);
            let result = loop {
                match turn.next_blocking() {
                    Some(TurnEvent::Chunk(chunk)) => out.push(&chunk),
                    Some(TurnEvent::Done(report)) => break Ok(*report),
                    Some(TurnEvent::Failed(e)) => break Err(CliError::Keel(e)),
                    None => {
                        break Err(CliError::Keel(keel::engine::EngineError::WorkerGone.into()))
                    }
                }
            };
            set_current(current, None);
            let text = out.finish();
            result.map(|report| Answer {
                text,
                report,
                personal: None,
                best_of: None,
            })
        }
        Session::Personal {
            chat,
            user,
            context,
            best_of,
        } if *best_of > 1 => {
            let (text, r) = best_of_turn(chat, user, context, messages, params, *best_of, current)?;
            if print {
                println!("{text}");
            }
            eprintln!("{}", best_of_line(&r));
            Ok(Answer {
                text,
                report: r.turn.turn.clone(),
                best_of: serde_json::to_value(&r.best_of).ok(),
                personal: Some(r.turn),
            })
        }
        Session::Personal {
            chat,
            user,
            context,
            ..
        } => {
            let (text, report) =
                personal_turn(chat, user, context, messages, params, current, print)?;
            Ok(Answer {
                text,
                report: report.turn.clone(),
                personal: Some(report),
                best_of: None,
            })
        }
    }
}

pub(crate) fn stream_answer_personal(
    chat: &PersonalChat,
    user: &str,
    context: &Option<ContextKey>,
    messages: Vec<ChatMessage>,
    params: &GenerationParams,
    current: &Current,
) -> Result<(String, PersonalReport), CliError> {
    let turn = TurnUnderWay::begin(current);
    let answer = personal_turn(chat, user, context, messages, params, current, true);
    drop(turn);
    let (text, report) = answer?;
    eprintln!("{}", status_line(&report.turn));
    Ok((text, report))
}

fn personal_turn(
    chat: &PersonalChat,
    user: &str,
    context: &Option<ContextKey>,
    messages: Vec<ChatMessage>,
    params: &GenerationParams,
    current: &Current,
    print: bool,
) -> Result<(String, PersonalReport), CliError> {
    let mut turn = chat
        .start(user, context.as_ref(), messages, params.clone())
        .map_err(personal_error)?;
    set_current(current, turn.cancel_handle());
    let mut out = Printer::new(print);
    let result = loop {
        match turn.next_blocking() {
            Some(PersonalEvent::Chunk(chunk)) => out.push(&chunk),
            Some(PersonalEvent::Done(report)) => break Ok(*report),
            Some(PersonalEvent::Failed(e)) => break Err(personal_error(e)),
            None => break Err(CliError::Keel(keel::engine::EngineError::WorkerGone.into())),
        }
    };
    set_current(current, None);
    let text = out.finish();
    result.map(|report| (text, report))
}

/// A best-of-n turn whose running candidate Ctrl-C cancels, as it cancels a streamed
/// answer; a cancelled best-of turn shows nothing and records nothing.
fn best_of_turn(
    chat: &PersonalChat,
    user: &str,
    context: &Option<ContextKey>,
    messages: Vec<ChatMessage>,
    params: &GenerationParams,
    n: u32,
    current: &Current,
) -> Result<(String, BestOfReport), CliError> {
    // Each candidate's handle stays current until the next one starts, so a Ctrl-C between
    // two candidates lands too and stops the turn before the next one runs.
    let mut go_on = |handle: Option<CancelHandle>| {
        let mut running = lock(current);
        if handle.is_some() {
            running.handle = handle;
        }
        !running.interrupted
    };
    let result = chat.best_of_with(
        user,
        context.as_ref(),
        messages,
        params.clone(),
        n,
        &mut go_on,
    );
    set_current(current, None);
    match result {
        Ok(answer) => Ok(answer),
        Err(PersonalError::Keel(keel::Error::Cancelled)) => Err(CliError::Usage(format!(
            "best of {n} cancelled: no answer was chosen and nothing was recorded"
        ))),
        Err(e) => Err(personal_error(e)),
    }
}

/// Make `handle` the generation Ctrl-C cancels; cancelled at once when Ctrl-C came while the
/// turn was being prepared.
fn set_current(current: &Current, handle: Option<CancelHandle>) {
    let mut running = lock(current);
    if let Some(h) = handle.as_ref() {
        if running.interrupted {
            h.cancel();
        }
    }
    running.handle = handle;
}

/// A turn under way, for Ctrl-C: begun when made, ended when dropped (on an early return too).
struct TurnUnderWay<'a>(&'a Current);

impl<'a> TurnUnderWay<'a> {
    fn begin(current: &'a Current) -> Self {
        let mut running = lock(current);
        running.busy = true;
        running.interrupted = false;
        Self(current)
    }
}

impl Drop for TurnUnderWay<'_> {
    fn drop(&mut self) {
        let mut running = lock(self.0);
        running.busy = false;
        running.handle = None;
    }
}

/// The running generation's slot; a panic elsewhere while holding it leaves it usable.
fn lock(current: &Current) -> std::sync::MutexGuard<'_, Running> {
    current
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Collects an answer's text, echoing it to stdout as it streams when asked to.
struct Printer {
    text: String,
    print: bool,
}

impl Printer {
    fn new(print: bool) -> Self {
        Self {
            text: String::new(),
            print,
        }
    }

    fn push(&mut self, chunk: &str) {
        if self.print {
            let mut stdout = std::io::stdout();
            let _ = stdout.write_all(chunk.as_bytes());
            let _ = stdout.flush();
        }
        self.text.push_str(chunk);
    }

    fn finish(self) -> String {
        if self.print {
            println!();
        }
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctrl_c_at_the_prompt_leaves_and_during_a_turn_interrupts_it() {
        let mut idle = Running::default();
        assert!(on_ctrl_c(&mut idle), "at the prompt, Ctrl-C leaves");
        let mut preparing = Running {
            busy: true,
            ..Running::default()
        };
        assert!(
            !on_ctrl_c(&mut preparing),
            "a turn being prepared is interrupted, the REPL stays"
        );
        assert!(preparing.interrupted);
    }

    #[test]
    fn between_the_start_and_the_end_of_a_turn_ctrl_c_interrupts_and_after_it_leaves() {
        let current: Current = Arc::default();
        let turn = TurnUnderWay::begin(&current);
        assert!(!on_ctrl_c(&mut lock(&current)));
        assert!(
            lock(&current).interrupted,
            "the turn sees it was interrupted"
        );
        drop(turn);
        let next = TurnUnderWay::begin(&current);
        assert!(!lock(&current).interrupted, "the next turn starts afresh");
        drop(next);
        assert!(
            on_ctrl_c(&mut lock(&current)),
            "at the prompt again, Ctrl-C leaves"
        );
    }
}
