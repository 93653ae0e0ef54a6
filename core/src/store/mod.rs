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

mod bundle_state;
mod crypto;
mod error;
pub mod export;
pub mod keys;
pub mod records;
pub mod schema;

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

pub use error::StoreError;
pub use export::{ExportPassphrase, ExportSummary, ImportSummary};
pub use keys::{
    KdfParams, KeyMethod, KeyProvider, KeyWrapError, KeyWrapper, PassphraseKeyProvider,
    PlatformKeyProvider, RawKeyProvider, SecretKey, SecretString, DEFAULT_PBKDF2_ITERATIONS,
};
pub use records::{
    AuditEntry, Event, Listing, NewEvent, Profile, TurnRecord, EVENT_KIND_STATEMENT,
};

use keys::{StoreKeys, UserKeys};
use records::table;

/// How long a writer waits for another process's write lock before [`StoreError::Busy`].
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The file name the CLI and runtime use inside `<home>/store/`.
pub const DB_FILE_NAME: &str = "keel.db";

/// Where the store lives inside a Keel home directory: `<home>/store/keel.db`.
pub fn store_path(home: &Path) -> PathBuf {
    home.join("store").join(DB_FILE_NAME)
}

/// The plaintext of the canary: a constant that only the right master key unwraps.
const CANARY: [u8; 32] = *b"keel-store canary v1 ...........";

fn ad_canary() -> Vec<u8> {
    crypto::associated_data(records::RECORD_FORMAT, table::HEADER, 0, b"canary")
}

fn ad_store_key() -> Vec<u8> {
    crypto::associated_data(records::RECORD_FORMAT, table::HEADER, 0, b"store-key")
}

fn ad_user_key(blind_index: &[u8]) -> Vec<u8> {
    crypto::associated_data(records::RECORD_FORMAT, table::USERS, 0, blind_index)
}

/// What [`Store::summary`] reports about one user (counts only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct UserSummary {
    /// Whether the store knows this user at all.
    pub exists: bool,
    /// Stored events.
    pub events: u64,
    /// Recorded turns.
    pub turns: u64,
    /// Audit entries.
    pub audit_entries: u64,
    /// The profile's revision, if a profile was saved.
    pub profile_revision: Option<i64>,
}

/// A record that failed to authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CorruptRef {
    /// The table.
    pub table: &'static str,
    /// The row id.
    pub id: i64,
}

/// The result of [`Store::integrity_check`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IntegrityReport {
    /// `PRAGMA integrity_check` said `ok`.
    pub sqlite_ok: bool,
    /// What `PRAGMA integrity_check` said when not ok (structural messages only).
    pub sqlite_messages: Vec<String>,
    /// Sealed records that were opened.
    pub records_checked: u64,
    /// Sealed records that did not authenticate.
    pub corrupt: Vec<CorruptRef>,
    /// The anti-rollback state authenticated.
    pub bundle_state_ok: bool,
}

