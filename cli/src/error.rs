//! The CLI's error: Keel's errors plus the CLI's own (usage, terminal I/O).

/// What can make a `keel` command fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Keel itself failed.
    #[error(transparent)]
    Keel(#[from] keel::Error),
    /// Reading or writing a file or the terminal failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// The command line was valid syntax but cannot be carried out; the text says what to do.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// An I/O failure with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<keel::home::HomeError> for CliError {
    fn from(e: keel::home::HomeError) -> Self {
        Self::Keel(e.into())
    }
}
impl From<keel::engine::EngineError> for CliError {
    fn from(e: keel::engine::EngineError) -> Self {
        Self::Keel(e.into())
    }
}
impl From<keel::store::StoreError> for CliError {
    fn from(e: keel::store::StoreError) -> Self {
        Self::Keel(e.into())
    }
}
impl From<keel::safety::SafetyError> for CliError {
    fn from(e: keel::safety::SafetyError) -> Self {
        Self::Keel(e.into())
    }
}
