//! Opening a store file: the pre-open checks (refuse what is plainly not SQLite or is
//! truncated), creating a new file and its directory with owner-only permissions, the
//! connection settings every store connection uses, and [`Store::open`] itself (create or
//! unlock, then upgrade the schema).

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::header::{create, unlock};
use super::keys::{KeyProvider, StoreKeys};
use super::{schema, Inner, Store, StoreError, BUSY_TIMEOUT};

/// Apply the connection settings every store connection uses (also used by the benchmark's
/// plain-SQLite baseline so that both run with the same settings).
pub(crate) fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Invalid("the file system does not support WAL"));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.pragma_update(None, "trusted_schema", "OFF")?;
    Ok(())
}

/// Refuse files that are plainly not SQLite, or truncated, before SQLite touches them.
fn precheck_file(path: &Path) -> Result<(), StoreError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(StoreError::Io {
                context: "reading the store file",
                source,
            })
        }
    };
    if !meta.is_file() {
        return Err(StoreError::Invalid("the store path is not a file"));
    }
    if meta.len() == 0 {
        return Ok(());
    }
    let mut header = [0u8; 100];
    let mut f = std::fs::File::open(path).map_err(|source| StoreError::Io {
        context: "reading the store file",
        source,
    })?;
    if f.read_exact(&mut header).is_err() {
        return Err(StoreError::NotADatabase("shorter than an SQLite header"));
    }
    if &header[..16] != b"SQLite format 3\0" {
        return Err(StoreError::NotADatabase("no SQLite header"));
    }
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536u64,
        n => u64::from(n),
    };
    let page_count = u64::from(u32::from_be_bytes([
        header[28], header[29], header[30], header[31],
    ]));
    let size_valid = header[24..28] == header[92..96];
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    let wal_has_frames = std::fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0);
    if size_valid && !wal_has_frames && page_count > 0 && meta.len() < page_size * page_count {
        return Err(StoreError::NotADatabase("the file is truncated"));
    }
    Ok(())
}

/// Create the store's directory (mode 0700 on Unix) and an empty database file (mode 0600;
/// SQLite gives its -wal and -shm files the same mode) when they do not exist yet. The data is
/// sealed either way; this keeps even sizes and counts from other local accounts.
fn prepare_new_file(path: &Path) -> Result<(), StoreError> {
    let io = |context| move |source| StoreError::Io { context, source };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(io("creating the store directory"))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(StoreError::Io {
            context: "creating the store file",
            source,
        }),
    }
}

impl Store {
    /// Open the store at `path` with `keys`, creating it (and its parent directory) if it
    /// does not exist. An existing store is checked against `keys` (the canary) before
    /// anything is read or written, then upgraded to the current schema.
    pub fn open(path: &Path, keys: &dyn KeyProvider) -> Result<Self, StoreError> {
        Self::open_at_version(path, keys, schema::CURRENT_VERSION)
    }

    /// Open an existing store; [`StoreError::Io`] with `NotFound` if there is none.
    pub fn open_existing(path: &Path, keys: &dyn KeyProvider) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Io {
                context: "opening the store",
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            });
        }
        Self::open(path, keys)
    }

    pub(super) fn open_at_version(
        path: &Path,
        keys: &dyn KeyProvider,
        target: u32,
    ) -> Result<Self, StoreError> {
        precheck_file(path)?;
        prepare_new_file(path)?;
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let version = schema::user_version(&conn)?;
        if version > schema::CURRENT_VERSION {
            return Err(StoreError::TooNew {
                found: version,
                supported: schema::CURRENT_VERSION,
            });
        }
        let created = if version == 0 {
            let objects: i64 =
                conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))?;
            if objects > 0 {
                return Err(StoreError::NotAKeelStore);
            }
            configure(&conn)?;
            create(&mut conn, keys, target)?
        } else {
            None
        };
        let (master, store_key) = match created {
            Some(k) => k,
            None => {
                let k = unlock(&conn, keys)?;
                configure(&conn)?;
                k
            }
        };
        schema::upgrade(&mut conn, target)?;
        let keys = StoreKeys::derive(&store_key)?;
        let store = Self {
            path: path.to_path_buf(),
            inner: Mutex::new(Inner {
                conn,
                master,
                store_key,
                keys,
                users: HashMap::new(),
            }),
        };
        tracing::debug!(version = target, "store opened");
        Ok(store)
    }
}
