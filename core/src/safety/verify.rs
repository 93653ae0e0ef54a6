//! The verification policy: a bundle file is accepted only if it parses strictly, has the
//! bundle payload type, is signed by a threshold of the (unexpired) trust root, is inside its
//! validity window, allows the loaded model, and is not older than the highest version this
//! device accepted (anti-rollback). Each refusal is its own [`SafetyError`] variant. This
//! module owns that policy and the immutable [`VerifiedBundle`]; it reads and raises the
//! anti-rollback state only through [`RollbackStore`].

use std::sync::Mutex;

use time::OffsetDateTime;

use super::envelope::Envelope;
use super::payload::{BundlePayload, RuleCounts, Templates, BUNDLE_PAYLOAD_TYPE};
use super::personalization::PersonalizationEnvelope;
use super::rollback::{AcceptedBundle, RollbackStore, RollbackStoreError};
use super::trust::{format_time, parse_time, TrustRoot};
use super::SafetyError;

/// The signed default bundle compiled into the runtime.
pub const DEFAULT_BUNDLE_JSON: &[u8] = include_bytes!("../../bundles/default/bundle.json");
/// The development trust root that signs the default bundle.
pub const DEFAULT_ROOT_JSON: &[u8] = include_bytes!("../../bundles/default/root.json");

/// The circumstances of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyPolicy {
    /// The current time.
    pub now: OffsetDateTime,
    /// SHA-256 of the loaded GGUF, when a model is loaded.
    pub model_sha256: Option<[u8; 32]>,
}

impl VerifyPolicy {
    /// Now, no model check.
    pub fn now() -> Self {
        Self {
            now: OffsetDateTime::now_utc(),
            model_sha256: None,
        }
    }
}

/// A bundle that passed verification. Immutable: there is no way to change a rule.
#[derive(Debug, Clone)]
pub struct VerifiedBundle {
    payload: BundlePayload,
    digest: [u8; 32],
    expires: OffsetDateTime,
    root_fingerprint: String,
    root_development: bool,
}

impl VerifiedBundle {
    /// The verified payload (read-only).
    pub fn payload(&self) -> &BundlePayload {
        &self.payload
    }
    /// SHA-256 of the payload bytes.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }
    /// SHA-256 of the payload bytes, lowercase hex.
    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest)
    }
    /// The bundle id.
    pub fn bundle_id(&self) -> &str {
        &self.payload.bundle_id
    }
    /// The bundle version.
    pub fn version(&self) -> u64 {
        self.payload.version
    }
    /// The expiry.
    pub fn expires(&self) -> OffsetDateTime {
        self.expires
    }
    /// Rule counts by kind.
    pub fn rule_counts(&self) -> RuleCounts {
        self.payload.rule_counts()
    }
    /// The personalization envelope.
    pub fn envelope(&self) -> &PersonalizationEnvelope {
        &self.payload.envelope
    }
    /// The refusal, notice and redaction texts.
    pub fn templates(&self) -> &Templates {
        &self.payload.templates
    }
    /// The fingerprint of the root that verified it.
    pub fn root_fingerprint(&self) -> &str {
        &self.root_fingerprint
    }
    /// Whether that root is a development root.
    pub fn is_development_root(&self) -> bool {
        self.root_development
    }
    /// Refuse unless the bundle allows the model with this SHA-256 (an empty list allows any).
    pub fn check_model(&self, model_sha256: &[u8; 32]) -> Result<(), SafetyError> {
        let hex = hex::encode(model_sha256);
        if self.payload.models.is_empty() || self.payload.models.contains(&hex) {
            Ok(())
        } else {
            Err(SafetyError::WrongModel)
        }
    }
}

/// Verifies bundle files against a trust root.
#[derive(Debug, Clone)]
pub struct BundleVerifier {
    root: TrustRoot,
}

const WHAT: &str = "bundle";

impl BundleVerifier {
    /// A verifier trusting `root`.
    pub fn new(root: TrustRoot) -> Self {
        Self { root }
    }

    /// The trust root.
    pub fn root(&self) -> &TrustRoot {
        &self.root
    }

