//! `keel chat`: a REPL that streams answers (`/quit`, `/reset`), or one shot with `--prompt`.
//! Every answer passes the safety bundle's gate (the default bundle unless --bundle/--root or
//! --developer-mode). Ctrl-C during an answer cancels that answer and the REPL stays usable;
//! Ctrl-C at the prompt leaves.

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};

use keel::engine::{CancelHandle, ChatMessage, GenerationParams};
use keel::runtime::{GatedChat, TurnEvent, TurnReport};

use crate::engine_args::{self, EngineArgs, SamplingArgs};
use crate::error::CliError;
use crate::globals::Globals;
use crate::safety_args::SafetyArgs;

/// `keel chat` arguments.
#[derive(Debug, clap::Args)]
pub struct ChatArgs {
    /// Ask one question, print the answer, and exit.
    #[arg(long)]
    pub prompt: Option<String>,
    /// A system message that opens the conversation.
    #[arg(long)]
    pub system: Option<String>,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub sampling: SamplingArgs,
    #[command(flatten)]
    pub safety: SafetyArgs,
}

/// The generation Ctrl-C should cancel, if one is streaming.
type Current = Arc<Mutex<Option<CancelHandle>>>;

/// Run `keel chat`.
pub fn run(args: ChatArgs, g: &Globals) -> Result<(), CliError> {
    let params = args.sampling.params();
    params.validate()?;
    let model = engine_args::resolve_model(g)?;
    let chat = args
        .safety
        .gated(engine_args::load_engine(&model, &args.engine)?)?;
    let mut conversation: Vec<ChatMessage> = args.system.iter().map(ChatMessage::system).collect();

    if let Some(prompt) = args.prompt {
        conversation.push(ChatMessage::user(prompt));
        let current: Current = Arc::default();
        install_ctrl_c(current.clone())?;
        let (text, report) = stream_answer(&chat, conversation, &params, &current, !g.json)?;
        if g.json {
            println!("{}", serde_json::json!({"text": text, "report": report}));
        }
        return Ok(());
    }

    let current: Current = Arc::default();
    install_ctrl_c(current.clone())?;
    eprintln!(
        "keel chat: {} — type a message; /reset starts over, /quit leaves.",
        model.display()
    );
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
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
                chat.engine().reset_cache()?;
                eprintln!("(conversation cleared)");
                continue;
            }
            _ if line.starts_with('/') => {
                eprintln!("unknown command {line}; commands: /reset, /quit");
                continue;
            }
            _ => {}
        }
        let mut attempt = conversation.clone();
        attempt.push(ChatMessage::user(line));
        match stream_answer(&chat, attempt.clone(), &params, &current, true) {
            Ok((text, report)) => {
                eprintln!("{}", status_line(&report));
                conversation = attempt;
                conversation.push(ChatMessage::assistant(text));
            }
            Err(e) => eprintln!("keel: error: {e}"),
        }
    }
    Ok(())
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

/// Stream one gated answer to stdout (when `print`), returning what was shown and the report.
fn stream_answer(
    chat: &GatedChat,
    messages: Vec<ChatMessage>,
    params: &GenerationParams,
    current: &Current,
    print: bool,
) -> Result<(String, TurnReport), CliError> {
    let mut turn = chat.chat(messages, params.clone())?;
    if let Ok(mut c) = current.lock() {
        *c = turn.cancel_handle();
    }
    let mut text = String::new();
    let mut stdout = std::io::stdout();
    let result = loop {
        match turn.next_blocking() {
            Some(TurnEvent::Chunk(chunk)) => {
                if print {
                    let _ = stdout.write_all(chunk.as_bytes());
                    let _ = stdout.flush();
                }
                text.push_str(&chunk);
            }
            Some(TurnEvent::Done(report)) => break Ok(*report),
            Some(TurnEvent::Failed(e)) => break Err(CliError::Keel(e)),
            None => break Err(CliError::Keel(keel::engine::EngineError::WorkerGone.into())),
        }
    };
    if let Ok(mut c) = current.lock() {
        *c = None;
    }
    if print {
        println!();
    }
    result.map(|report| (text, report))
}
