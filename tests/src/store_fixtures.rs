//! Shared fixtures for the store's bad-input tests: test-cost key providers, a populated
//! store, and plain SQLite access to its file for tampering with it.

use std::path::{Path, PathBuf};

use keel::store::{
    ExportPassphrase, NewEvent, PassphraseKeyProvider, RawKeyProvider, SecretKey, SecretString,
    Store,
};

/// A passphrase key provider with a test-sized work factor.
pub fn pass(p: &str) -> PassphraseKeyProvider {
    PassphraseKeyProvider::insecure_for_tests(SecretString::new(p.into()), 1000)
}

/// A raw key made of `b` repeated.
pub fn raw(b: u8) -> RawKeyProvider {
    RawKeyProvider::new(SecretKey::from_bytes([b; 32]))
}

/// An export passphrase with a test-sized work factor.
pub fn export_pass(p: &str) -> ExportPassphrase {
    ExportPassphrase::insecure_for_tests(SecretString::new(p.into()), 1000)
}

/// The store's database file in `dir`.
pub fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("keel.db")
}

/// The database file opened with plain SQLite, bypassing the store.
pub fn sql(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(db).expect("open with plain rusqlite")
}

/// A store with two users, a few events each, a profile and a turn; closed (checkpointed).
pub fn populated(db: &Path, keys: &dyn keel::store::KeyProvider) {
    let store = Store::open(db, keys).expect("create");
    for user in ["ana", "bob"] {
        for i in 0..5 {
            store
                .add_event(
                    user,
                    &NewEvent::new("rating", format!("{user}-{i}").as_bytes()),
                )
                .expect("event");
        }
        store
            .save_profile(user, format!("{user}-profile").as_bytes())
            .expect("profile");
        store.record_turn(user, "t1", b"turn").expect("turn");
    }
}

/// The ids of `user_id`'s events, in order, read with plain SQLite.
pub fn event_ids(db: &Path, user_id: i64) -> Vec<i64> {
    let c = sql(db);
    let mut stmt = c
        .prepare("SELECT id FROM events WHERE user_id = ?1 ORDER BY id")
        .expect("prepare");
    let ids = stmt
        .query_map([user_id], |r| r.get(0))
        .expect("query")
        .collect::<Result<Vec<i64>, _>>()
        .expect("ids");
    ids
}
