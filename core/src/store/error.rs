//! The store's errors. `Display` texts name what failed and what a person can do; they never
//! carry secrets, user names, statements or record contents — at most a table name and a row id.

use super::crypto::CryptoError;
use super::keys::KeyWrapError;

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed in a way not covered by a more specific variant.
    #[error("the store's database failed: {0}")]
    Sqlite(#[source] rusqlite::Error),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// The passphrase or key does not open this store (the canary did not authenticate), or
    /// the store was made with another kind of key. Nothing was modified.
    #[error("wrong passphrase or key for this store (nothing was changed)")]
    WrongKey,
    /// The file is not an SQLite database, or it is truncated or damaged beyond SQLite's
    /// recovery. It was not modified.
    #[error(
        "the store file is not a database or is truncated/damaged ({0}); it was left untouched"
    )]
    NotADatabase(&'static str),
    /// The file is an SQLite database but not a Keel store.
    #[error("the file is an SQLite database but not a Keel store; it was left untouched")]
    NotAKeelStore,
    /// The store was written by a newer Keel; this version does not downgrade it.
    #[error("the store has schema version {found}, newer than this Keel supports ({supported}); upgrade Keel")]
    TooNew {
        /// The schema version found in the file.
        found: u32,
        /// The newest schema version this code knows.
        supported: u32,
    },
    /// One sealed record failed to authenticate: it was altered, damaged, or moved from another
    /// row or user. Other records are unaffected.
    #[error("record {id} in table {table} is corrupt or was moved; it was not returned")]
    CorruptRecord {
        /// The table.
        table: &'static str,
        /// The row id (or user id for per-user rows).
        id: i64,
    },
    /// Store-wide sealed state (header, key wrapping, anti-rollback state) is missing or does
    /// not authenticate; the store refuses to guess.
    #[error("the store's {0} is missing or corrupt; the file was altered")]
    CorruptState(&'static str),
    /// Another process changed the store's passphrase or key since this handle opened it;
    /// nothing was written. Open the store again with the new key.
    #[error("the store was re-keyed by another process; open it again with the new key")]
    Rekeyed,
    /// Another process holds the write lock longer than the busy timeout.
    #[error("the store is busy (another process is writing); try again")]
    Busy,
    /// The disk (or the database size limit) is full; the transaction was rolled back.
    #[error("the disk is full; the change was not saved (nothing was half-applied)")]
    DiskFull,
    /// A key-derivation or cipher primitive failed (for example the system random generator).
    #[error("a cryptographic operation failed")]
    Crypto,
    /// The platform keystore failed.
    #[error("the key store failed: {0}")]
    KeyStore(String),
    /// An argument or parameter was invalid; the text says which.
    #[error("invalid input: {0}")]
    Invalid(&'static str),
    /// The file is not a Keel export.
    #[error("the file is not a Keel export")]
    NotAnExport,
    /// The export file has a format version this Keel does not know.
    #[error("the export has format version {found}; this Keel reads version {supported}")]
    ExportVersion {
        /// The version in the file.
        found: u16,
        /// The version this code reads.
        supported: u16,
    },
    /// The export did not authenticate: wrong export passphrase, or the file was altered.
    #[error("the export cannot be opened: wrong export passphrase, or the file was altered")]
    ExportUnreadable,
    /// The anti-rollback state would go down (or change at the same version); refused.
    #[error("refusing to lower the accepted bundle version from {current} to {requested}")]
    RollbackRefused {
        /// The version already accepted.
        current: u64,
        /// The version that was offered.
        requested: u64,
    },
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode;
        match e.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Self::Busy,
            Some(ErrorCode::DiskFull) => Self::DiskFull,
            Some(ErrorCode::NotADatabase) => Self::NotADatabase("SQLite does not recognise it"),
            Some(ErrorCode::DatabaseCorrupt) => Self::NotADatabase("SQLite reports it malformed"),
            _ => Self::Sqlite(e),
        }
    }
}

impl From<CryptoError> for StoreError {
    fn from(_: CryptoError) -> Self {
        Self::Crypto
    }
}

impl From<KeyWrapError> for StoreError {
    fn from(e: KeyWrapError) -> Self {
        match e {
            KeyWrapError::WrongKey => Self::WrongKey,
            KeyWrapError::Unavailable(reason) => Self::KeyStore(reason),
        }
    }
}
