//! The encrypted on-device store: everything Keel learns about a person, sealed at rest.
//!
//! It owns the SQLite file (WAL, `synchronous=FULL`, `secure_delete`, a busy timeout), its
//! schema and migrations ([`schema`]), record sealing ([`records`], through the one crypto
//! facade `crypto.rs`), the key hierarchy and key providers ([`keys`]), export/import
//! ([`export`]), the safety bundle's anti-rollback state (`bundle_state.rs`) and erasure. It
//! does not interpret what it stores: the learner decides what events and profiles mean.
//!
//! Layout on disk: one database file (the CLI uses `<home>/store/keel.db`) plus SQLite's
//! `-wal` and `-shm` files next to it. Users are found by a keyed blind index of their name;
//! names are never stored. See docs/adr/0010–0015 for the KDF, AEAD, key hierarchy, threat
//! model, SQLite settings and export format.
//!
//! Concurrency: a [`Store`] holds one connection behind a mutex (one writer per process, all
//! methods take `&self`); several processes may open the same file, SQLite serializes their
//! writes, and a writer that waits longer than the busy timeout gets [`StoreError::Busy`].
//!
//! Files: this one holds the [`Store`] type and its lock; `open.rs` opening and connection
//! settings; `header.rs` the header, canary and key unlocking; `users.rs` users, summaries and
//! erasure; `events.rs`, `profiles.rs`, `turns.rs`, `audit.rs` the record kinds;
//! `integrity.rs` checks and checkpoints; `rekey.rs` key change; `export.rs` export/import.

mod audit;
mod bundle_state;
mod crypto;
mod error;
mod events;
pub mod export;
mod header;
mod integrity;
pub mod keys;
mod open;
mod profiles;
pub mod records;
mod rekey;
pub mod schema;
mod turns;
mod users;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, Transaction};

pub use error::StoreError;
pub use export::{ExportPassphrase, ExportSummary, ImportSummary};
pub use integrity::{CorruptRef, IntegrityReport};
pub use keys::{
    KdfParams, KeyMethod, KeyProvider, KeyWrapError, KeyWrapper, PassphraseKeyProvider,
    PlatformKeyProvider, RawKeyProvider, SecretKey, SecretString, DEFAULT_PBKDF2_ITERATIONS,
};
pub use records::{
    AuditEntry, Event, Listing, NewEvent, Profile, TurnRecord, EVENT_KIND_STATEMENT,
};
pub use users::UserSummary;

pub(crate) use events::sealed_event_len;
pub(crate) use open::configure;

use keys::{StoreKeys, UserKeys};

/// How long a writer waits for another process's write lock before [`StoreError::Busy`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The file name the CLI and runtime use inside `<home>/store/`.
pub const DB_FILE_NAME: &str = "keel.db";

/// Where the store lives inside a Keel home directory: `<home>/store/keel.db`.
pub fn store_path(home: &Path) -> PathBuf {
    home.join("store").join(DB_FILE_NAME)
}

/// The encrypted store. Cheap to share behind an `Arc`; every method takes `&self`.
pub struct Store {
    path: PathBuf,
    inner: Mutex<Inner>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

struct Inner {
    conn: Connection,
    master: Arc<dyn KeyWrapper>,
    store_key: SecretKey,
    keys: StoreKeys,
    /// Unwrapped per-user keys, by user row id; only filled from committed rows.
    users: HashMap<i64, UserKeys>,
}

impl Store {
    /// Where the database file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written transaction (SQLite rolls
        // it back), so the connection is still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tests only: the raw connection, to simulate faults (size limits) in-process.
    #[cfg(test)]
    fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let g = self.lock();
        f(&g.conn)
    }
}

/// The next id of an AUTOINCREMENT table, under the write lock (the transaction must be
/// IMMEDIATE), so that the id can be bound into the record's associated data before insert.
fn next_id(tx: &Transaction<'_>, table_name: &'static str) -> Result<i64, StoreError> {
    // `table_name` is one of the store's constant table names, never input.
    let sql = format!(
        "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '{table_name}'), 0), \
                    COALESCE((SELECT max(id) FROM {table_name}), 0)) + 1"
    );
    Ok(tx.prepare_cached(&sql)?.query_row([], |r| r.get(0))?)
}

#[cfg(test)]
mod tests;
