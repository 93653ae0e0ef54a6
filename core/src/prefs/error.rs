//! The one error type of [`crate::prefs`]. No variant carries a person's text: `Display`
//! names what was wrong, never what was written.

/// Why a feedback event, statement or learner operation was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrefsError {
    /// The event names a turn the caller does not know.
    #[error("feedback refers to a turn that is not known")]
    UnknownTurn,
    /// A turn id is empty, too long or has control characters.
    #[error("a turn id must be 1 to 128 printable characters")]
    BadTurnId,
    /// A context key is empty, too long or has control characters.
    #[error("a context key must be 1 to 64 printable characters")]
    BadContextKey,
    /// An edit with no text in it.
    #[error("an edit must contain text")]
    EmptyEdit,
    /// An edit identical to the answer it edits.
    #[error("an edit must differ from the answer it edits")]
    UnchangedEdit,
    /// A pairwise choice between answers to two different prompts.
    #[error("a pairwise choice must compare two answers to the same prompt")]
    DifferentPrompts,
    /// A pairwise choice of an answer against itself.
    #[error("a pairwise choice must compare two different answers")]
    SameAnswer,
    /// A statement with no text in it.
    #[error("a statement must contain text")]
    EmptyStatement,
    /// A preference value that is not a number from 0 to 1.
    #[error("a preference value must be a number from 0 to 1")]
    BadValue,
    /// An embedding block of the wrong length.
    #[error("an embedding has {got} values; the learner expects {expected}")]
    EmbeddingLength {
        /// What the learner was built for.
        expected: usize,
        /// What was supplied.
        got: usize,
    },
    /// A feature or weight that is not a finite number.
    #[error("a feature value is not a finite number")]
    NonFinite,
    /// A prior whose vectors do not fit the learner or hold impossible values.
    #[error("the population prior is invalid: {0}")]
    InvalidPrior(&'static str),
    /// A learner configuration outside its allowed ranges.
    #[error("the learner configuration is invalid: {0}")]
    InvalidConfig(&'static str),
    /// The personalization envelope refuses the preference; the reason is the envelope's own
    /// wording (about dimensions and ranges), never the person's text.
    #[error("{reason}")]
    Refused {
        /// Why, for people.
        reason: String,
    },
}