impl IntegrityReport {
    /// Everything is fine.
    pub fn is_ok(&self) -> bool {
        self.sqlite_ok && self.corrupt.is_empty() && self.bundle_state_ok
    }
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

/// The size of the sealed blob that [`Store::add_event`] stores for `event` (for the
/// benchmark's same-size plain row).
pub(crate) fn sealed_event_len(event: &NewEvent<'_>) -> Result<usize, StoreError> {
    Ok(records::encode_event(event, records::now_ms())?.len() + crypto::SEAL_OVERHEAD)
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

    fn open_at_version(
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

    /// Store an event for `user` (creating the user on first write). One transaction, committed
    /// with fsync before this returns. Returns the event's id.
    pub fn add_event(&self, user: &str, event: &NewEvent<'_>) -> Result<i64, StoreError> {
        check_user(user)?;
        event.validate()?;
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (uid, fresh) = ensure_user(&tx, inner.master.as_ref(), &inner.keys, user)?;
        let ukeys = match &fresh {
            Some(k) => k,
            None => user_keys(&tx, inner.master.as_ref(), &mut inner.users, uid)?,
        };
        let id = insert_event(&tx, ukeys, uid, event, records::now_ms())?;
        tx.commit()?;
        if let Some(k) = fresh {
            inner.users.insert(uid, k);
        }
        Ok(id)
    }

    /// Store an explicit preference statement (an event of kind [`EVENT_KIND_STATEMENT`]).
    pub fn add_statement(
        &self,
        user: &str,
        statement: &str,
        context: Option<&str>,
    ) -> Result<i64, StoreError> {
        let mut e = NewEvent::new(EVENT_KIND_STATEMENT, statement.as_bytes());
        e.context = context;
        self.add_event(user, &e)
    }

    /// All of `user`'s events in id order; records that fail to authenticate are listed by id
    /// in `corrupt` and never returned as data.
    pub fn list_events(&self, user: &str) -> Result<Listing<Event>, StoreError> {
        self.list_events_after(user, 0)
    }

    /// `user`'s events with an id greater than `after` (for incremental consumers).
    pub fn list_events_after(&self, user: &str, after: i64) -> Result<Listing<Event>, StoreError> {
        check_user(user)?;
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner.conn.transaction()?;
        let Some(uid) = find_user(&tx, &inner.keys, user)? else {
            return Ok(Listing::default());
        };
        let ukeys = user_keys(&tx, inner.master.as_ref(), &mut inner.users, uid)?;
        let mut out = Listing::default();
        let mut stmt =
            tx.prepare("SELECT id, sealed FROM events WHERE user_id = ?1 AND id > ?2 ORDER BY id")?;
        let mut rows = stmt.query(rusqlite::params![uid, after])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let sealed: Vec<u8> = row.get(1)?;
            let event = records::open_record(
                &ukeys.records,
                table::EVENTS,
                uid,
                &id.to_be_bytes(),
                &sealed,
            )
            .and_then(|plain| records::decode_event(id, &plain));
            match event {
                Some(e) => out.items.push(e),
                None => {
                    records::corrupt(table::EVENTS, id);
                    out.corrupt.push(id);
                }
            }
        }
        Ok(out)
    }

    /// Save `user`'s profile snapshot (replacing the previous one). Returns the new revision.
    pub fn save_profile(&self, user: &str, body: &[u8]) -> Result<i64, StoreError> {
        check_user(user)?;
        records::check_body(body)?;
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (uid, fresh) = ensure_user(&tx, inner.master.as_ref(), &inner.keys, user)?;
        let ukeys = match &fresh {
            Some(k) => k,
            None => user_keys(&tx, inner.master.as_ref(), &mut inner.users, uid)?,
        };
        let rev = write_profile(&tx, ukeys, uid, records::now_ms(), body)?;
        tx.commit()?;
        if let Some(k) = fresh {
            inner.users.insert(uid, k);
        }
        Ok(rev)
    }

    /// `user`'s profile snapshot, if one was saved. A profile that fails to authenticate is
    /// [`StoreError::CorruptRecord`] (with the user's row id), never returned.
    pub fn load_profile(&self, user: &str) -> Result<Option<Profile>, StoreError> {
        check_user(user)?;
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner.conn.transaction()?;
        let Some(uid) = find_user(&tx, &inner.keys, user)? else {
            return Ok(None);
        };
        let ukeys = user_keys(&tx, inner.master.as_ref(), &mut inner.users, uid)?;
        read_profile(&tx, ukeys, uid)
    }

    /// Record a chat turn for `user` under `turn_id` (replacing an earlier record of the same
    /// id). The turn id is stored only as a keyed blind index.
    pub fn record_turn(&self, user: &str, turn_id: &str, body: &[u8]) -> Result<(), StoreError> {
        check_user(user)?;
        records::check_name(turn_id, "a turn id must be 1 to 256 bytes")?;
        records::check_body(body)?;
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (uid, fresh) = ensure_user(&tx, inner.master.as_ref(), &inner.keys, user)?;
        let ukeys = match &fresh {
            Some(k) => k,
            None => user_keys(&tx, inner.master.as_ref(), &mut inner.users, uid)?,
        };
        write_turn(&tx, ukeys, uid, turn_id, records::now_ms(), body)?;
        tx.commit()?;
        if let Some(k) = fresh {
            inner.users.insert(uid, k);
        }
        Ok(())
    }

    /// The turn `user` recorded under `turn_id`, if any.
    pub fn load_turn(&self, user: &str, turn_id: &str) -> Result<Option<TurnRecord>, StoreError> {
        check_user(user)?;
        records::check_name(turn_id, "a turn id must be 1 to 256 bytes")?;
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner.conn.transaction()?;
        let Some(uid) = find_user(&tx, &inner.keys, user)? else {
            return Ok(None);
        };
        let ukeys = user_keys(&tx, inner.master.as_ref(), &mut inner.users, uid)?;
        let index = crypto::blind_index(&ukeys.turn_index, turn_id.as_bytes());
        let row: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT id, sealed FROM turns WHERE user_id = ?1 AND turn_index = ?2",
                rusqlite::params![uid, index.as_slice()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((id, sealed)) = row else {
            return Ok(None);
        };
        open_turn(ukeys, uid, id, &index, &sealed)
            .map(Some)
            .ok_or_else(|| records::corrupt(table::TURNS, id))
    }

    /// All of `user`'s turn records.
    pub fn list_turns(&self, user: &str) -> Result<Listing<TurnRecord>, StoreError> {
        check_user(user)?;
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner.conn.transaction()?;
        let Some(uid) = find_user(&tx, &inner.keys, user)? else {
            return Ok(Listing::default());
        };
        let ukeys = user_keys(&tx, inner.master.as_ref(), &mut inner.users, uid)?;
        list_turns_of(&tx, ukeys, uid)
    }

    /// Append an audit entry (what happened to the user's data) for `user`.
    pub fn append_audit(&self, user: &str, text: &str) -> Result<i64, StoreError> {
        check_user(user)?;
        records::check_body(text.as_bytes())?;
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (uid, fresh) = ensure_user(&tx, inner.master.as_ref(), &inner.keys, user)?;
        let ukeys = match &fresh {
            Some(k) => k,
            None => user_keys(&tx, inner.master.as_ref(), &mut inner.users, uid)?,
        };
        let id = write_audit(&tx, ukeys, uid, text)?;
        tx.commit()?;
        if let Some(k) = fresh {
            inner.users.insert(uid, k);
        }
        Ok(id)
    }

    /// `user`'s audit entries in order.
    pub fn list_audit(&self, user: &str) -> Result<Listing<AuditEntry>, StoreError> {
        check_user(user)?;
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner.conn.transaction()?;
        let Some(uid) = find_user(&tx, &inner.keys, user)? else {
            return Ok(Listing::default());
        };
        let ukeys = user_keys(&tx, inner.master.as_ref(), &mut inner.users, uid)?;
        let mut out = Listing::default();
        let mut stmt = tx.prepare("SELECT id, sealed FROM audit WHERE user_id = ?1 ORDER BY id")?;
        let mut rows = stmt.query([uid])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let sealed: Vec<u8> = row.get(1)?;
            let entry = records::open_record(
                &ukeys.records,
                table::AUDIT,
                uid,
                &id.to_be_bytes(),
                &sealed,
            )
            .and_then(|p| records::decode_body(&p))
            .and_then(|(at_ms, _, _, body)| {
                String::from_utf8(body)
                    .ok()
                    .map(|text| AuditEntry { id, at_ms, text })
            });
            match entry {
                Some(e) => out.items.push(e),
                None => {
                    records::corrupt(table::AUDIT, id);
                    out.corrupt.push(id);
                }
            }
        }
        Ok(out)
    }

    /// Whether the store knows `user`.
    pub fn user_exists(&self, user: &str) -> Result<bool, StoreError> {
        check_user(user)?;
        let g = self.lock();
        Ok(find_user(&g.conn, &g.keys, user)?.is_some())
    }

    /// Counts of what is stored for `user` (nothing is decrypted).
    pub fn summary(&self, user: &str) -> Result<UserSummary, StoreError> {
        check_user(user)?;
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner.conn.transaction()?;
        let Some(uid) = find_user(&tx, &inner.keys, user)? else {
            return Ok(UserSummary {
                exists: false,
                events: 0,
                turns: 0,
                audit_entries: 0,
                profile_revision: None,
            });
        };
        let count = |sql: &str| -> Result<u64, StoreError> {
            let n: i64 = tx.query_row(sql, [uid], |r| r.get(0))?;
            Ok(u64::try_from(n).unwrap_or(0))
        };
        Ok(UserSummary {
            exists: true,
            events: count("SELECT count(*) FROM events WHERE user_id = ?1")?,
            turns: count("SELECT count(*) FROM turns WHERE user_id = ?1")?,
            audit_entries: count("SELECT count(*) FROM audit WHERE user_id = ?1")?,
            profile_revision: tx
                .query_row(
                    "SELECT revision FROM profiles WHERE user_id = ?1",
                    [uid],
                    |r| r.get(0),
                )
                .optional()?,
        })
    }

    /// How many users the store holds (their names are not stored).
    pub fn user_count(&self) -> Result<u64, StoreError> {
        let g = self.lock();
        let n: i64 = g
            .conn
            .query_row("SELECT count(*) FROM users", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Forget `user` (crypto-shredding): delete their wrapped data key and blind index and all
    /// their rows in one transaction (with `secure_delete`, freed pages are zeroed), drop their
    /// keys from memory, then checkpoint and truncate the WAL so no old page survives in it.
    /// Returns whether the user existed. Exports taken earlier stay readable with their own
    /// export passphrase: they are separate files the user chose to make.
    pub fn forget(&self, user: &str) -> Result<bool, StoreError> {
        check_user(user)?;
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(uid) = find_user(&tx, &inner.keys, user)? else {
            return Ok(false);
        };
        for sql in [
            "DELETE FROM events WHERE user_id = ?1",
            "DELETE FROM profiles WHERE user_id = ?1",
            "DELETE FROM turns WHERE user_id = ?1",
            "DELETE FROM audit WHERE user_id = ?1",
            "DELETE FROM users WHERE id = ?1",
        ] {
            tx.execute(sql, [uid])?;
        }
        tx.commit()?;
        inner.users.remove(&uid);
        checkpoint_truncate(&inner.conn);
        tracing::info!("a user was forgotten");
        Ok(true)
    }

    /// Copy the WAL into the database and truncate it (best effort: readers in other
    /// processes may hold it; it is then retried at the next checkpoint).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let g = self.lock();
        checkpoint_truncate(&g.conn);
        Ok(())
    }

    /// Re-key the store: wrap the store key and every user's data key under the master key of
    /// `new_keys` (with fresh KDF parameters, e.g. a new passphrase or more iterations).
    /// Records are not re-encrypted. One transaction: a crash leaves the old key valid.
    pub fn change_key(&self, new_keys: &dyn KeyProvider) -> Result<(), StoreError> {
        let params = new_keys.new_params()?;
        let new_master = new_keys.unlock(&params)?;
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        ensure_current_master(&tx, inner.master.as_ref())?;
        let users: Vec<(i64, Vec<u8>, Vec<u8>)> = {
            let mut stmt = tx.prepare("SELECT id, blind_index, wrapped_key FROM users")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            rows
        };
        for (uid, bi, wrapped) in users {
            let ad = ad_user_key(&bi);
            let data_key = inner
                .master
                .unwrap(&ad, &wrapped)
                .map_err(|_| records::corrupt(table::USERS, uid))?;
            let rewrapped = new_master.wrap(&ad, &data_key)?;
            tx.execute(
                "UPDATE users SET wrapped_key = ?1 WHERE id = ?2",
                rusqlite::params![rewrapped, uid],
            )?;
        }
        let canary = new_master.wrap(&ad_canary(), &SecretKey::from_bytes(CANARY))?;
        let wrapped_store_key = new_master.wrap(&ad_store_key(), &inner.store_key)?;
        tx.execute(
            "UPDATE header SET key_method = ?1, kdf_iterations = ?2, kdf_salt = ?3, canary = ?4, \
             wrapped_store_key = ?5 WHERE id = 1",
            rusqlite::params![
                new_keys.method().as_str(),
                params.iterations,
                params.salt,
                canary,
                wrapped_store_key
            ],
        )?;
        tx.commit()?;
        inner.master = new_master;
        checkpoint_truncate(&inner.conn);
        tracing::info!("the store was re-keyed");
        Ok(())
    }

    /// The KDF parameters in the header (public values: method, iterations, salt length).
    pub fn kdf_params(&self) -> Result<(KeyMethod, KdfParams), StoreError> {
        let g = self.lock();
        read_header(&g.conn).map(|h| (h.method, h.params))
    }

    /// Check the database structure (`PRAGMA integrity_check`) and open every sealed record.
    pub fn integrity_check(&self) -> Result<IntegrityReport, StoreError> {
        let mut g = self.lock();
        let inner = &mut *g;
        let messages: Vec<String> = {
            let mut stmt = inner.conn.prepare("PRAGMA integrity_check")?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            rows
        };
        let sqlite_ok = messages.len() == 1 && messages[0] == "ok";
        let mut report = IntegrityReport {
            sqlite_ok,
            sqlite_messages: if sqlite_ok { Vec::new() } else { messages },
            records_checked: 0,
            corrupt: Vec::new(),
            bundle_state_ok: bundle_state::read(&inner.conn, &inner.keys).is_ok(),
        };
        let tx = inner.conn.transaction()?;
        let uids: Vec<i64> = {
            let mut stmt = tx.prepare("SELECT id FROM users ORDER BY id")?;
            let rows = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<_>, _>>()?;
            rows
        };
        for uid in uids {
            report.records_checked += 1;
            let ukeys = match user_keys(&tx, inner.master.as_ref(), &mut inner.users, uid) {
                Ok(k) => k,
                Err(StoreError::CorruptRecord { .. }) => {
                    report.corrupt.push(CorruptRef {
                        table: table::USERS,
                        id: uid,
                    });
                    continue;
                }
                Err(e) => return Err(e),
            };
            for (tbl, sql) in [
                (
                    table::EVENTS,
                    "SELECT id, sealed FROM events WHERE user_id = ?1 ORDER BY id",
                ),
                (
                    table::AUDIT,
                    "SELECT id, sealed FROM audit WHERE user_id = ?1 ORDER BY id",
                ),
            ] {
                let mut stmt = tx.prepare(sql)?;
                let mut rows = stmt.query([uid])?;
                while let Some(row) = rows.next()? {
                    let id: i64 = row.get(0)?;
                    let sealed: Vec<u8> = row.get(1)?;
                    report.records_checked += 1;
                    if records::open_record(&ukeys.records, tbl, uid, &id.to_be_bytes(), &sealed)
                        .is_none()
                    {
                        report.corrupt.push(CorruptRef { table: tbl, id });
                    }
                }
            }
            let turns = list_turns_of(&tx, ukeys, uid)?;
            report.records_checked += (turns.items.len() + turns.corrupt.len()) as u64;
            report
                .corrupt
                .extend(turns.corrupt.iter().map(|&id| CorruptRef {
                    table: table::TURNS,
                    id,
                }));
            let has_profile: bool = tx
                .query_row("SELECT 1 FROM profiles WHERE user_id = ?1", [uid], |_| {
                    Ok(true)
                })
                .optional()?
                .unwrap_or(false);
            if has_profile {
                report.records_checked += 1;
                if read_profile(&tx, ukeys, uid).is_err() {
                    report.corrupt.push(CorruptRef {
                        table: table::PROFILES,
                        id: uid,
                    });
                }
            }
        }
        Ok(report)
    }

    /// Tests only: the raw connection, to simulate faults (size limits) in-process.
    #[cfg(test)]
    fn with_conn<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let g = self.lock();
        f(&g.conn)
    }
}

// ---- helpers shared by the operations --------------------------------------------------

fn check_user(user: &str) -> Result<(), StoreError> {
    records::check_name(user, "a user name must be 1 to 256 bytes")
}

fn checkpoint_truncate(conn: &Connection) {
    let res: Result<(i64, i64, i64), _> =
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        });
    match res {
        Ok((0, _, _)) => {}
        Ok(_) => tracing::debug!("WAL checkpoint was partial (another reader)"),
        Err(e) => tracing::debug!(error = %e, "WAL checkpoint failed"),
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

fn user_blind_index(keys: &StoreKeys, user: &str) -> [u8; 32] {
    let mut msg = Vec::with_capacity(16 + user.len());
    msg.extend_from_slice(b"keel/user/v1\0");
    msg.extend_from_slice(user.as_bytes());
    let bi = crypto::blind_index(&keys.user_index, &msg);
    keys::wipe(&mut msg);
    bi
}

fn find_user(conn: &Connection, keys: &StoreKeys, user: &str) -> Result<Option<i64>, StoreError> {
    let bi = user_blind_index(keys, user);
    Ok(conn
        .prepare_cached("SELECT id FROM users WHERE blind_index = ?1")?
        .query_row([bi.as_slice()], |r| r.get(0))
        .optional()?)
}

/// Find `user` or create them with a fresh data key. Returns the row id and, for a new user,
/// their keys (to be cached only after the transaction commits).
fn ensure_user(
    tx: &Transaction<'_>,
    master: &dyn KeyWrapper,
    keys: &StoreKeys,
    user: &str,
) -> Result<(i64, Option<UserKeys>), StoreError> {
    if let Some(uid) = find_user(tx, keys, user)? {
        return Ok((uid, None));
    }
    ensure_current_master(tx, master)?;
    let bi = user_blind_index(keys, user);
    let data_key = crypto::random_key()?;
    let wrapped = master.wrap(&ad_user_key(&bi), &data_key)?;
    let uid = next_id(tx, table::USERS)?;
    tx.execute(
        "INSERT INTO users (id, blind_index, wrapped_key) VALUES (?1, ?2, ?3)",
        rusqlite::params![uid, bi.as_slice(), wrapped],
    )?;
    Ok((uid, Some(UserKeys::derive(&data_key)?)))
}

/// Before wrapping anything new under `master`, check (inside the write transaction) that it
/// still opens the header's canary: another process may have re-keyed the store since this
/// one opened it, and a key wrapped under the old master would be lost.
fn ensure_current_master(tx: &Transaction<'_>, master: &dyn KeyWrapper) -> Result<(), StoreError> {
    let canary: Vec<u8> =
        tx.query_row("SELECT canary FROM header WHERE id = 1", [], |r| r.get(0))?;
    match master.unwrap(&ad_canary(), &canary) {
        Ok(k) if k.expose_secret() == &CANARY => Ok(()),
        Ok(_) | Err(KeyWrapError::WrongKey) => Err(StoreError::Rekeyed),
        Err(e) => Err(e.into()),
    }
}

/// The keys of user `uid`, unwrapped once and cached.
fn user_keys<'a>(
    conn: &Connection,
    master: &dyn KeyWrapper,
    cache: &'a mut HashMap<i64, UserKeys>,
    uid: i64,
) -> Result<&'a UserKeys, StoreError> {
    match cache.entry(uid) {
        Entry::Occupied(e) => Ok(e.into_mut()),
        Entry::Vacant(slot) => {
            let (bi, wrapped): (Vec<u8>, Vec<u8>) = conn.query_row(
                "SELECT blind_index, wrapped_key FROM users WHERE id = ?1",
                [uid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let data_key = master
                .unwrap(&ad_user_key(&bi), &wrapped)
                .map_err(|e| match e {
                    KeyWrapError::WrongKey => records::corrupt(table::USERS, uid),
                    other => other.into(),
                })?;
            Ok(slot.insert(UserKeys::derive(&data_key)?))
        }
    }
}

fn insert_event(
    tx: &Transaction<'_>,
    ukeys: &UserKeys,
    uid: i64,
    event: &NewEvent<'_>,
    at_ms: i64,
) -> Result<i64, StoreError> {
    let id = next_id(tx, table::EVENTS)?;
    let plain = records::encode_event(event, at_ms)?;
    let sealed = records::seal_record(
        &ukeys.records,
        table::EVENTS,
        uid,
        &id.to_be_bytes(),
        &plain,
    )?;
    tx.prepare_cached("INSERT INTO events (id, user_id, sealed) VALUES (?1, ?2, ?3)")?
        .execute(rusqlite::params![id, uid, sealed])?;
    Ok(id)
}

fn write_profile(
    tx: &Transaction<'_>,
    ukeys: &UserKeys,
    uid: i64,
    at_ms: i64,
    body: &[u8],
) -> Result<i64, StoreError> {
    let rev: i64 = tx
        .query_row(
            "SELECT revision FROM profiles WHERE user_id = ?1",
            [uid],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(0)
        + 1;
    let plain = records::encode_body(at_ms, None, rev, body)?;
    let sealed = records::seal_record(
        &ukeys.records,
        table::PROFILES,
        uid,
        &rev.to_be_bytes(),
        &plain,
    )?;
    tx.execute(
        "INSERT INTO profiles (user_id, revision, sealed) VALUES (?1, ?2, ?3) \
         ON CONFLICT (user_id) DO UPDATE SET revision = excluded.revision, sealed = excluded.sealed",
        rusqlite::params![uid, rev, sealed],
    )?;
    Ok(rev)
}

fn read_profile(
    conn: &Connection,
    ukeys: &UserKeys,
    uid: i64,
) -> Result<Option<Profile>, StoreError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .prepare_cached("SELECT revision, sealed FROM profiles WHERE user_id = ?1")?
        .query_row([uid], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((rev, sealed)) = row else {
        return Ok(None);
    };
    records::open_record(
        &ukeys.records,
        table::PROFILES,
        uid,
        &rev.to_be_bytes(),
        &sealed,
    )
    .and_then(|p| records::decode_body(&p))
    .filter(|(_, _, r, _)| *r == rev)
    .map(|(saved_at_ms, _, revision, body)| {
        Some(Profile {
            revision,
            saved_at_ms,
            body,
        })
    })
    .ok_or_else(|| records::corrupt(table::PROFILES, uid))
}

fn write_turn(
    tx: &Transaction<'_>,
    ukeys: &UserKeys,
    uid: i64,
    turn_id: &str,
    at_ms: i64,
    body: &[u8],
) -> Result<(), StoreError> {
    let index = crypto::blind_index(&ukeys.turn_index, turn_id.as_bytes());
    let existing: Option<i64> = tx
        .query_row(
            "SELECT id FROM turns WHERE user_id = ?1 AND turn_index = ?2",
            rusqlite::params![uid, index.as_slice()],
            |r| r.get(0),
        )
        .optional()?;
    let id = match existing {
        Some(id) => id,
        None => next_id(tx, table::TURNS)?,
    };
    let plain = records::encode_body(at_ms, Some(turn_id), 0, body)?;
    let sealed = records::seal_record(&ukeys.records, table::TURNS, uid, &index, &plain)?;
    tx.execute(
        "INSERT INTO turns (id, user_id, turn_index, sealed) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed",
        rusqlite::params![id, uid, index.as_slice(), sealed],
    )?;
    Ok(())
}

fn open_turn(
    ukeys: &UserKeys,
    uid: i64,
    _id: i64,
    index: &[u8],
    sealed: &[u8],
) -> Option<TurnRecord> {
    let plain = records::open_record(&ukeys.records, table::TURNS, uid, index, sealed)?;
    let (at_ms, turn_id, _, body) = records::decode_body(&plain)?;
    let turn_id = turn_id?;
    // The sealed turn id must be the one the row is indexed under.
    (crypto::blind_index(&ukeys.turn_index, turn_id.as_bytes()).as_slice() == index).then_some(
        TurnRecord {
            turn_id,
            at_ms,
            body,
        },
    )
}

fn list_turns_of(
    conn: &Connection,
    ukeys: &UserKeys,
    uid: i64,
) -> Result<Listing<TurnRecord>, StoreError> {
    let mut out = Listing::default();
    let mut stmt =
        conn.prepare("SELECT id, turn_index, sealed FROM turns WHERE user_id = ?1 ORDER BY id")?;
    let mut rows = stmt.query([uid])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let index: Vec<u8> = row.get(1)?;
        let sealed: Vec<u8> = row.get(2)?;
        match open_turn(ukeys, uid, id, &index, &sealed) {
            Some(t) => out.items.push(t),
            None => {
                records::corrupt(table::TURNS, id);
                out.corrupt.push(id);
            }
        }
    }
    Ok(out)
}

fn write_audit(
    tx: &Transaction<'_>,
    ukeys: &UserKeys,
    uid: i64,
    text: &str,
) -> Result<i64, StoreError> {
    let id = next_id(tx, table::AUDIT)?;
    let plain = records::encode_body(records::now_ms(), None, 0, text.as_bytes())?;
    let sealed =
        records::seal_record(&ukeys.records, table::AUDIT, uid, &id.to_be_bytes(), &plain)?;
    tx.execute(
        "INSERT INTO audit (id, user_id, sealed) VALUES (?1, ?2, ?3)",
        rusqlite::params![id, uid, sealed],
    )?;
    Ok(id)
}

/// `key_method, kdf_iterations, kdf_salt, canary, wrapped_store_key` as stored.
type HeaderRow = (String, i64, Vec<u8>, Vec<u8>, Vec<u8>);

struct Header {
    method: KeyMethod,
    params: KdfParams,
    canary: Vec<u8>,
    wrapped_store_key: Vec<u8>,
}

fn read_header(conn: &Connection) -> Result<Header, StoreError> {
    let has_header: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'header'",
        [],
        |r| r.get(0),
    )?;
    if has_header == 0 {
        return Err(StoreError::NotAKeelStore);
    }
    let row: Option<HeaderRow> = conn
        .query_row(
            "SELECT key_method, kdf_iterations, kdf_salt, canary, wrapped_store_key \
             FROM header WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let (method, iterations, salt, canary, wrapped_store_key) =
        row.ok_or(StoreError::CorruptState("header"))?;
    Ok(Header {
        method: KeyMethod::parse(&method).ok_or(StoreError::CorruptState("header"))?,
        params: KdfParams {
            iterations: u32::try_from(iterations)
                .map_err(|_| StoreError::CorruptState("header"))?,
            salt,
        },
        canary,
        wrapped_store_key,
    })
}

/// Check `provider` against the header's canary and unwrap the store key. Reads only.
fn unlock(
    conn: &Connection,
    provider: &dyn KeyProvider,
) -> Result<(Arc<dyn KeyWrapper>, SecretKey), StoreError> {
    let header = read_header(conn)?;
    if header.method != provider.method() {
        return Err(StoreError::WrongKey);
    }
    if header.method == KeyMethod::PassphrasePbkdf2Sha256 {
        keys::checked_iterations(header.params.iterations)
            .map_err(|_| StoreError::CorruptState("header"))?;
    }
    let master = provider.unlock(&header.params)?;
    let canary = master.unwrap(&ad_canary(), &header.canary)?;
    if canary.expose_secret() != &CANARY {
        return Err(StoreError::WrongKey);
    }
    let store_key = master
        .unwrap(&ad_store_key(), &header.wrapped_store_key)
        .map_err(|_| StoreError::CorruptState("wrapped store key"))?;
    Ok((master, store_key))
}

/// Create a new store in an empty database: schema up to `target`, the header with fresh KDF
/// parameters, canary and store key, and the initial anti-rollback state, in one transaction.
/// `None` when another process created it first.
#[allow(clippy::type_complexity)]
fn create(
    conn: &mut Connection,
    provider: &dyn KeyProvider,
    target: u32,
) -> Result<Option<(Arc<dyn KeyWrapper>, SecretKey)>, StoreError> {
    // The KDF runs before the write lock is taken, not while holding it.
    let params = provider.new_params()?;
    let master = provider.unlock(&params)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if schema::user_version(&tx)? != 0 {
        return Ok(None);
    }
    schema::apply_steps(&tx, 0, target)?;
    let store_key = crypto::random_key()?;
    let canary = master.wrap(&ad_canary(), &SecretKey::from_bytes(CANARY))?;
    let wrapped_store_key = master.wrap(&ad_store_key(), &store_key)?;
    tx.execute(
        "INSERT INTO header (id, key_method, kdf_iterations, kdf_salt, canary, wrapped_store_key, \
         created_version) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            provider.method().as_str(),
            params.iterations,
            params.salt,
            canary,
            wrapped_store_key,
            target
        ],
    )?;
    bundle_state::init(&tx, &StoreKeys::derive(&store_key)?)?;
    tx.commit()?;
    tracing::info!(version = target, "a new store was created");
    Ok(Some((master, store_key)))
}

#[cfg(test)]
mod tests;
