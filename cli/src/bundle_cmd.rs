//! `keel bundle ...` and `keel gate`: safety-bundle tooling. Argument parsing and printing
//! only; everything else is `keel::safety`.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use keel::safety::envelope::Envelope;
use keel::safety::keys::{generate_key_files, PublicKey, SigningKey};
use keel::safety::payload::{BundlePayload, RulesFile, BUNDLE_PAYLOAD_TYPE};
use keel::safety::rules::RuleSet;
use keel::safety::trust::{RootPayload, ROOT_PAYLOAD_TYPE};
use keel::safety::{
    default_root, BundleVerifier, Gate, OffsetDateTime, TrustRoot, VerifiedBundle, VerifyPolicy,
};
use time::format_description::well_known::Rfc3339;

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

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::io(format!("reading {}", path.display()), e))
}

fn write(path: &Path, text: &str) -> Result<(), CliError> {
    std::fs::write(path, text).map_err(|e| CliError::io(format!("writing {}", path.display()), e))
}

fn print_json(value: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("JSON values serialize")
    );
}

fn parse_date(text: &str) -> Result<OffsetDateTime, CliError> {
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

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("times format")
}

fn keygen(out: &Path, name: &str, g: &Globals) -> Result<(), CliError> {
    let made = generate_key_files(out, name)?;
    if g.json {
        print_json(&serde_json::json!({
            "keyid": made.key_id.to_string(),
            "private_key": made.private_path,
            "public_key": made.public_path,
        }));
    } else {
        println!("key id       {}", made.key_id);
        println!(
            "private key  {} (mode 0600; keep it offline)",
            made.private_path.display()
        );
        println!("public key   {}", made.public_path.display());
    }
    Ok(())
}

/// What `keel bundle root` was asked to make.
struct RootSpec<'a> {
    keys: &'a [PathBuf],
    threshold: usize,
    version: u64,
    expires: &'a str,
    sign_with: &'a [PathBuf],
    previous: Option<&'a Path>,
    development: bool,
}

