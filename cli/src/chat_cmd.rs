//! `keel chat`: a REPL that streams answers (`/quit`, `/reset`), or one shot with `--prompt`.
//! Every answer passes the safety bundle's gate (the default bundle unless --bundle/--root or
//! --developer-mode). Ctrl-C during an answer cancels that answer and the REPL stays usable;
//! Ctrl-C at the prompt leaves.
//!
//! With `--user U` (and optionally `--context C`) answers are personalized from U's learned
//! preferences in the encrypted store (passphrase from KEEL_PASSPHRASE or a prompt), each turn
//! gets an id for `keel feedback`, and the REPL gains `/up`, `/down`, `/again` (a second
//! answer, then you pick one), `/why` (what shaped the last answer) and `/profile`, all in
//! [`crate::chat_personal`]. One answer (streaming, Ctrl-C, best-of) is
//! [`crate::chat_answer`]'s.

use std::io::{BufRead, Write};
use std::sync::Arc;

use keel::engine::ChatMessage;
use keel::prefs::{ContextKey, LearnerConfig, PopulationPrior};
use keel::runtime::{PersonalChat, PersonalReport, TurnReport};
use keel::safety::{MemoryRollbackStore, VerifyPolicy};

use crate::chat_answer::{install_ctrl_c, status_line, stream_answer, Current, Session};
use crate::chat_personal::{again, personal_line, rate, show_profile, why};
use crate::engine_args::{self, EngineArgs, SamplingArgs};
use crate::error::CliError;
use crate::globals::Globals;
use crate::safety_args::SafetyArgs;
use crate::store_access::{open_store, personal_error};

/// `keel chat` arguments.
#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// Ask one question, print the answer, and exit.
    #[arg(long)]
    pub prompt: Option<String>,
    /// A system message that opens the conversation.
    #[arg(long)]
    pub system: Option<String>,
    /// Personalize the answers for this person (their preferences in the encrypted store).
    #[arg(long)]
    pub user: Option<String>,
    /// The context of the conversation (e.g. "work", "cooking"); needs --user.
    #[arg(long, requires = "user")]
    pub context: Option<String>,
    /// Answer with the best of N candidates by the person's own model (1 to 8; needs --user).
    /// Costs about N times the time; the answer is shown when all candidates are in. Ctrl-C
    /// cancels the turn (nothing is shown or recorded) and the REPL stays usable.
    #[arg(long, requires = "user", default_value_t = 1)]
    pub best_of: u32,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub safety: SafetyArgs,
}

/// The last personalized answer, for /up, /down, /again and /why.
pub(crate) struct Last {
    pub(crate) messages: Vec<ChatMessage>,
    pub(crate) report: PersonalReport,
    /// Whether the answer is the conversation's last message (a blocked turn is not kept).
    pub(crate) in_history: bool,
}

