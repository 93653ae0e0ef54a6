pub mod rollback;
#[derive(Debug, thiserror::Error)]
pub enum SafetyError {
    #[error("the bundle anti-rollback state is unavailable: {0}")]
    RollbackState(#[from] rollback::RollbackStoreError),
}
