//! `keel bundle keygen`, `keel bundle root` and `keel bundle sign`: the publishing side of
//! safety-bundle tooling, which writes key pairs, signed trust roots and signed bundles.
//! Argument parsing and dispatch live in `bundle_cmd`; everything else is `keel::safety`.

use std::path::{Path, PathBuf};

use keel::safety::keys::{generate_key_files, PublicKey, SigningKey};
use keel::safety::payload::RulesFile;
use keel::safety::rules::RuleSet;
use keel::safety::trust::RootPayload;
use keel::safety::{OffsetDateTime, TrustRoot};

use crate::bundle_cmd::{parse_date, print_json, read, write};
use crate::bundle_verify::{print_root, root_json};
use crate::error::CliError;
use crate::globals::Globals;

pub(crate) fn keygen(out: &Path, name: &str, g: &Globals) -> Result<(), CliError> {
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
pub(crate) struct RootSpec<'a> {
    pub(crate) keys: &'a [PathBuf],
    pub(crate) threshold: usize,
    pub(crate) version: u64,
    pub(crate) expires: &'a str,
    pub(crate) sign_with: &'a [PathBuf],
    pub(crate) previous: Option<&'a Path>,
    pub(crate) development: bool,
}

pub(crate) fn make_root(spec: &RootSpec<'_>, out: &Path, g: &Globals) -> Result<(), CliError> {
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

pub(crate) fn sign(
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
