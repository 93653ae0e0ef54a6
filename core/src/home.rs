//! Keel's state directory: where it is, and checking that it can be used.
//!
//! Everything Keel keeps on disk (models, the store, bundle state, server tokens) lives under
//! one directory, chosen by `--home`, `KEEL_HOME`, or the platform's data directory.

use std::path::{Path, PathBuf};

/// Why the state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    /// No directory was given and the platform has no data directory.
    #[error("no home directory could be found; pass --home DIR or set KEEL_HOME")]
    NoDataDir,
    /// The directory cannot be created or written.
    #[error(
        "the Keel home {path} is not writable ({source}); pass --home with a writable directory"
    )]
    NotWritable {
        /// The directory.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
}

/// The default state directory: `<data dir>/keel`, e.g. `~/.local/share/keel`.
pub fn default_home() -> Result<PathBuf, HomeError> {
    dirs::data_dir()
        .map(|d| d.join("keel"))
        .ok_or(HomeError::NoDataDir)
}

/// Resolve the state directory (`explicit` or the default), create it, and check that a file
/// can be written in it.
pub fn resolve(explicit: Option<&Path>) -> Result<PathBuf, HomeError> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => default_home()?,
    };
    ensure_writable(&path)?;
    Ok(path)
}

/// Create `dir` if needed and prove it is writable by creating and removing a probe file.
pub fn ensure_writable(dir: &Path) -> Result<(), HomeError> {
    let fail = |source| HomeError::NotWritable {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(format!(".keel-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_creates_the_directory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let home = tmp.path().join("a/b");
        assert_eq!(resolve(Some(&home)).expect("resolve"), home);
        assert!(home.is_dir());
    }

    #[test]
    fn a_file_in_the_way_is_not_writable() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("file");
        std::fs::write(&file, b"x").expect("write");
        let err = resolve(Some(&file.join("home"))).expect_err("must fail");
        assert!(matches!(err, HomeError::NotWritable { .. }));
        assert!(err.to_string().contains("--home"));
    }
}
