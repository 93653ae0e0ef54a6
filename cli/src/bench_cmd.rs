//! `keel bench`: measure Keel against its baselines in one process and print a table, or one
//! JSON object with `--json`.

use keel::bench::{self, decode::DecodeBenchConfig};
use serde_json::{Map, Value};

use crate::engine_args::{self, EngineArgs};
use crate::error::CliError;
use crate::globals::Globals;

/// `keel bench` arguments.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Interleaved repetitions per side.
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    /// Tokens generated per decode run.
    #[arg(long, default_value_t = 64)]
    pub tokens: usize,
    /// Skip the model benchmarks (store and gate only).
    #[arg(long)]
    pub no_model: bool,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Run the benchmarks.
pub fn run(args: BenchArgs, g: &Globals) -> Result<(), CliError> {
    let mut out = Map::new();
    if !args.no_model {
        let model = engine_args::resolve_model(g)?;
        eprintln!(
            "measuring decode: raw llama-cpp-2 vs Keel, {} interleaved reps…",
            args.reps
        );
        let report = bench::decode::measure(&DecodeBenchConfig {
            model,
            engine: args.engine.config(),
            tokens: args.tokens,
            reps: args.reps,
        })?;
        merge(&mut out, &report)?;
    }
    if !out.contains_key("rss_mb") {
        out.insert("rss_mb".into(), Value::from(bench::rss_mb()));
    }
    extra_benchmarks(&mut out, g)?;
    if g.json {
        println!("{}", Value::Object(out));
    } else {
        println!("{:<28} {:>14}", "measure", "value");
        for (k, v) in &out {
            let shown = match v.as_f64() {
                Some(f) if v.is_f64() => format!("{f:.3}"),
                _ => v.to_string(),
            };
            println!("{k:<28} {shown:>14}");
        }
    }
    Ok(())
}

/// Add every field of `report` to `out`.
fn merge(out: &mut Map<String, Value>, report: &impl serde::Serialize) -> Result<(), CliError> {
    match serde_json::to_value(report) {
        Ok(Value::Object(fields)) => {
            out.extend(fields);
            Ok(())
        }
        Ok(_) => Err(CliError::Usage(
            "a benchmark report is not an object".into(),
        )),
        Err(e) => Err(CliError::Usage(format!(
            "could not serialise a benchmark report: {e}"
        ))),
    }
}

/// The store, gate and learner benchmarks, each against its own baseline in this process.
fn extra_benchmarks(out: &mut Map<String, Value>, g: &Globals) -> Result<(), CliError> {
    let dir = g.home.join("bench");
    std::fs::create_dir_all(&dir).map_err(|e| CliError::io("create the bench folder", e))?;
    eprintln!("measuring the store: sealed vs plain SQLite commits…");
    merge(out, &bench::store::measure(&dir, 500)?)?;
    eprintln!("measuring the safety gate and bundle verification…");
    merge(out, &bench::gate::run()?)?;
    eprintln!("measuring the preference learner…");
    merge(out, &bench::learner::measure())?;
    eprintln!("measuring the safety classifier…");
    merge(out, &bench::classifier::run())?;
    Ok(())
}
