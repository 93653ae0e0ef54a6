//! `keel bundle verify` and `keel bundle inspect`: checking and describing bundle and root
//! files, plus loading a pinned trust root (with rotations) and printing roots and bundles.
//! Argument parsing and dispatch live in `bundle_cmd`; everything else is `keel::safety`.

use std::path::{Path, PathBuf};

use keel::safety::envelope::Envelope;
use keel::safety::payload::{BundlePayload, BUNDLE_PAYLOAD_TYPE};
use keel::safety::trust::ROOT_PAYLOAD_TYPE;
use keel::safety::{default_root, BundleVerifier, TrustRoot, VerifiedBundle, VerifyPolicy};

use crate::bundle_cmd::{print_json, read, rfc3339};
use crate::error::CliError;
use crate::globals::Globals;

pub(crate) fn load_root(root: Option<&Path>, rotate: &[PathBuf]) -> Result<TrustRoot, CliError> {
    let mut trust = match root {
        Some(p) => TrustRoot::from_pinned(&read(p)?)?,
        None => default_root()?,
    };
    for next in rotate {
        trust = trust.rotate(&read(next)?)?;
    }
    Ok(trust)
}

pub(crate) fn root_json(root: &TrustRoot) -> serde_json::Value {
    serde_json::json!({
        "root_fingerprint": root.fingerprint(),
        "root_version": root.version(),
        "root_expires": rfc3339(root.expires()),
        "threshold": root.threshold(),
        "keys": root.keys().iter().map(|k| k.key_id.to_string()).collect::<Vec<_>>(),
        "development_root": root.is_development(),
    })
}

pub(crate) fn print_root(root: &TrustRoot) {
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

pub(crate) fn verify(
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

pub(crate) fn inspect(file: &Path, g: &Globals) -> Result<(), CliError> {
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
