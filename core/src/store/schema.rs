//! The store's SQLite schema and its migrations. The version lives in `PRAGMA user_version`;
//! each version has exactly one step, applied in its own transaction together with the version
//! bump, so a crash leaves the database at one version or the next, never in between. A
//! database newer than [`CURRENT_VERSION`] is refused, never downgraded.
//!
//! Columns hold only what the store needs to find rows: integer ids, keyed blind indexes and
//! sealed blobs. Every user datum lives inside a sealed blob.

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::error::StoreError;

/// The newest schema version this code writes and reads.
pub const CURRENT_VERSION: u32 = 2;

/// Version 1: the header (key method, KDF parameters, canary, wrapped store key), users by
/// blind index with their wrapped data keys, events, profiles and the anti-rollback state.
const V1: &str = "
CREATE TABLE header (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    key_method        TEXT    NOT NULL,
    kdf_iterations    INTEGER NOT NULL,
    kdf_salt          BLOB    NOT NULL,
    canary            BLOB    NOT NULL,
    wrapped_store_key BLOB    NOT NULL,
    created_version   INTEGER NOT NULL
) STRICT;
CREATE TABLE users (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    blind_index BLOB    NOT NULL UNIQUE,
    wrapped_key BLOB    NOT NULL
) STRICT;
CREATE TABLE events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed  BLOB    NOT NULL
) STRICT;
CREATE INDEX events_by_user ON events (user_id, id);
CREATE TABLE profiles (
    user_id  INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    revision INTEGER NOT NULL,
    sealed   BLOB    NOT NULL
) STRICT;
CREATE TABLE bundle_state (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    sealed BLOB    NOT NULL
) STRICT;
";

/// Version 2: turn records (found by a per-user blind index of the turn id) and audit entries.
const V2: &str = "
CREATE TABLE turns (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    turn_index BLOB    NOT NULL,
    sealed     BLOB    NOT NULL,
    UNIQUE (user_id, turn_index)
) STRICT;
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sealed  BLOB    NOT NULL
) STRICT;
CREATE INDEX audit_by_user ON audit (user_id, id);
";

/// The step that takes the schema from `version - 1` to `version`.
fn step(version: u32) -> Option<&'static str> {
    match version {
        1 => Some(V1),
        2 => Some(V2),
        _ => None,
    }
}

/// The schema version recorded in the database.
pub(crate) fn user_version(conn: &Connection) -> Result<u32, StoreError> {
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    u32::try_from(v).map_err(|_| StoreError::NotAKeelStore)
}

/// Apply steps `from + 1 ..= to` inside `tx` and record `to` as the version.
pub(crate) fn apply_steps(tx: &Transaction<'_>, from: u32, to: u32) -> Result<(), StoreError> {
    for v in from + 1..=to {
        let sql = step(v).ok_or(StoreError::TooNew {
            found: v,
            supported: CURRENT_VERSION,
        })?;
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", to)?;
    Ok(())
}

/// Upgrade an existing store to `target`, one step (and one transaction) per version.
/// Concurrent openers are safe: each step re-reads the version under the write lock.
pub(crate) fn upgrade(conn: &mut Connection, target: u32) -> Result<(), StoreError> {
    // Common case first, without taking the write lock.
    let found = user_version(conn)?;
    if found > CURRENT_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: CURRENT_VERSION,
        });
    }
    if found >= target {
        return Ok(());
    }
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = user_version(&tx)?;
        if current > CURRENT_VERSION {
            return Err(StoreError::TooNew {
                found: current,
                supported: CURRENT_VERSION,
            });
        }
        if current >= target {
            return Ok(());
        }
        apply_steps(&tx, current, current + 1)?;
        tx.commit()?;
        tracing::info!(from = current, to = current + 1, "store schema upgraded");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema_of(conn: &Connection) -> Vec<(String, String, String)> {
        let mut stmt = conn
            .prepare(
                "SELECT type, name, COALESCE(sql, '') FROM sqlite_master \
                 WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
            )
            .expect("prepare");
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        rows
    }

    #[test]
    fn upgrading_from_each_version_equals_a_fresh_schema() {
        let mut fresh = Connection::open_in_memory().expect("open");
        {
            let tx = fresh.transaction().expect("tx");
            apply_steps(&tx, 0, CURRENT_VERSION).expect("fresh");
            tx.commit().expect("commit");
        }
        for start in 0..CURRENT_VERSION {
            let mut old = Connection::open_in_memory().expect("open");
            {
                let tx = old.transaction().expect("tx");
                apply_steps(&tx, 0, start).expect("old");
                tx.commit().expect("commit");
            }
            assert_eq!(user_version(&old).expect("v"), start);
            upgrade(&mut old, CURRENT_VERSION).expect("upgrade");
            assert_eq!(user_version(&old).expect("v"), CURRENT_VERSION);
            assert_eq!(schema_of(&old), schema_of(&fresh), "upgrade from v{start}");
        }
    }

    #[test]
    fn a_newer_version_is_refused_not_downgraded() {
        let mut conn = Connection::open_in_memory().expect("open");
        conn.pragma_update(None, "user_version", CURRENT_VERSION + 1)
            .expect("set");
        let err = upgrade(&mut conn, CURRENT_VERSION).expect_err("must refuse");
        assert!(matches!(err, StoreError::TooNew { found, .. } if found == CURRENT_VERSION + 1));
        assert_eq!(user_version(&conn).expect("v"), CURRENT_VERSION + 1);
    }
}