    /// Verify `bytes` fully: [`Self::check`], then anti-rollback against `store`, recording
    /// the bundle as the highest accepted when it is newer.
    pub fn verify(
        &self,
        bytes: &[u8],
        policy: &VerifyPolicy,
        store: &dyn RollbackStore,
    ) -> Result<VerifiedBundle, SafetyError> {
        let bundle = self.check(bytes, policy)?;
        Self::accept(&bundle, store)?;
        Ok(bundle)
    }

    /// Everything but anti-rollback: size and strict parsing, payload type, root expiry,
    /// signatures and threshold, payload structure, validity window, model. Tools use this on
    /// files; the runtime uses [`Self::verify`].
    pub fn check(
        &self,
        bytes: &[u8],
        policy: &VerifyPolicy,
    ) -> Result<VerifiedBundle, SafetyError> {
        let envelope = Envelope::parse(bytes, WHAT)?;
        if envelope.payload_type() != BUNDLE_PAYLOAD_TYPE {
            return Err(SafetyError::WrongPayloadType { what: WHAT });
        }
        self.root.check_not_expired(policy.now)?;
        self.root.check_signatures(&envelope, WHAT)?;
        let payload: BundlePayload = serde_json::from_slice(envelope.payload())
            .map_err(|e| SafetyError::malformed(WHAT, super::envelope::json_error_class(&e)))?;
        payload.validate()?;
        let issued = parse_time(&payload.issued, WHAT)?;
        let expires = parse_time(&payload.expires, WHAT)?;
        if policy.now < issued {
            return Err(SafetyError::NotYetValid {
                issued: format_time(issued),
            });
        }
        if policy.now >= expires {
            return Err(SafetyError::Expired {
                expires: format_time(expires),
            });
        }
        let digest_bytes = envelope.payload_digest();
        let bundle = VerifiedBundle {
            payload,
            digest: digest_bytes,
            expires,
            root_fingerprint: self.root.fingerprint(),
            root_development: self.root.is_development(),
        };
        if let Some(model) = &policy.model_sha256 {
            bundle.check_model(model)?;
        }
        Ok(bundle)
    }

    /// Anti-rollback: refuse a bundle older than the highest accepted one (or the same version
    /// with other content); record it when it is newer.
    pub fn accept(bundle: &VerifiedBundle, store: &dyn RollbackStore) -> Result<(), SafetyError> {
        let offered = AcceptedBundle {
            version: bundle.version(),
            digest: bundle.digest(),
        };
        match store.highest_accepted()? {
            Some(highest) if offered.version < highest.version => Err(SafetyError::RolledBack {
                offered: offered.version,
                highest: highest.version,
            }),
            Some(highest) if offered.version == highest.version => {
                if offered.digest == highest.digest {
                    Ok(())
                } else {
                    Err(SafetyError::VersionReused {
                        version: offered.version,
                    })
                }
            }
            _ => Ok(store.record_accepted(&offered)?),
        }
    }
}

/// The development root compiled into the runtime.
pub fn default_root() -> Result<TrustRoot, SafetyError> {
    TrustRoot::from_pinned(DEFAULT_ROOT_JSON)
}

/// The signed default bundle compiled into the runtime, verified against [`default_root`]
/// (without anti-rollback; the runtime calls [`BundleVerifier::accept`]).
pub fn default_bundle() -> Result<VerifiedBundle, SafetyError> {
    BundleVerifier::new(default_root()?).check(DEFAULT_BUNDLE_JSON, &VerifyPolicy::now())
}

/// An in-memory [`RollbackStore`] for tests and tools; the runtime uses the encrypted store.
#[derive(Debug, Default)]
pub struct MemoryRollbackStore {
    highest: Mutex<Option<AcceptedBundle>>,
}

impl RollbackStore for MemoryRollbackStore {
    fn highest_accepted(&self) -> Result<Option<AcceptedBundle>, RollbackStoreError> {
        Ok(*self.highest.lock().map_err(|_| RollbackStoreError {
            reason: "the in-memory rollback state is poisoned".into(),
        })?)
    }

    fn record_accepted(&self, accepted: &AcceptedBundle) -> Result<(), RollbackStoreError> {
        let mut highest = self.highest.lock().map_err(|_| RollbackStoreError {
            reason: "the in-memory rollback state is poisoned".into(),
        })?;
        if highest.is_none_or(|h| accepted.version > h.version) {
            *highest = Some(*accepted);
        }
        Ok(())
    }
}
