//! The crate's public error: one enum that wraps each layer's own error.
//!
//! `Display` texts never carry secrets or user text (prompts, answers, names, statements);
//! they say what went wrong and, where a person can act, what to do.

use crate::engine::EngineError;
use crate::home::HomeError;
use crate::model_fetch::FetchError;
use crate::safety::SafetyError;
use crate::store::StoreError;

/// Everything that can go wrong in Keel.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Loading a model or generating text failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Finding, downloading or verifying a model file failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The state directory could not be used.
    #[error(transparent)]
    Home(#[from] HomeError),
    /// The encrypted store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The safety bundle or the gate refused or failed.
    #[error(transparent)]
    Safety(#[from] SafetyError),
}

/// Result with Keel's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
