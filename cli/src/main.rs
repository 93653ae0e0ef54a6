//! `keel`: the command-line front end. It parses arguments, calls the `keel` library and
//! prints; it holds no logic of its own beyond that.

mod bench_cmd;
mod bundle_cmd;
mod bundle_sign;
mod bundle_verify;
mod chat_answer;
mod chat_cmd;
mod chat_personal;
mod classifier_cmd;
mod demo_cmd;
mod engine_args;
mod error;
mod eval_cmd;
mod globals;
mod model_cmd;
mod profile_edit;
mod profile_show;
mod progress;
mod safety_args;
mod serve;
mod status_cmd;
mod steer_cmd;
mod store_access;
mod store_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::error::CliError;
use crate::globals::Globals;

/// Keel: a private, personalized, safety-gated local assistant.
#[derive(Debug, Parser)]
#[command(name = "keel", version, about)]
struct Cli {
    /// Directory for all of Keel's state (models, store, keys). Default: the user's data
    /// directory, e.g. ~/.local/share/keel.
    #[arg(long, global = true, env = "KEEL_HOME")]
    home: Option<PathBuf>,
    /// A GGUF model file to use instead of the default model.
    #[arg(long, global = true, env = "KEEL_MODEL")]
    model: Option<PathBuf>,
    /// Print data as JSON.
    #[arg(long, global = true)]
    json: bool,
    /// More logging (-v: debug, -vv: trace). Logs go to stderr.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The main job: load the model and stream answers to a few prompts, saying what happens.
    Demo(demo_cmd::DemoArgs),
    /// Chat with the local model (a REPL that streams; --prompt for one shot).
    Chat(chat_cmd::ChatArgs),
    /// Show the model, the safety bundle and its signing root, and the store in use.
    Status(status_cmd::StatusArgs),
    /// Fetch or describe the model file.
    #[command(subcommand)]
    Model(model_cmd::ModelCmd),
    /// Offline evaluations (personalized vs aggregated preference models).
    #[command(subcommand)]
    Eval(eval_cmd::EvalCmd),
    /// Measure Keel against raw llama.cpp in one process.
    Bench(bench_cmd::BenchArgs),
    /// Make, sign, verify and inspect safety bundles.
    #[command(subcommand)]
    Bundle(bundle_cmd::BundleCmd),
    /// Run text from stdin through the streaming safety gate.
    Gate(bundle_cmd::GateArgs),
    /// Show, export, import or forget a person's profile.
    #[command(subcommand)]
    Profile(store_cmd::ProfileCmd),
    /// Record feedback or a stated preference for a person.
    Feedback(store_cmd::FeedbackArgs),
    /// Serve Keel as a local OpenAI-compatible API (bearer token) with a chat page at `/`.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keel: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8) {
    // llama.cpp's own log (target `llama-cpp-2`) is noisy; it shows from -v on.
    let level = match verbose {
        0 => "warn,llama-cpp-2=off",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEEL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn run(cli: Cli) -> Result<(), CliError> {
    let home = keel::home::resolve(cli.home.as_deref())?;
    let g = Globals {
        home,
        model: cli.model,
        json: cli.json,
    };
    match cli.command {
        Command::Demo(a) => demo_cmd::run(a, &g),
        Command::Chat(a) => chat_cmd::run(a, &g),
        Command::Status(a) => status_cmd::run(a, &g),
        Command::Model(c) => model_cmd::run(c, &g),
        Command::Eval(c) => eval_cmd::run(c, &g),
        Command::Bench(a) => bench_cmd::run(a, &g),
        Command::Bundle(c) => bundle_cmd::run_bundle(c, &g),
        Command::Gate(a) => bundle_cmd::run_gate(a, &g),
        Command::Profile(c) => store_cmd::run_profile(c, &g),
        Command::Feedback(a) => store_cmd::run_feedback(a, &g),
        Command::Serve(a) => serve::run(a, &g),
    }
}
