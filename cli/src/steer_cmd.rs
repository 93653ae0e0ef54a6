//! `keel eval steer`: learned profiles against the real model (see `keel::bench::steer`).

use keel::bench::steer::{self, SteerConfig, SteerReport};

use crate::engine_args::{self, EngineArgs};
use crate::error::CliError;
use crate::globals::Globals;

/// `keel eval steer` arguments.
#[derive(Debug, clap::Args)]
pub struct SteerEvalArgs {
    /// How many of the 20 evaluation prompts to answer per profile.
    #[arg(long, default_value_t = 20)]
    pub prompts: usize,
    /// The token budget before personalization.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: u32,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Run the steering evaluation and print it.
pub fn run(args: SteerEvalArgs, g: &Globals) -> Result<(), CliError> {
    let model = engine_args::resolve_model(g)?;
    let dir = g.home.join("eval");
    std::fs::create_dir_all(&dir).map_err(|e| CliError::io("create the eval folder", e))?;
    eprintln!(
        "teaching two people by feedback, then answering {} prompts for three profiles…",
        args.prompts
    );
    let report = steer::measure(
        &model,
        &SteerConfig {
            engine: args.engine.config(),
            max_tokens: args.max_tokens,
            prompts: args.prompts,
        },
        &dir,
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    if g.json {
        let v = serde_json::to_value(&report).map_err(|e| CliError::Usage(e.to_string()))?;
        println!("{v}");
    } else {
        print_table(&report);
    }
    Ok(())
}

fn print_table(r: &SteerReport) {
    println!(
        "{:<10} {:>12} {:>10} {:>12}",
        "profile", "mean tokens", "cut off", "repetition"
    );
    for (name, f) in [
        ("neutral", &r.neutral),
        ("concise", &r.concise),
        ("detailed", &r.detailed),
    ] {
        println!(
            "{name:<10} {:>12.1} {:>9.0}% {:>12.3}",
            f.mean_tokens,
            f.cut_off_share * 100.0,
            f.repetition
        );
    }
    println!(
        "concise/neutral {:.2}, detailed/neutral {:.2}, gate changes {} (on {} blocked requests and {} answers, {} of them blocked)",
        r.concise_ratio,
        r.detailed_ratio,
        r.gate_changes,
        r.blocked_requests,
        r.answers_judged,
        r.answers_blocked
    );
    if r.answers_blocked < r.answers_judged {
        println!(
            "warning: the bundle let through {} of the answers it should block; gate_changes does not count that",
            r.answers_judged - r.answers_blocked
        );
    }
    println!(
        "teaching: {} feedback events; {} rounds left out (an answer was blocked)",
        r.training_events, r.skipped_training
    );
    for (name, f) in [("concise", &r.concise), ("detailed", &r.detailed)] {
        for c in &f.cut_off {
            println!(
                "{name} cut off: {:?} ({}, {} tokens) …{}",
                c.prompt, c.finish, c.tokens, c.ending
            );
        }
    }
}
