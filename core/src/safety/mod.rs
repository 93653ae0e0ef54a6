//! The safety layer: the signed rule bundle, text normalization, the streaming gate and the
//! personalization envelope. It owns what no user, feedback, prompt or app setting can switch
//! off; it may not touch the engine, the store's tables or the learner (it only *reads* the
//! anti-rollback state through [`rollback::RollbackStore`]).
//!
//! # From bytes to a gate
//!
//! ```text
//! root.json ──TrustRoot::from_pinned──▶ TrustRoot ──(rotate with newer roots)
//! bundle.json ──BundleVerifier::verify──▶ VerifiedBundle (immutable) ──Gate::new──▶ Gate
//! ```
//!
//! - [`envelope`]: the DSSE-style signed envelope (payload type, payload, signatures; the
//!   signatures cover the pre-authentication encoding of type and payload).
//! - [`trust`]: the pinned trust root and its rotation (a new root needs a threshold of the old
//!   root's keys *and* of its own).
//! - [`payload`]: what a bundle says (rules, templates, model digests, envelope).
//! - [`verify`]: the verification policy; each refusal has its own [`SafetyError`] variant.
//! - [`normalize`], [`detectors`], [`rules`], [`gate`]: matching.
//! - [`classifier`]: the learned classifier a `classifier` rule carries (weights inline in the
//!   signed payload); the gate scores the user's text and the answer at streaming checkpoints.
//! - [`personalization`]: the personalization envelope and its clamp-or-refuse API.
//! - [`keys`]: Ed25519 key files for publishers.
//!
//! # The gate
//!
//! ```no_run
//! # fn demo() -> Result<(), keel::safety::SafetyError> {
//! use keel::safety::{default_bundle, gate::Gate};
//! let bundle = default_bundle()?;
//! let gate = Gate::new(&bundle)?;
//! let input = gate.check_input("user text");
//! let mut out = gate.output();
//! let mut shown = out.push("model ");
//! shown += &out.push("tokens");
//! let (rest, report) = out.finish();
//! shown += &rest;
//! # let _ = (input, report, shown); Ok(()) }
//! ```
//!
//! [`gate::OutputGate::push`] returns the text that is now safe to show; it holds back as much
//! text as the longest possible match, so a blocked or redacted phrase is never released, not
//! even in part, whatever the chunk boundaries. After a block, nothing more is released and
//! the refusal template is released instead; the report says `Block` and the app replaces the
//! answer with the refusal.

pub mod classifier;
pub mod detectors;
pub mod envelope;
pub mod gate;
pub mod keys;
pub mod normalize;
pub mod payload;
mod payload_model;
pub mod personalization;
pub mod rollback;
pub mod rules;
mod scan;
pub mod slot;
mod stream;
pub mod testing;
pub mod trust;
pub mod verify;

pub use gate::{Gate, GateReport, InputVerdict, OutputGate, Verdict};
pub use personalization::{
    Clamped, Dimension, EnvelopeRefusal, LockedBehaviour, PersonalizationEnvelope,
};
pub use slot::BundleSlot;
/// Times in the public API (re-exported so callers need not depend on `time`).
pub use time::{Duration, OffsetDateTime};
pub use trust::TrustRoot;
pub use verify::{
    default_bundle, default_root, BundleVerifier, MemoryRollbackStore, VerifiedBundle, VerifyPolicy,
};

