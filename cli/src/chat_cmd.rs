//! `keel chat`: a REPL that streams answers (`/quit`, `/reset`), or one shot with `--prompt`.
//! Every answer passes the safety bundle's gate (the default bundle unless --bundle/--root or
//! --developer-mode). Ctrl-C during an answer cancels that answer and the REPL stays usable;
//! Ctrl-C at the prompt leaves.
//!
//! With `--user U` (and optionally `--context C`) answers are personalized from U's learned
//! preferences in the encrypted store (passphrase from KEEL_PASSPHRASE or a prompt), each turn
//! gets an id for `keel feedback`, and the REPL gains `/up`, `/down`, `/again` (a second
//! answer, then you pick one), `/why` (what shaped the last answer) and `/profile`, all in
//! [`crate::chat_personal`].

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};

use keel::engine::{CancelHandle, ChatMessage, GenerationParams};
use keel::prefs::{ContextKey, LearnerConfig, PopulationPrior};
use keel::runtime::{
    GatedChat, PersonalChat, PersonalEvent, PersonalReport, TurnEvent, TurnReport,
};
use keel::safety::{MemoryRollbackStore, VerifyPolicy};

use crate::chat_personal::{again, best_of_line, personal_line, rate, show_profile, why};
use crate::engine_args::{self, EngineArgs, SamplingArgs};
use crate::error::CliError;
use crate::globals::Globals;
use crate::safety_args::SafetyArgs;
use crate::store_cmd::{open_store, personal_error};

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
    /// Costs about N times the time; the answer is shown when all candidates are in.
    #[arg(long, requires = "user", default_value_t = 1)]
    pub best_of: u32,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub safety: SafetyArgs,
}

/// The generation Ctrl-C should cancel, if one is streaming.
pub(crate) type Current = Arc<Mutex<Option<CancelHandle>>>;

/// Who is served: anybody (no store), or one person by their preferences.
enum Session {
    Plain(GatedChat),
    Personal {
        chat: Box<PersonalChat>,
        user: String,
        context: Option<ContextKey>,
        best_of: u32,
    },
}

/// One answer as shown, with its reports.
struct Answer {
    text: String,
    report: TurnReport,
    personal: Option<PersonalReport>,
    /// What a best-of-n answer cost and how its candidates scored.
    best_of: Option<serde_json::Value>,
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

fn install_ctrl_c(current: Current) -> Result<(), CliError> {
    ctrlc::set_handler(move || {
        let streaming = current.lock().ok().and_then(|c| c.clone());
        match streaming {
            Some(handle) => handle.cancel(),
            None => std::process::exit(130),
        }
    })
    .map_err(|e| CliError::Usage(format!("could not install the Ctrl-C handler: {e}")))
}

/// One line about a finished turn, for stderr.
fn status_line(report: &TurnReport) -> String {
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
fn stream_answer(
    session: &Session,
    messages: Vec<ChatMessage>,
    params: &GenerationParams,
    current: &Current,
    print: bool,
) -> Result<Answer, CliError> {
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
            let (text, r) = chat
                .best_of(user, context.as_ref(), messages, params.clone(), *best_of)
                .map_err(personal_error)?;
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
    let (text, report) = personal_turn(chat, user, context, messages, params, current, true)?;
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

fn set_current(current: &Current, handle: Option<CancelHandle>) {
    if let Ok(mut c) = current.lock() {
        *c = handle;
    }
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
