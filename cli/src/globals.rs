//! Options every `keel` command shares: where state lives, which model, and output format.

use std::path::PathBuf;

/// Resolved global options.
#[derive(Debug, Clone)]
pub struct Globals {
    /// The state directory (`--home` or `KEEL_HOME`), already checked to be usable.
    pub home: PathBuf,
    /// A model path given with `--model` or `KEEL_MODEL`.
    pub model: Option<PathBuf>,
    /// Print data as JSON.
    pub json: bool,
}