fn make_root(spec: &RootSpec<'_>, out: &Path, g: &Globals) -> Result<(), CliError> {
    let public = spec
        .keys
        .iter()
        .map(|p| PublicKey::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let signers = spec
        .sign_with
        .iter()
        .map(|p| SigningKey::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let signer_refs: Vec<&SigningKey> = signers.iter().collect();
    let payload = RootPayload::new(
        &public,
        spec.threshold,
        spec.version,
        parse_date(spec.expires)?,
        spec.development,
    );
    let text = payload.sign(&signer_refs).to_json();
    // Check before writing: self-signed to threshold, and a valid rotation when asked.
    let root = match spec.previous {
        Some(prev) => TrustRoot::from_pinned(&read(prev)?)?.rotate(text.as_bytes())?,
        None => TrustRoot::from_pinned(text.as_bytes())?,
    };
    write(out, &text)?;
    if g.json {
        print_json(&root_json(&root));
    } else {
        println!("wrote {}", out.display());
        print_root(&root);
    }
    Ok(())
}

fn sign(
    rules: &Path,
    keys: &[PathBuf],
    version: u64,
    expires: &str,
    issued: Option<&str>,
    out: &Path,
    g: &Globals,
) -> Result<(), CliError> {
    let text = String::from_utf8(read(rules)?)
        .map_err(|_| CliError::Usage("rules.toml is not UTF-8".into()))?;
    let issued = match issued {
        Some(t) => parse_date(t)?,
        None => OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .expect("zero nanoseconds is valid"),
    };
    let mut file = RulesFile::from_toml(&text)?;
    // A classifier rule's `model_file` is relative to rules.toml; its weights go inline.
    file.inline_model_files(rules.parent().unwrap_or_else(|| Path::new(".")))?;
    let payload = file.into_payload(version, issued, parse_date(expires)?)?;
    // Compile the matchers now so that a bad rule fails here, not on a device.
    RuleSet::compile(&payload, true)?;
    RuleSet::compile(&payload, false)?;
    let signers = keys
        .iter()
        .map(|p| SigningKey::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let signer_refs: Vec<&SigningKey> = signers.iter().collect();
    let envelope = payload.sign(&signer_refs)?;
    write(out, &envelope.to_json())?;
    let digest = hex::encode(envelope.payload_digest());
    if g.json {
        print_json(&serde_json::json!({
            "digest": digest,
            "version": version,
            "expires": payload.expires,
            "rules": payload.rule_counts(),
        }));
    } else {
        println!(
            "wrote {} (version {version}, digest {digest})",
            out.display()
        );
    }
    Ok(())
}

fn load_root(root: Option<&Path>, rotate: &[PathBuf]) -> Result<TrustRoot, CliError> {
    let mut trust = match root {
        Some(p) => TrustRoot::from_pinned(&read(p)?)?,
        None => default_root()?,
    };
    for next in rotate {
        trust = trust.rotate(&read(next)?)?;
    }
    Ok(trust)
}

fn root_json(root: &TrustRoot) -> serde_json::Value {
    serde_json::json!({
        "root_fingerprint": root.fingerprint(),
        "root_version": root.version(),
        "root_expires": rfc3339(root.expires()),
        "threshold": root.threshold(),
        "keys": root.keys().iter().map(|k| k.key_id.to_string()).collect::<Vec<_>>(),
        "development_root": root.is_development(),
    })
}

fn print_root(root: &TrustRoot) {
    println!("root fingerprint  {}", root.fingerprint());
    println!(
        "root version      {} (expires {})",
        root.version(),
        rfc3339(root.expires())
    );
    println!(
        "threshold         {} of {} keys",
        root.threshold(),
        root.keys().len()
    );
    if root.is_development() {
        println!(
            "WARNING           development root: its private keys are not secret; do not ship it"
        );
    }
}

fn bundle_json(bundle: &VerifiedBundle) -> serde_json::Value {
    serde_json::json!({
        "digest": bundle.digest_hex(),
        "version": bundle.version(),
        "expires": rfc3339(bundle.expires()),
        "rules": bundle.rule_counts(),
        "bundle_id": bundle.bundle_id(),
        "root_fingerprint": bundle.root_fingerprint(),
        "development_root": bundle.is_development_root(),
    })
}

fn verify(
    root: Option<&Path>,
    rotate: &[PathBuf],
    file: &Path,
    g: &Globals,
) -> Result<(), CliError> {
    let trust = load_root(root, rotate)?;
    let bundle = BundleVerifier::new(trust.clone()).check(&read(file)?, &VerifyPolicy::now())?;
    if g.json {
        print_json(&bundle_json(&bundle));
    } else {
        let c = bundle.rule_counts();
        println!("verified          {}", file.display());
        println!(
            "bundle            {} version {}",
            bundle.bundle_id(),
            bundle.version()
        );
        println!("digest            {}", bundle.digest_hex());
        println!("expires           {}", rfc3339(bundle.expires()));
        println!(
            "rules             {} ({} phrase, {} regex, {} detector, {} classifier)",
            c.total, c.phrases, c.regex, c.detector, c.classifier
        );
        print_root(&trust);
    }
    Ok(())
}

fn inspect(file: &Path, g: &Globals) -> Result<(), CliError> {
    let bytes = read(file)?;
    let envelope = Envelope::parse(&bytes, "file")?;
    let signers: Vec<String> = envelope
        .signatures()
        .iter()
        .map(|s| s.key_id.to_string())
        .collect();
    let mut out = serde_json::json!({
        "verified": false,
        "payload_type": envelope.payload_type(),
        "digest": hex::encode(envelope.payload_digest()),
        "signatures": signers,
    });
    match envelope.payload_type() {
        BUNDLE_PAYLOAD_TYPE => {
            let payload: BundlePayload = serde_json::from_slice(envelope.payload())
                .map_err(|_| CliError::Usage("the bundle payload does not parse".into()))?;
            out["bundle_id"] = payload.bundle_id.clone().into();
            out["version"] = payload.version.into();
            out["issued"] = payload.issued.clone().into();
            out["expires"] = payload.expires.clone().into();
            out["models"] = payload.models.clone().into();
            out["rules"] = serde_json::to_value(payload.rule_counts()).expect("counts serialize");
            out["rule_ids"] = payload
                .rules
                .iter()
                .map(|r| r.id.clone())
                .collect::<Vec<_>>()
                .into();
            out["envelope"] =
                serde_json::to_value(&payload.envelope).expect("the envelope serializes");
        }
        ROOT_PAYLOAD_TYPE => {
            let root = TrustRoot::from_pinned(&bytes)?;
            out["verified"] = "self-signature only".into();
            if let serde_json::Value::Object(fields) = root_json(&root) {
                for (k, v) in fields {
                    out[k] = v;
                }
            }
        }
        _ => return Err(CliError::Usage("not a Keel bundle or root file".into())),
    }
    print_json(&out);
    if !g.json {
        println!(
            "(inspect does not check bundle signatures; run `keel bundle verify --root ROOT FILE`)"
        );
    }
    Ok(())
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
