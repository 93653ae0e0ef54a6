//! `keel demo`, the main job: set up the model, load it, and stream answers to a few fixed
//! prompts, saying at each step what happens and what it cost.

use std::io::Write;

use keel::engine::{ChatMessage, Engine, GenerationParams, StreamEvent};

use crate::engine_args::{self, EngineArgs};
use crate::error::CliError;
use crate::globals::Globals;

/// `keel demo` arguments.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Most tokens per answer.
    #[arg(long, default_value_t = 96)]
    pub max_tokens: u32,
    #[command(flatten)]
    pub engine: EngineArgs,
}

const PROMPTS: [&str; 3] = [
    "In two sentences, what is a lighthouse for?",
    "Give me three tips for sleeping better.",
    "What is the capital of France?",
];
const FOLLOW_UP: &str = "And what is it famous for?";

/// Run the demo.
pub fn run(args: DemoArgs, g: &Globals) -> Result<(), CliError> {
    println!("Keel demo — everything below runs on this machine; nothing leaves it.\n");
    println!("1. Finding the model (the default model is fetched once and its SHA-256 checked)…");
    let model = engine_args::resolve_model(g)?;
    println!("   {}", model.display());
    println!("2. Loading it with llama.cpp on a worker thread…");
    let started = std::time::Instant::now();
    let engine = engine_args::load_engine(&model, &args.engine)?;
    let info = engine.info();
    println!(
        "   {} — {} parameters, context {} tokens, {} threads, loaded in {:.0} ms",
        info.name.as_deref().unwrap_or("model"),
        info.params,
        info.n_ctx,
        info.threads,
        started.elapsed().as_secs_f64() * 1000.0
    );
    println!("3. Streaming answers (greedy decoding, so every run gives the same text):\n");
    let params = GenerationParams::greedy(args.max_tokens);
    for prompt in PROMPTS {
        ask(&engine, vec![ChatMessage::user(prompt)], prompt, &params)?;
    }
    println!("4. A follow-up turn: the conversation so far stays in the KV cache, so only the new tokens are evaluated.\n");
    let first = vec![ChatMessage::user(PROMPTS[2])];
    let (answer, _) = engine
        .generate(first.clone(), params.clone())?
        .collect_blocking()?;
    let mut conversation = first;
    conversation.push(ChatMessage::assistant(answer));
    conversation.push(ChatMessage::user(FOLLOW_UP));
    ask(&engine, conversation, FOLLOW_UP, &params)?;
    println!("Done. Try `keel chat` for a conversation of your own.");
    Ok(())
}

fn ask(
    engine: &Engine,
    messages: Vec<ChatMessage>,
    shown: &str,
    params: &GenerationParams,
) -> Result<(), CliError> {
    println!("you> {shown}");
    print!("keel> ");
    let mut stdout = std::io::stdout();
    let _ = stdout.flush();
    let mut generation = engine.generate(messages, params.clone())?;
    while let Some(event) = generation.next_blocking() {
        match event {
            StreamEvent::Chunk(text) => {
                let _ = stdout.write_all(text.as_bytes());
                let _ = stdout.flush();
            }
            StreamEvent::Done(r) => {
                println!(
                    "\n      [{} tokens at {:.1} tok/s; first token after {:.0} ms; prompt {} tokens, {} reused from cache, {} evaluated; ended: {:?}]\n",
                    r.generated_tokens, r.decode_tok_s, r.ttft_ms, r.prompt_tokens, r.reused_tokens, r.evaluated_tokens, r.finish
                );
            }
            StreamEvent::Failed(e) => return Err(e.into()),
        }
    }
    Ok(())
}