/// Run `keel chat`.
pub fn run(args: ChatArgs, g: &Globals) -> Result<(), CliError> {
    let params = args.sampling.params();
    params.validate()?;
    let model = engine_args::resolve_model(g)?;
    let engine = engine_args::load_engine(&model, &args.engine)?;
    let session = match &args.user {
        None => Session::Plain(args.safety.gated(engine)?),
        Some(user) => {
            let context = args
                .context
                .clone()
                .map(ContextKey::new)
                .transpose()
                .map_err(|e| CliError::Usage(e.to_string()))?;
            let store = open_store(&g.home, true)?
                .ok_or_else(|| CliError::Usage("the store could not be created".into()))?;
            let slot = args
                .safety
                .choice()?
                .load(&VerifyPolicy::now(), &MemoryRollbackStore::default())?;
            let chat = PersonalChat::new(
                Arc::new(engine),
                slot,
                Arc::new(store),
                PopulationPrior::neutral(0),
                LearnerConfig::default(),
            )
            .map_err(personal_error)?;
            Session::Personal {
                chat: Box::new(chat),
                user: user.clone(),
                context,
                best_of: args.best_of,
            }
        }
    };
    let mut conversation: Vec<ChatMessage> = args.system.iter().map(ChatMessage::system).collect();
    let current: Current = Arc::default();
    install_ctrl_c(current.clone())?;

    if let Some(prompt) = args.prompt {
        conversation.push(ChatMessage::user(prompt));
        let answer = stream_answer(&session, conversation, &params, &current, !g.json)?;
        if g.json {
            println!(
                "{}",
                serde_json::json!({"text": answer.text, "report": answer.report, "personal": answer.personal, "best_of": answer.best_of})
            );
        } else if let Some(p) = &answer.personal {
            eprintln!("{}", personal_line(p));
        }
        return Ok(());
    }

    let personal_help = if matches!(session, Session::Personal { .. }) {
        " /up, /down rate the last answer; /again asks for another; /why, /profile explain;"
    } else {
        ""
    };
    eprintln!(
        "keel chat: {} — type a message;{personal_help} /reset starts over, /quit leaves.",
        model.display()
    );
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut last: Option<Last> = None;
    let mut regenerations = 0u32;
    loop {
        eprint!("> ");
        let _ = std::io::stderr().flush();
        let Some(line) = lines.next() else { break };
        let line = line.map_err(|e| CliError::io("read the prompt", e))?;
        let line = line.trim();
        match line {
            "" => continue,
            "/quit" | "/exit" => break,
            "/reset" => {
                conversation.retain(|m| m.role == keel::engine::Role::System);
                engine_of(&session).reset_cache()?;
                last = None;
                eprintln!("(conversation cleared)");
                continue;
            }
            "/up" | "/down" | "/why" | "/profile" | "/again" => {
                let Session::Personal {
                    chat,
                    user,
                    context,
                    ..
                } = &session
                else {
                    eprintln!("{line} needs --user: start `keel chat --user NAME`");
                    continue;
                };
                let result = match line {
                    "/up" | "/down" => rate(chat, user, context, last.as_ref(), line == "/up"),
                    "/why" => {
                        why(last.as_ref());
                        Ok(())
                    }
                    "/profile" => show_profile(chat, user, context.as_ref()),
                    _ => {
                        regenerations += 1;
                        again(
                            chat,
                            user,
                            context,
                            &mut last,
                            &mut conversation,
                            &params,
                            regenerations,
                            &current,
                            &mut lines,
                        )
                    }
                };
                if let Err(e) = result {
                    eprintln!("keel: error: {e}");
                }
                continue;
            }
            _ if line.starts_with('/') => {
                eprintln!(
                    "unknown command {line}; commands: /reset, /quit{}",
                    if personal_help.is_empty() {
                        ""
                    } else {
                        ", /up, /down, /again, /why, /profile"
                    }
                );
                continue;
            }
            _ => {}
        }
        let mut attempt = conversation.clone();
        attempt.push(ChatMessage::user(line));
        match stream_answer(&session, attempt.clone(), &params, &current, true) {
            Ok(answer) => {
                eprintln!("{}", status_line(&answer.report));
                let reply = history_reply(&answer.text, &answer.report);
                let in_history = reply.is_some();
                if let Some(reply) = reply {
                    conversation = attempt.clone();
                    conversation.push(ChatMessage::assistant(reply));
                }
                last = answer.personal.map(|report| {
                    eprintln!("{}", personal_line(&report));
                    Last {
                        messages: attempt,
                        report,
                        in_history,
                    }
                });
            }
            Err(e) => eprintln!("keel: error: {e}"),
        }
    }
    Ok(())
}

/// What of an answer the next turns should see as the assistant's message: nothing for a
/// blocked turn (neither the person's blocked text nor the refusal is kept), and the answer
/// without the input gate's notice, which was shown to the person only.
pub(crate) fn history_reply(text: &str, report: &TurnReport) -> Option<String> {
    if report.verdict == keel::safety::Verdict::Block {
        return None;
    }
    let text = match &report.input_notice {
        Some(notice) => text.strip_prefix(notice.as_str()).unwrap_or(text),
        None => text,
    };
    Some(text.to_owned())
}

fn engine_of(session: &Session) -> &keel::engine::Engine {
    match session {
        Session::Plain(chat) => chat.engine(),
        Session::Personal { chat, .. } => chat.gated().engine(),
    }
}
