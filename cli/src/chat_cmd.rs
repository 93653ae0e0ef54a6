//! `keel chat`: a REPL that streams answers (`/quit`, `/reset`), or one shot with `--prompt`.
//! Ctrl-C during an answer cancels that answer and the REPL stays usable; Ctrl-C at the
//! prompt leaves.

use std::io::{BufRead, Write};
use std::sync::{Arc, Mutex};

use keel::engine::{
    CancelHandle, ChatMessage, Engine, GenerationParams, GenerationReport, StreamEvent,
};

use crate::engine_args::{self, EngineArgs, SamplingArgs};
use crate::error::CliError;
use crate::globals::Globals;

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
}

/// The generation Ctrl-C should cancel, if one is streaming.
type Current = Arc<Mutex<Option<CancelHandle>>>;

/// Run `keel chat`.
pub fn run(args: ChatArgs, g: &Globals) -> Result<(), CliError> {
    let params = args.sampling.params();
    params.validate()?;
    let model = engine_args::resolve_model(g)?;
    let engine = engine_args::load_engine(&model, &args.engine)?;
    let mut conversation: Vec<ChatMessage> = args.system.iter().map(ChatMessage::system).collect();

    if let Some(prompt) = args.prompt {
        conversation.push(ChatMessage::user(prompt));
        let current: Current = Arc::default();
        install_ctrl_c(current.clone())?;
        let (text, report) = stream_answer(&engine, conversation, &params, &current, !g.json)?;
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
                engine.reset_cache()?;
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
        match stream_answer(&engine, attempt.clone(), &params, &current, true) {
            Ok((text, report)) => {
                eprintln!(
                    "[{} tokens, {:.1} tok/s, {} of {} prompt tokens reused{}]",
                    report.generated_tokens,
                    report.decode_tok_s,
                    report.reused_tokens,
                    report.prompt_tokens,
                    if report.finish == keel::engine::FinishReason::Cancelled {
                        ", cancelled"
                    } else {
                        ""
                    }
                );
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

/// Stream one answer to stdout (when `print`), returning its text and report.
fn stream_answer(
    engine: &Engine,
    messages: Vec<ChatMessage>,
    params: &GenerationParams,
    current: &Current,
    print: bool,
) -> Result<(String, GenerationReport), CliError> {
    let mut generation = engine.generate(messages, params.clone())?;
    if let Ok(mut c) = current.lock() {
        *c = Some(generation.cancel_handle());
    }
    let mut text = String::new();
    let mut stdout = std::io::stdout();
    let result = loop {
        match generation.next_blocking() {
            Some(StreamEvent::Chunk(chunk)) => {
                if print {
                    let _ = stdout.write_all(chunk.as_bytes());
                    let _ = stdout.flush();
                }
                text.push_str(&chunk);
            }
            Some(StreamEvent::Done(report)) => break Ok(report),
            Some(StreamEvent::Failed(e)) => break Err(e.into()),
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
