//! The crate's public error: one enum that wraps each layer's own error.
//!
//! `Display` texts never carry secrets or user text (prompts, answers, names, statements);
//! they say what went wrong and, where a person can act, what to do.

use crate::engine::EngineError;
use crate::home::HomeError;
use crate::model_fetch::FetchError;
use crate::prefs::PrefsError;
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
    /// Feedback, a preference edit or an id was rejected (unknown turn, bad context key,
    /// an edit the envelope refuses...); nothing was stored.
    #[error(transparent)]
    Prefs(#[from] PrefsError),
    /// A stored record could not be encoded or read back as what it should be.
    #[error("a stored {0} record could not be encoded or decoded")]
    Record(&'static str),
    /// The runtime was not configured completely or consistently; the text says what to set.
    #[error("the Keel runtime is not configured: {0}")]
    Config(String),
    /// The runtime was closed; open a new one to continue.
    #[error("the Keel runtime is closed; open a new one")]
    Closed,
    /// The chat was cancelled before it started; nothing was generated or recorded.
    #[error("the chat was cancelled before it started")]
    Cancelled,
}

/// Result with Keel's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
