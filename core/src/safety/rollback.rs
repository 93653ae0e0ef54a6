//! The anti-rollback state: the highest bundle version the runtime has accepted, and its
//! digest. The safety layer reads and writes it through [`RollbackStore`]; the encrypted store
//! implements it (sealed so that editing the file cannot lower it), tests use memory.

/// The highest accepted bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcceptedBundle {
    /// The bundle payload's version.
    pub version: u64,
    /// SHA-256 of the bundle payload.
    pub digest: [u8; 32],
}

/// Why the anti-rollback state could not be used. The text names the failure, never user data.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct RollbackStoreError {
    /// What failed, for people.
    pub reason: String,
}

/// Where the runtime remembers the highest bundle version it accepted.
pub trait RollbackStore {
    /// The highest accepted bundle, if any was ever accepted.
    fn highest_accepted(&self) -> Result<Option<AcceptedBundle>, RollbackStoreError>;
    /// Remember `accepted` as the highest accepted bundle. Callers only raise it.
    fn record_accepted(&self, accepted: &AcceptedBundle) -> Result<(), RollbackStoreError>;
}
