//! Throwaway signed bundles for tests and tools: a fresh random Ed25519 key, a one-key trust
//! root that trusts it, and rules signed by it. Nothing here is used by the runtime; it exists
//! so that tests (including integration tests in other crates, which cannot see
//! `#[cfg(test)]` items) need not repeat the signing steps.
//!
//! **For tests only.** Each call generates a new key that is never stored, so a bundle made
//! here verifies only against the root made with it; no shipped root ever trusts it.
//!
//! ```
//! use keel::safety::testing::{sign_test_bundle, with_full_envelope};
//! use keel::safety::Duration;
//! let rules = with_full_envelope(
//!     r#"bundle_id = "example"
//! models = []
//! [templates]
//! refusal = "REFUSED."
//! notice = "NOTICE."
//! redaction = "[x]"
//! [[rules]]
//! id = "block.bomb"
//! kind = "phrases"
//! scope = "output"
//! action = "block"
//! phrases = ["bomb"]
//! "#,
//!     &[],
//! );
//! let test = sign_test_bundle(&rules, Duration::days(1)).expect("signs");
//! let bundle = test.verify().expect("verifies against its own root");
//! assert_eq!(bundle.bundle_id(), "example");
//! ```

use super::gate::{Gate, GateReport};
use super::keys::SigningKey;
use super::payload::{BundlePayload, RulesFile};
use super::trust::RootPayload;
use super::{
    BundleVerifier, Dimension, Duration, OffsetDateTime, SafetyError, TrustRoot, VerifiedBundle,
    VerifyPolicy,
};

/// A fresh signing key and a trust root (version 1, threshold 1, not a development root)
/// that trusts only it.
#[derive(Debug)]
pub struct TestSigner {
    /// The key; never stored anywhere.
    pub key: SigningKey,
    /// The signed root, as a pinned `root.json` would hold it.
    pub root_json: String,
}

impl TestSigner {
    /// A new key and a root over it that expires `valid_for` from now.
    pub fn new(valid_for: Duration) -> Result<Self, SafetyError> {
        let key = SigningKey::generate()?;
        let expires = OffsetDateTime::now_utc() + valid_for;
        let root_json = RootPayload::new(&[key.public_key()], 1, 1, expires, false)
            .sign(&[&key])
            .to_json();
        Ok(Self { key, root_json })
    }

    /// The parsed trust root.
    pub fn trust_root(&self) -> Result<TrustRoot, SafetyError> {
        TrustRoot::from_pinned(self.root_json.as_bytes())
    }

    /// A verifier trusting this root.
    pub fn verifier(&self) -> Result<BundleVerifier, SafetyError> {
        Ok(BundleVerifier::new(self.trust_root()?))
    }

    /// `payload` signed with this key, as a `bundle.json` would hold it.
    pub fn sign(&self, payload: &BundlePayload) -> Result<String, SafetyError> {
        Ok(payload.sign(&[&self.key])?.to_json())
    }
}

/// A signed test bundle and the root that trusts it.
#[derive(Debug)]
pub struct TestBundle {
    /// The signed root (`root.json`).
    pub root_json: String,
    /// The signed bundle (`bundle.json`).
    pub bundle_json: String,
    /// The key that signed both.
    pub key: SigningKey,
}

impl TestBundle {
    /// The bundle checked against its root now (everything but anti-rollback).
    pub fn verify(&self) -> Result<VerifiedBundle, SafetyError> {
        BundleVerifier::new(TrustRoot::from_pinned(self.root_json.as_bytes())?)
            .check(self.bundle_json.as_bytes(), &VerifyPolicy::now())
    }
}

/// Sign `rules_toml` (a whole `rules.toml`, envelope included; see [`with_full_envelope`])
/// with a fresh key under a fresh root; bundle and root both expire `valid_for` from now.
pub fn sign_test_bundle(rules_toml: &str, valid_for: Duration) -> Result<TestBundle, SafetyError> {
    let signer = TestSigner::new(valid_for)?;
    let bundle_json = signer.sign(&test_payload(rules_toml, valid_for)?)?;
    Ok(TestBundle {
        root_json: signer.root_json,
        bundle_json,
        key: signer.key,
    })
}

/// `rules_toml` as a version-1 payload, issued a day ago (so clock skew cannot make it not
/// yet valid) and expiring `valid_for` from now.
fn test_payload(rules_toml: &str, valid_for: Duration) -> Result<BundlePayload, SafetyError> {
    let now = OffsetDateTime::now_utc();
    RulesFile::from_toml(rules_toml)?.into_payload(1, now - Duration::days(1), now + valid_for)
}

/// `rules_toml` followed by an `[envelope]` that locks `locked` (names as in `rules.toml`,
/// e.g. `"refusals"`) and opens every [`Dimension`] over 0.0–1.0 with default 0.5.
pub fn with_full_envelope(rules_toml: &str, locked: &[&str]) -> String {
    let locked: Vec<String> = locked.iter().map(|l| format!("{l:?}")).collect();
    let mut text = format!(
        "{rules_toml}\n[envelope]\nlocked = [{}]\n[envelope.dimensions]\n",
        locked.join(", ")
    );
    for d in Dimension::ALL {
        text.push_str(d.name());
        text.push_str(" = { min = 0.0, max = 1.0, default = 0.5 }\n");
    }
    text
}

/// Stream `text` through `gate`'s output gate cut at `cuts` (ascending byte offsets): the
/// text shown and the final report.
pub fn push_in_pieces(gate: &Gate, text: &[u8], cuts: &[usize]) -> (String, GateReport) {
    let mut out = gate.output();
    let mut shown = String::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&text.len())) {
        shown.push_str(&out.push_bytes(&text[at..cut]));
        at = cut;
    }
    let (rest, report) = out.finish();
    shown.push_str(&rest);
    (shown, report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::LockedBehaviour;

    const RULES: &str = r#"bundle_id = "t"
models = []
[templates]
refusal = "R"
notice = "N"
redaction = "[x]"
[[rules]]
id = "b"
kind = "phrases"
scope = "output"
action = "block"
phrases = ["bomb"]
"#;

    #[test]
    fn a_test_bundle_verifies_only_against_its_own_root() {
        let rules = with_full_envelope(RULES, &["refusals"]);
        let a = sign_test_bundle(&rules, Duration::days(1)).expect("a");
        let b = sign_test_bundle(&rules, Duration::days(1)).expect("b");
        let bundle = a.verify().expect("verifies");
        assert!(Dimension::ALL
            .iter()
            .all(|&d| bundle.envelope().is_personalizable(d)));
        assert_eq!(bundle.envelope().locked(), &[LockedBehaviour::Refusals]);
        let crossed = TestBundle {
            root_json: b.root_json,
            bundle_json: a.bundle_json,
            key: a.key,
        };
        assert!(matches!(
            crossed.verify(),
            Err(SafetyError::UnknownKey { .. })
        ));
    }

    #[test]
    fn the_pieces_do_not_change_what_is_shown() {
        let rules = with_full_envelope(RULES, &[]);
        let bundle = sign_test_bundle(&rules, Duration::days(1))
            .expect("signs")
            .verify()
            .expect("verifies");
        let gate = Gate::new(&bundle).expect("gate");
        let text = b"a bomb here";
        let whole = push_in_pieces(&gate, text, &[]);
        assert_eq!(whole.1.verdict, super::super::Verdict::Block);
        assert!(whole.0.ends_with('R') && !whole.0.contains("bomb"));
        assert_eq!(push_in_pieces(&gate, text, &[1, 3, 4, 9]), whole);
    }
}
