//! `keel bundle train-classifier` and `keel eval safety`: train the learned safety classifier
//! on the public corpora (fixed seed: the same data gives the same model file) and report its
//! precision, recall and false-positive rate per source on the validation split, with the
//! time per check. The data is read where it lies (`--data`, `KEEL_SAFETY_DATA`, or
//! `<repo>/../shared/data`); nothing is copied.

use std::path::{Path, PathBuf};

use keel::safety::classifier::data::{self, Example, Split};
use keel::safety::classifier::eval::{evaluate, evaluate_split, SafetyEval};
use keel::safety::classifier::train::{train, ModelFile, TrainConfig};
use keel::safety::classifier::Classifier;

use crate::error::CliError;
use crate::globals::Globals;

/// `keel bundle train-classifier` arguments.
#[derive(Debug, clap::Args)]
pub struct TrainClassifierArgs {
    /// The folder holding `safety/` and `benign/`.
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Where to write the model file (JSON: quantized weights and thresholds).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Shuffle seed.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
}

/// `keel eval safety` arguments.
#[derive(Debug, clap::Args)]
pub struct SafetyEvalArgs {
    /// The folder holding `safety/` and `benign/` (default: KEEL_SAFETY_DATA, else
    /// <repo>/../shared/data).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// A model file from `keel bundle train-classifier` (default: train one now, same seed).
    #[arg(long = "classifier", value_name = "FILE")]
    pub classifier: Option<PathBuf>,
    /// Report on the calibration split instead of the validation split: for comparing
    /// training settings, which must never be chosen on validation.
    #[arg(long)]
    pub calibration: bool,
}

fn load(dir: &Path) -> Result<Vec<Example>, CliError> {
    data::load(dir).map_err(|e| CliError::Usage(e.to_string()))
}

/// Run `keel bundle train-classifier`.
pub fn run_train(args: TrainClassifierArgs, g: &Globals) -> Result<(), CliError> {
    let examples = load(&args.data)?;
    let cfg = TrainConfig {
        seed: args.seed,
        ..TrainConfig::default()
    };
    let trained = train(&examples, &cfg).map_err(|e| CliError::Usage(e.to_string()))?;
    let text = serde_json::to_string(&trained.to_file()).expect("a model file serializes");
    std::fs::write(&args.out, &text)
        .map_err(|e| CliError::io(format!("writing {}", args.out.display()), e))?;
    if g.json {
        let summary = serde_json::json!({
            "out": args.out.display().to_string(),
            "bytes": text.len(),
            "thresholds": trained.thresholds,
            "config": cfg,
        });
        println!("{summary}");
    } else {
        println!(
            "wrote {} ({} bytes); thresholds: request {:.2}, answer {:.2}",
            args.out.display(),
            text.len(),
            trained.thresholds.request,
            trained.thresholds.answer
        );
    }
    Ok(())
}

/// Run `keel eval safety`.
pub fn run_eval(args: SafetyEvalArgs, g: &Globals) -> Result<(), CliError> {
    let dir = match args.data {
        Some(d) => d,
        None => data::default_dir().ok_or_else(|| {
            CliError::Usage(format!(
                "no safety data found; pass --data DIR or set {}",
                data::DATA_ENV
            ))
        })?,
    };
    let examples = load(&dir)?;
    let (classifier, thresholds) = match args.classifier {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| CliError::io(format!("reading {}", path.display()), e))?;
            let file: ModelFile = serde_json::from_str(&text).map_err(|_| {
                CliError::Usage("the classifier file is not a model file".to_owned())
            })?;
            let c =
                Classifier::from_spec(&file.model).map_err(|e| CliError::Usage(e.to_string()))?;
            (c, file.thresholds)
        }
        None => {
            let t = train(&examples, &TrainConfig::default())
                .map_err(|e| CliError::Usage(e.to_string()))?;
            (t.classifier, t.thresholds)
        }
    };
    let report = if args.calibration {
        evaluate_split(&classifier, thresholds, &examples, Split::Calibration)
    } else {
        evaluate(&classifier, thresholds, &examples)
    };
    if g.json {
        println!(
            "{}",
            serde_json::to_string(&report).expect("a report serializes")
        );
    } else {
        print_table(&report, args.calibration);
    }
    Ok(())
}

fn print_table(r: &SafetyEval, calibration: bool) {
    let f = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |v| format!("{v:.3}"));
    println!(
        "{} split; thresholds request {:.2}, answer {:.2}",
        if calibration {
            "calibration"
        } else {
            "validation"
        },
        r.thresholds.request,
        r.thresholds.answer
    );
    println!(
        "{:<24} {:>5} {:>5} {:>9} {:>7} {:>7}",
        "source", "n", "pos", "precision", "recall", "fpr"
    );
    for (name, m) in &r.sources {
        println!(
            "{:<24} {:>5} {:>5} {:>9} {:>7} {:>7}",
            name,
            m.n,
            m.positives,
            f(m.precision),
            f(m.recall),
            f(m.fpr)
        );
    }
    let groups = r.groups.iter().map(|(g, m)| (format!("{g:?}"), m));
    let overall = r.overall.iter().map(|(k, m)| ((*k).to_owned(), m));
    for (name, m) in groups.chain(overall) {
        println!(
            "{:<24} {:>5} {:>5} {:>9} {:>7} {:>7}",
            name,
            m.n,
            m.positives,
            f(m.precision),
            f(m.recall),
            f(m.fpr)
        );
    }
    println!(
        "classifier_us {:.1}; model {} bytes",
        r.classifier_us, r.model_bytes
    );
    print_curve(r);
}

/// The operating curve: the share of each group flagged at each threshold.
fn print_curve(r: &SafetyEval) {
    let Some(first) = r.curve.first() else {
        return;
    };
    let groups: Vec<_> = first.flagged.keys().collect();
    let names: Vec<String> = groups.iter().map(|g| format!("{g:?}")).collect();
    println!("share flagged by threshold (recall for harmful groups, FPR for the others):");
    println!("{:<9} {}", "threshold", names.join(" "));
    for p in &r.curve {
        let cells: Vec<String> = groups
            .iter()
            .zip(&names)
            .map(|(g, n)| {
                format!(
                    "{:>w$.3}",
                    p.flagged.get(*g).copied().unwrap_or(0.0),
                    w = n.len()
                )
            })
            .collect();
        println!("{:<9.2} {}", p.threshold, cells.join(" "));
    }
}
