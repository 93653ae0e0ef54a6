//! The error of a personalized turn or a feedback call: the store, the learner or the turn
//! itself failed. Like every Keel error, `Display` names what went wrong, never a person's
//! text (prompts, answers, statements, edits).

use crate::prefs::PrefsError;
use crate::store::StoreError;
use crate::Error;

/// Why a personalized turn, a feedback event or a profile call failed.
#[derive(Debug, thiserror::Error)]
pub enum PersonalError {
    /// The engine, the bundle or the gate failed.
    #[error(transparent)]
    Keel(#[from] Error),
    /// The encrypted store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The feedback or preference was rejected (unknown turn, empty edit, pairwise choice
    /// between different prompts, a refused preference...).
    #[error(transparent)]
    Prefs(#[from] PrefsError),
    /// A stored record could not be encoded or read back as what it should be.
    #[error("a stored {0} record could not be encoded or decoded")]
    Record(&'static str),
}
