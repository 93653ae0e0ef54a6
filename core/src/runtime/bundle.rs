//! Choosing the bundle a runtime serves with: the signed default compiled into Keel, a
//! publisher's bundle verified against the root the app pins, or — only when asked for
//! explicitly — developer mode without a bundle. A refused bundle leaves nothing in force,
//! so the runtime fails closed.

use serde::Serialize;

use crate::safety::rollback::RollbackStore;
use crate::safety::{
    default_bundle, BundleSlot, BundleVerifier, SafetyError, TrustRoot, VerifyPolicy,
};

/// Which bundle to serve with.
#[derive(Debug, Clone)]
pub enum BundleChoice {
    /// The signed default bundle compiled into Keel (signed by a development root).
    Default,
    /// A bundle file verified against a pinned trust root.
    Files {
        /// The pinned root (`root.json` bytes).
        root: Vec<u8>,
        /// The bundle (`bundle.json` bytes).
        bundle: Vec<u8>,
    },
    /// No bundle: nothing is checked, and every report says so. Only on explicit request.
    DeveloperMode,
}

impl BundleChoice {
    /// Verify the choice and put it in a slot, recording it for anti-rollback in `rollback`.
    pub fn load(
        &self,
        policy: &VerifyPolicy,
        rollback: &dyn RollbackStore,
    ) -> Result<BundleSlot, SafetyError> {
        match self {
            BundleChoice::Default => {
                let mut slot = BundleSlot::new();
                slot.install(default_bundle()?, rollback)?;
                Ok(slot)
            }
            BundleChoice::Files { root, bundle } => {
                let verifier = BundleVerifier::new(TrustRoot::from_pinned(root)?);
                let mut slot = BundleSlot::new();
                slot.offer(bundle, &verifier, policy, rollback)?;
                Ok(slot)
            }
            BundleChoice::DeveloperMode => Ok(BundleSlot::developer_mode()),
        }
    }
}

/// What a person (or `keel status`) should know about the bundle in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleStatus {
    /// The bundle's id (`None` in developer mode).
    pub bundle_id: Option<String>,
    /// Its version.
    pub version: Option<u64>,
    /// SHA-256 of its payload, hex.
    pub digest: Option<String>,
    /// When it expires (RFC 3339).
    pub expires: Option<String>,
    /// The fingerprint of the root that signed it.
    pub root_fingerprint: Option<String>,
    /// Whether that root is a development root (its key is not a publisher's).
    pub development_root: bool,
    /// No bundle: nothing is checked.
    pub developer_mode: bool,
}

impl BundleStatus {
    /// The status of `slot`.
    pub fn of(slot: &BundleSlot) -> Self {
        match slot.bundle() {
            Some(b) => Self {
                bundle_id: Some(b.bundle_id().to_owned()),
                version: Some(b.version()),
                digest: Some(b.digest_hex()),
                expires: b
                    .expires()
                    .format(&time::format_description::well_known::Rfc3339)
                    .ok(),
                root_fingerprint: Some(b.root_fingerprint().to_owned()),
                development_root: b.is_development_root(),
                developer_mode: false,
            },
            None => Self {
                bundle_id: None,
                version: None,
                digest: None,
                expires: None,
                root_fingerprint: None,
                development_root: false,
                developer_mode: slot.gate().is_ok(),
            },
        }
    }
}