/// Errors of the safety layer. Texts say what failed and what to do; they never contain user
/// text, rule text or key material.
#[derive(Debug, thiserror::Error)]
pub enum SafetyError {
    /// The anti-rollback state could not be read or written.
    #[error("the bundle anti-rollback state is unavailable: {0}")]
    RollbackState(#[from] rollback::RollbackStoreError),
    /// The file is larger than the stated limit; nothing was parsed.
    #[error("the {what} is {size} bytes, over the {limit}-byte limit; use a smaller file")]
    Oversized {
        /// What was being read.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The file is not a well-formed envelope, root or payload (syntax, unknown or duplicate
    /// fields, non-canonical base64, bad key ids). No signature work was done.
    #[error("the {what} is malformed ({reason}); regenerate it with `keel bundle`")]
    Malformed {
        /// What was being read.
        what: &'static str,
        /// What is wrong, without quoting the input.
        reason: String,
    },
    /// The envelope carries no signatures.
    #[error("the {what} is unsigned; sign it with `keel bundle sign`")]
    Unsigned {
        /// What was being verified.
        what: &'static str,
    },
    /// A signature by a trusted key does not verify: the file was changed after signing.
    #[error("the {what} has a signature that does not verify: it was changed after signing; get a fresh copy from its publisher")]
    BadSignature {
        /// What was being verified.
        what: &'static str,
    },
    /// No signature comes from a key of the trust root.
    #[error("the {what} is signed only by keys the trust root does not know; check that you use the publisher's root.json")]
    UnknownKey {
        /// What was being verified.
        what: &'static str,
    },
    /// Fewer distinct trusted keys signed than the root's threshold.
    #[error("the {what} has {valid} valid signature(s) from trusted keys but the root requires {threshold}; collect more signatures")]
    UnderThreshold {
        /// What was being verified.
        what: &'static str,
        /// Valid signatures from distinct trusted keys.
        valid: usize,
        /// Required.
        threshold: usize,
    },
    /// The envelope's payload type is not the one expected.
    #[error(
        "the {what} has the wrong payload type; expected a {what}, not another kind of signed file"
    )]
    WrongPayloadType {
        /// What was expected.
        what: &'static str,
    },
    /// The bundle's expiry time has passed.
    #[error("the bundle expired at {expires}; install a newer bundle from its publisher")]
    Expired {
        /// The bundle's expiry (RFC 3339).
        expires: String,
    },
    /// The bundle's issue time is in the future.
    #[error("the bundle is not valid before {issued}; check the device clock")]
    NotYetValid {
        /// The bundle's issue time (RFC 3339).
        issued: String,
    },
    /// The trust root's expiry time has passed.
    #[error("the trust root expired at {expires}; update the app's pinned root")]
    RootExpired {
        /// The root's expiry (RFC 3339).
        expires: String,
    },
    /// A bundle with a lower version than the highest accepted one was offered.
    #[error("the bundle version {offered} is lower than version {highest} already accepted on this device (rollback refused); install version {highest} or newer")]
    RolledBack {
        /// The offered version.
        offered: u64,
        /// The highest accepted version.
        highest: u64,
    },
    /// A bundle with the same version as the accepted one but different content was offered.
    #[error("the bundle version {version} differs from the version {version} already accepted on this device; the publisher must issue a new version")]
    VersionReused {
        /// The version.
        version: u64,
    },
    /// The bundle does not allow the loaded model.
    #[error("the bundle does not allow this model file; use a model listed by the bundle or a bundle that allows it")]
    WrongModel,
    /// A new root does not follow the current one (its version must be exactly one higher).
    #[error("the new trust root has version {offered} but version {expected} is required; apply the roots in order")]
    RootVersion {
        /// The offered root version.
        offered: u64,
        /// The version required.
        expected: u64,
    },
    /// A rule or the envelope in the payload is invalid (empty phrase list, bad regex, ...).
    #[error("rule set invalid: {reason}; fix rules.toml and sign again")]
    InvalidRules {
        /// What is wrong (rule ids only, never rule text).
        reason: String,
    },
    /// No verified bundle is loaded and developer mode was not requested: fail closed.
    #[error(
        "no verified safety bundle is loaded, so nothing is generated; install a signed bundle"
    )]
    NoBundle,
    /// Reading or writing a key or bundle file failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done (a path at most).
        context: String,
        /// The failure.
        source: std::io::Error,
    },
    /// Creating a key or signing failed inside the crypto library.
    #[error("the cryptographic operation failed: {0}")]
    Crypto(&'static str),
}

impl SafetyError {
    pub(crate) fn malformed(what: &'static str, reason: impl Into<String>) -> Self {
        Self::Malformed {
            what,
            reason: reason.into(),
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
