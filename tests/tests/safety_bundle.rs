//! End-to-end tests of the signed bundle: tampering, each refusal reason, root rotation and
//! anti-rollback across a restart.

use keel::safety::envelope::Envelope;
use keel::safety::keys::SigningKey;
use keel::safety::payload::{BundlePayload, RulesFile};
use keel::safety::testing::with_full_envelope;
use keel::safety::trust::{RootPayload, TrustRoot};
use keel::safety::{
    default_bundle, BundleSlot, BundleVerifier, Duration, MemoryRollbackStore, OffsetDateTime,
    SafetyError, VerifyPolicy,
};

const RULES: &str = r#"
bundle_id = "test"
models = []
[templates]
refusal = "Refused."
notice = "Notice."
redaction = "[x]"
[[rules]]
id = "block.bomb"
kind = "phrases"
scope = "output"
action = "block"
phrases = ["bomb"]
"#;

/// [`RULES`] with every dimension open and refusals locked.
fn rules() -> String {
    with_full_envelope(RULES, &["refusals"])
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn days(n: i64) -> Duration {
    Duration::days(n)
}

fn key() -> SigningKey {
    SigningKey::generate().expect("key generation")
}

fn root_bytes(
    keys: &[&SigningKey],
    threshold: usize,
    version: u64,
    signers: &[&SigningKey],
) -> Vec<u8> {
    let public: Vec<_> = keys.iter().map(|k| k.public_key()).collect();
    RootPayload::new(&public, threshold, version, now() + days(365), false)
        .sign(signers)
        .to_json()
        .into_bytes()
}

fn root(keys: &[&SigningKey], threshold: usize) -> TrustRoot {
    TrustRoot::from_pinned(&root_bytes(keys, threshold, 1, keys)).expect("root")
}

fn payload(version: u64) -> BundlePayload {
    RulesFile::from_toml(&rules())
        .expect("rules parse")
        .into_payload(version, now() - days(1), now() + days(30))
        .expect("payload")
}

fn signed(payload: &BundlePayload, signers: &[&SigningKey]) -> Vec<u8> {
    payload.sign(signers).expect("sign").to_json().into_bytes()
}

fn check(root: &TrustRoot, bytes: &[u8]) -> Result<keel::safety::VerifiedBundle, SafetyError> {
    BundleVerifier::new(root.clone()).check(bytes, &VerifyPolicy::now())
}

#[test]
fn a_good_bundle_verifies_and_reports_its_digest() {
    let k = key();
    let bundle = check(&root(&[&k], 1), &signed(&payload(3), &[&k])).expect("verifies");
    assert_eq!(bundle.version(), 3);
    assert_eq!(bundle.digest_hex().len(), 64);
    assert_eq!(bundle.rule_counts().phrases, 1);
}

#[test]
fn flipping_any_bit_fails_or_keeps_the_digest() {
    let k = key();
    let r = root(&[&k], 1);
    let bytes = signed(&payload(1), &[&k]);
    let good = check(&r, &bytes).expect("verifies").digest();
    let mut accepted_changes = 0;
    for i in 0..bytes.len() * 8 {
        let mut tampered = bytes.clone();
        tampered[i / 8] ^= 1 << (i % 8);
        if let Ok(b) = check(&r, &tampered) {
            assert_eq!(b.digest(), good, "bit {i} changed the verified payload");
            accepted_changes += 1;
        }
    }
    // Only JSON whitespace variations may survive, never a payload change.
    assert!(
        accepted_changes < bytes.len(),
        "{accepted_changes} flips accepted"
    );
}

#[test]
fn unsigned_is_refused() {
    let k = key();
    let env = payload(1).sign(&[]).expect("sign");
    let err = check(&root(&[&k], 1), env.to_json().as_bytes()).expect_err("unsigned");
    assert!(matches!(err, SafetyError::Unsigned { .. }), "{err}");
}

#[test]
fn tampered_payload_is_refused() {
    let k = key();
    let env = Envelope::parse(&signed(&payload(1), &[&k]), "bundle").expect("parse");
    let other = payload(2).sign(&[]).expect("sign");
    let forged = Envelope::new(
        env.payload_type(),
        other.payload().to_vec(),
        env.signatures().to_vec(),
    );
    let err = check(&root(&[&k], 1), forged.to_json().as_bytes()).expect_err("tampered");
    assert!(matches!(err, SafetyError::BadSignature { .. }), "{err}");
}

#[test]
fn unknown_key_is_refused() {
    let (k, stranger) = (key(), key());
    let err = check(&root(&[&k], 1), &signed(&payload(1), &[&stranger])).expect_err("unknown");
    assert!(matches!(err, SafetyError::UnknownKey { .. }), "{err}");
}

#[test]
fn under_threshold_is_refused_and_duplicates_count_once() {
    let (a, b) = (key(), key());
    let r = root(&[&a, &b], 2);
    let err = check(&r, &signed(&payload(1), &[&a, &a])).expect_err("under threshold");
    assert!(
        matches!(
            err,
            SafetyError::UnderThreshold {
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(check(&r, &signed(&payload(1), &[&a, &b])).is_ok());
}

#[test]
fn wrong_payload_type_is_refused() {
    let k = key();
    let root_file = root_bytes(&[&k], 1, 1, &[&k]);
    let err = check(&root(&[&k], 1), &root_file).expect_err("a root is not a bundle");
    assert!(matches!(err, SafetyError::WrongPayloadType { .. }), "{err}");
}

#[test]
fn expired_and_not_yet_valid_are_refused() {
    let k = key();
    let r = root(&[&k], 1);
    let rules = RulesFile::from_toml(&rules()).expect("rules");
    let old = rules
        .clone()
        .into_payload(1, now() - days(10), now() - days(1))
        .expect("payload");
    let err = check(&r, &signed(&old, &[&k])).expect_err("expired");
    assert!(matches!(err, SafetyError::Expired { .. }), "{err}");
    let future = rules
        .into_payload(1, now() + days(1), now() + days(10))
        .expect("payload");
    let err = check(&r, &signed(&future, &[&k])).expect_err("not yet valid");
    assert!(matches!(err, SafetyError::NotYetValid { .. }), "{err}");
}

#[test]
fn an_expired_root_is_refused() {
    let k = key();
    let public = [k.public_key()];
    let env = RootPayload::new(&public, 1, 1, now() - days(1), false).sign(&[&k]);
    let r = TrustRoot::from_pinned(env.to_json().as_bytes()).expect("root parses");
    let err = check(&r, &signed(&payload(1), &[&k])).expect_err("root expired");
    assert!(matches!(err, SafetyError::RootExpired { .. }), "{err}");
}

#[test]
fn wrong_model_is_refused() {
    let k = key();
    let mut rules = RulesFile::from_toml(&rules()).expect("rules");
    rules.models = vec!["ab".repeat(32)];
    let p = rules
        .into_payload(1, now() - days(1), now() + days(1))
        .expect("payload");
    let bytes = signed(&p, &[&k]);
    let verifier = BundleVerifier::new(root(&[&k], 1));
    let policy = |m: [u8; 32]| VerifyPolicy {
        now: now(),
        model_sha256: Some(m),
    };
    let err = verifier
        .check(&bytes, &policy([0xcd; 32]))
        .expect_err("wrong model");
    assert!(matches!(err, SafetyError::WrongModel), "{err}");
    assert!(verifier.check(&bytes, &policy([0xab; 32])).is_ok());
}

#[test]
fn malformed_duplicate_and_oversized_files_are_refused() {
    let k = key();
    let r = root(&[&k], 1);
    let good = String::from_utf8(signed(&payload(1), &[&k])).expect("utf8");
    let dup = good.replacen(
        "\"payloadType\"",
        "\"payloadType\": \"x\", \"payloadType\"",
        1,
    );
    assert!(matches!(
        check(&r, dup.as_bytes()),
        Err(SafetyError::Malformed { .. })
    ));
    let unknown = good.replacen('{', "{\"extra\": 1,", 1);
    assert!(matches!(
        check(&r, unknown.as_bytes()),
        Err(SafetyError::Malformed { .. })
    ));
    let big = vec![b' '; keel::safety::envelope::MAX_ENVELOPE_BYTES + 1];
    assert!(matches!(
        check(&r, &big),
        Err(SafetyError::Oversized { .. })
    ));
}

#[test]
fn a_signed_payload_with_an_unknown_field_is_refused() {
    let k = key();
    let mut json: serde_json::Value = serde_json::to_value(payload(1)).expect("to value");
    json["surprise"] = serde_json::Value::Bool(true);
    let bytes = serde_json::to_vec(&json).expect("bytes");
    let env = Envelope::new(keel::safety::payload::BUNDLE_PAYLOAD_TYPE, bytes, vec![]);
    let signed_env = Envelope::new(
        env.payload_type(),
        env.payload().to_vec(),
        vec![k.sign(&env.signed_bytes())],
    );
    let err = check(&root(&[&k], 1), signed_env.to_json().as_bytes()).expect_err("strict payload");
    assert!(matches!(err, SafetyError::Malformed { .. }), "{err}");
}

#[test]
fn root_rotation_needs_a_threshold_of_old_and_new_keys() {
    let (o1, o2, o3) = (key(), key(), key());
    let (n1, n2) = (key(), key());
    let old =
        TrustRoot::from_pinned(&root_bytes(&[&o1, &o2, &o3], 2, 1, &[&o1, &o2])).expect("root");
    let next = root_bytes(&[&n1, &n2], 2, 2, &[&o1, &o3, &n1, &n2]);
    let rotated = old.rotate(&next).expect("rotation");
    // The new root verifies bundles signed by the new keys, the old keys no longer count.
    assert!(check(&rotated, &signed(&payload(1), &[&n1, &n2])).is_ok());
    assert!(matches!(
        check(&rotated, &signed(&payload(1), &[&o1, &o2])),
        Err(SafetyError::UnknownKey { .. })
    ));
    let weak = root_bytes(&[&n1, &n2], 2, 2, &[&o1, &n1, &n2]);
    assert!(matches!(
        old.rotate(&weak),
        Err(SafetyError::UnderThreshold { .. })
    ));
    let not_self_signed = root_bytes(&[&n1, &n2], 2, 2, &[&o1, &o2, &n1]);
    assert!(matches!(
        old.rotate(&not_self_signed),
        Err(SafetyError::UnderThreshold { .. })
    ));
}

#[test]
fn rollback_is_refused_after_a_restart() {
    let k = key();
    let store = MemoryRollbackStore::default();
    let v5 = signed(&payload(5), &[&k]);
    let v4 = signed(&payload(4), &[&k]);
    {
        let first_run = BundleVerifier::new(root(&[&k], 1));
        first_run
            .verify(&v5, &VerifyPolicy::now(), &store)
            .expect("v5 accepted");
    }
    let second_run = BundleVerifier::new(root(&[&k], 1));
    let err = second_run
        .verify(&v4, &VerifyPolicy::now(), &store)
        .expect_err("rollback");
    assert!(
        matches!(
            err,
            SafetyError::RolledBack {
                offered: 4,
                highest: 5
            }
        ),
        "{err}"
    );
    second_run
        .verify(&v5, &VerifyPolicy::now(), &store)
        .expect("same bundle again is fine");
    let mut other = payload(5);
    other.templates.refusal = "Other.".into();
    let err = second_run
        .verify(&signed(&other, &[&k]), &VerifyPolicy::now(), &store)
        .expect_err("same version, other content");
    assert!(
        matches!(err, SafetyError::VersionReused { version: 5 }),
        "{err}"
    );
}

#[test]
fn the_slot_keeps_the_last_good_bundle_and_fails_closed_without_one() {
    let k = key();
    let verifier = BundleVerifier::new(root(&[&k], 1));
    let store = MemoryRollbackStore::default();
    let mut slot = BundleSlot::new();
    assert!(matches!(slot.gate(), Err(SafetyError::NoBundle)));
    slot.offer(
        &signed(&payload(2), &[&k]),
        &verifier,
        &VerifyPolicy::now(),
        &store,
    )
    .expect("offer");
    let bad = slot.offer(
        &signed(&payload(1), &[&k]),
        &verifier,
        &VerifyPolicy::now(),
        &store,
    );
    assert!(bad.is_err());
    assert_eq!(slot.bundle().expect("still loaded").version(), 2);
    assert!(slot.gate().is_ok());
    let dev = BundleSlot::developer_mode().gate().expect("developer gate");
    assert!(dev.check_input("anything").report.developer_mode);
}

#[test]
fn the_default_bundle_verifies_against_its_development_root() {
    let bundle = default_bundle().expect("default bundle verifies");
    assert!(bundle.is_development_root());
    assert_eq!(bundle.root_fingerprint().len(), 64);
    let counts = bundle.rule_counts();
    assert!(counts.phrases > 0 && counts.regex > 0 && counts.detector >= 3);
}
