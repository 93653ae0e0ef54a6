//! `keel eval`: offline evaluations. `keel eval prefs` compares personal preference learners
//! with the aggregated "average user" model on a simulated population, or on an external JSONL
//! file of per-person pairwise choices with `--pairs`. It prints a table, or one JSON object
//! with the global `--json`.

use std::path::PathBuf;

use keel::prefs::eval::external::{evaluate_jsonl, ExternalReport};
use keel::prefs::eval::simulated::{evaluate, SimConfig, SimReport};
use keel::prefs::learner::LearnerConfig;
use serde_json::json;

use crate::error::CliError;
use crate::globals::Globals;

/// `keel eval` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum EvalCmd {
    /// Personalized vs aggregated preference models: simulated population, or --pairs FILE.
    Prefs(PrefsEvalArgs),
    /// Learned concise and detailed profiles against a neutral one, on the real model.
    Steer(crate::steer_cmd::SteerEvalArgs),
    /// The safety classifier on the held-out corpora: recall and false-positive rates.
    Safety(crate::classifier_cmd::SafetyEvalArgs),
}

/// `keel eval prefs` arguments.
#[derive(Debug, clap::Args)]
pub struct PrefsEvalArgs {
    /// A JSONL file of per-person pairwise choices:
    /// {"user","context"?,"prompt","a","b","winner":"a"|"b"|"tie"} per line.
    #[arg(long, value_name = "FILE.jsonl")]
    pub pairs: Option<PathBuf>,
    /// Seed of the simulated population.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Also compute the Bayes-ideal ceiling (`ideal_acc`) from this many people drawn from the
    /// simulator (e.g. 20000; 30–60 s more on a 2-core machine). 0: off.
    #[arg(long, default_value_t = 0)]
    pub ideal_samples: usize,
}

/// Run a `keel eval` subcommand.
pub fn run(cmd: EvalCmd, g: &Globals) -> Result<(), CliError> {
    match cmd {
        EvalCmd::Prefs(args) => match &args.pairs {
            Some(path) => external(path, g),
            None => simulated(args.seed, args.ideal_samples, g),
        },
        EvalCmd::Steer(args) => crate::steer_cmd::run(args, g),
        EvalCmd::Safety(args) => crate::classifier_cmd::run_eval(args, g),
    }
}

fn simulated(seed: u64, ideal_samples: usize, g: &Globals) -> Result<(), CliError> {
    if !g.json {
        eprintln!("simulating 200 people with conflicting tastes (seed {seed})…");
    }
    let r = evaluate(&SimConfig {
        ideal_samples,
        ..SimConfig::standard(seed)
    });
    if g.json {
        println!("{}", simulated_json(&r));
        return Ok(());
    }
    println!(
        "held-out accuracy by events per person ({} people)",
        r.people
    );
    println!(
        "{:>8} {:>14} {:>14} {:>10} {:>10}",
        "events", "personalized", "aggregated", "oracle", "ideal"
    );
    for k in ["5", "10", "20", "50"] {
        let ideal = r
            .ideal_acc
            .get(k)
            .map_or("-".to_owned(), |x| format!("{x:.3}"));
        println!(
            "{k:>8} {:>14.3} {:>14.3} {:>10.3} {ideal:>10}",
            r.personalized_acc.get(k).copied().unwrap_or(f64::NAN),
            r.aggregated_acc.get(k).copied().unwrap_or(f64::NAN),
            r.oracle_acc.get(k).copied().unwrap_or(f64::NAN),
        );
    }
    match r.recovery_events {
        Some(n) => println!("recovery after a change of taste: {n} events"),
        None => println!(
            "recovery after a change of taste: not within {} events",
            r.recovery_curve.len().saturating_sub(1)
        ),
    }
    if let Some(n) = r.ideal_recovery_events {
        println!("the ideal, told when the taste changed, needs {n} events");
    }
    Ok(())
}

fn simulated_json(r: &SimReport) -> serde_json::Value {
    json!({
        "personalized_acc": r.personalized_acc,
        "aggregated_acc": r.aggregated_acc,
        "oracle_acc": r.oracle_acc,
        "ideal_acc": (!r.ideal_acc.is_empty()).then_some(&r.ideal_acc),
        "recovery_events": r.recovery_events,
        "recovery_curve": r.recovery_curve,
        "ideal_recovery_events": r.ideal_recovery_events,
        "people": r.people,
        "test_choices": r.test_choices,
    })
}

fn external(path: &PathBuf, g: &Globals) -> Result<(), CliError> {
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::io(format!("opening {}", path.display()), e))?;
    let r = evaluate_jsonl(std::io::BufReader::new(file), &LearnerConfig::default())
        .map_err(|e| CliError::io(format!("reading {}", path.display()), e))?;
    if r.test_pairs == 0 {
        return Err(CliError::Usage(format!(
            "{} has no person with two or more usable choices ({} bad lines, {} ties)",
            path.display(),
            r.bad_lines,
            r.ties
        )));
    }
    if g.json {
        println!("{}", external_json(&r));
        return Ok(());
    }
    println!("{:<20} {:>10}", "measure", "value");
    println!("{:<20} {:>10.3}", "personalized_acc", r.personalized_acc);
    println!("{:<20} {:>10.3}", "aggregated_acc", r.aggregated_acc);
    for (k, v) in [
        ("users", r.users),
        ("pairs", r.pairs),
        ("test_pairs", r.test_pairs),
        ("ties", r.ties),
        ("bad_lines", r.bad_lines),
    ] {
        println!("{k:<20} {v:>10}");
    }
    Ok(())
}

fn external_json(r: &ExternalReport) -> serde_json::Value {
    json!({
        "personalized_acc": r.personalized_acc,
        "aggregated_acc": r.aggregated_acc,
        "users": r.users,
        "pairs": r.pairs,
        "test_pairs": r.test_pairs,
        "ties": r.ties,
        "bad_lines": r.bad_lines,
    })
}
