//! `keel bundle ...` and `keel gate`: safety-bundle tooling. Argument parsing and printing
//! only; everything else is `keel::safety`.
//!
//! This file holds the arguments, the dispatch, `keel gate` and the file and date helpers;
//! `bundle_sign` makes keys, roots and bundles, `bundle_verify` checks and describes them.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use keel::safety::{BundleVerifier, Gate, OffsetDateTime, VerifyPolicy};
use time::format_description::well_known::Rfc3339;

use crate::bundle_sign::{keygen, make_root, sign, RootSpec};
use crate::bundle_verify::{inspect, load_root, verify};
use crate::error::CliError;
use crate::globals::Globals;

/// `keel bundle` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum BundleCmd {
    /// Train the safety classifier from labelled corpora and write its weights file.
    TrainClassifier(crate::classifier_cmd::TrainClassifierArgs),
    /// Make an Ed25519 key pair: DIR/NAME.key (private, mode 0600) and DIR/NAME.pub.
    Keygen {
        /// Directory for the key files.
        #[arg(long)]
        out: PathBuf,
        /// File name stem.
        #[arg(long, default_value = "signing")]
        name: String,
    },
    /// Make a trust root over public keys, signed by private keys (a threshold of its own,
    /// and for a rotation also a threshold of the previous root's keys).
    Root {
        /// Public key files (NAME.pub) of the new root.
        #[arg(long = "key", required = true, num_args = 1..)]
        keys: Vec<PathBuf>,
        /// How many distinct keys must sign a bundle (and the next root).
        #[arg(long)]
        threshold: usize,
        /// Root version (the first is 1; a rotation raises it by one).
        #[arg(long)]
        version: u64,
        /// Expiry: RFC 3339 or YYYY-MM-DD (UTC midnight).
        #[arg(long)]
        expires: String,
        /// Private key files that sign the root: a threshold of its own keys, plus a
        /// threshold of the previous root's keys when rotating.
        #[arg(long = "sign-with", required = true, num_args = 1..)]
        sign_with: Vec<PathBuf>,
        /// The previous root: check that the new one is a valid rotation of it.
        #[arg(long)]
        previous: Option<PathBuf>,
        /// Mark the root as a development root (its private keys are not secret).
        #[arg(long)]
        development: bool,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign rules.toml into a bundle.
    Sign {
        /// The rules source.
        #[arg(long)]
        rules: PathBuf,
        /// Private key files that sign.
        #[arg(long = "key", required = true, num_args = 1..)]
        keys: Vec<PathBuf>,
        /// Bundle version (must rise with every release).
        #[arg(long)]
        version: u64,
        /// Expiry: RFC 3339 or YYYY-MM-DD.
        #[arg(long)]
        expires: String,
        /// Issue time (default: now).
        #[arg(long)]
        issued: Option<String>,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify a bundle against a root; exits non-zero with the reason otherwise.
    Verify {
        /// The pinned root (default: the compiled-in development root).
        #[arg(long)]
        root: Option<PathBuf>,
        /// A newer root to rotate through (repeat, in order).
        #[arg(long = "rotate")]
        rotate: Vec<PathBuf>,
        /// The bundle file.
        file: PathBuf,
    },
    /// Show what a bundle or root file says (bundle signatures are NOT checked; use verify).
    Inspect {
        /// A bundle or root file.
        file: PathBuf,
    },
}

/// `keel gate` arguments.
#[derive(Debug, clap::Args)]
pub struct GateArgs {
    /// The pinned root (default: the compiled-in development root).
    #[arg(long)]
    root: Option<PathBuf>,
    /// The bundle (default: the compiled-in default bundle).
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// Feed stdin to the streaming gate in chunks of this many bytes (default: all at once).
    #[arg(long)]
    chunk: Option<usize>,
    /// Apply the input rules (the user's text) instead of the output rules.
    #[arg(long)]
    input: bool,
}

/// Run a `keel bundle` subcommand.
pub fn run_bundle(cmd: BundleCmd, g: &Globals) -> Result<(), CliError> {
    match cmd {
        BundleCmd::TrainClassifier(args) => crate::classifier_cmd::run_train(args, g),
        BundleCmd::Keygen { out, name } => keygen(&out, &name, g),
        BundleCmd::Root {
            keys,
            threshold,
            version,
            expires,
            sign_with,
            previous,
            development,
            out,
        } => {
            let spec = RootSpec {
                keys: &keys,
                threshold,
                version,
                expires: &expires,
                sign_with: &sign_with,
                previous: previous.as_deref(),
                development,
            };
            make_root(&spec, &out, g)
        }
        BundleCmd::Sign {
            rules,
            keys,
            version,
            expires,
            issued,
            out,
        } => sign(&rules, &keys, version, &expires, issued.as_deref(), &out, g),
        BundleCmd::Verify { root, rotate, file } => verify(root.as_deref(), &rotate, &file, g),
        BundleCmd::Inspect { file } => inspect(&file, g),
    }
}

pub(crate) fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::io(format!("reading {}", path.display()), e))
}

pub(crate) fn write(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|e| CliError::io(format!("writing {}", path.display()), e))
}

pub(crate) fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialize")
    );
}

pub(crate) fn parse_date(text: &str) -> Result<OffsetDateTime, CliError> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(t);
    }
    let fmt = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &fmt)
        .map(|d| d.midnight().assume_utc())
        .map_err(|_| {
            CliError::Usage(format!(
                "`{text}` is not a date: use YYYY-MM-DD or RFC 3339"
            ))
        })
}

pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("times format")
}

/// Run `keel gate`.
pub fn run_gate(args: GateArgs, _g: &Globals) -> Result<(), CliError> {
    let trust = load_root(args.root.as_deref(), &[])?;
    let bundle_bytes = match &args.bundle {
        Some(p) => read(p)?,
        None => keel::safety::verify::DEFAULT_BUNDLE_JSON.to_vec(),
    };
    let bundle = BundleVerifier::new(trust).check(&bundle_bytes, &VerifyPolicy::now())?;
    let gate = Gate::new(&bundle)?;
    let mut text = Vec::new();
    std::io::stdin()
        .read_to_end(&mut text)
        .map_err(|e| CliError::io("reading stdin", e))?;
    let (emitted, report) = if args.input {
        let verdict = gate.check_input(&String::from_utf8_lossy(&text));
        (verdict.text, verdict.report)
    } else {
        let mut out = gate.output();
        let mut emitted = String::new();
        let chunk = args.chunk.unwrap_or(text.len()).max(1);
        for piece in text.chunks(chunk) {
            emitted.push_str(&out.push_bytes(piece));
        }
        let (rest, report) = out.finish();
        emitted.push_str(&rest);
        (emitted, report)
    };
    let json = serde_json::json!({
        "verdict": report.verdict.as_str(),
        "emitted": emitted,
        "rules": report.rules,
        "bundle_digest": bundle.digest_hex(),
        "bundle_version": bundle.version(),
        "development_root": bundle.is_development_root(),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(
        stdout,
        "{}",
        serde_json::to_string_pretty(&json).expect("JSON values serialize")
    )
    .map_err(|e| CliError::io("writing stdout", e))
}
