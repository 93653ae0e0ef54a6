//! The safety bundle's anti-rollback state in the store: the highest accepted bundle version
//! and its digest, sealed under a store-wide subkey so that editing the file cannot lower it.
//!
//! The row is created together with the store (sealed "nothing accepted yet"), so a missing
//! row, an altered one, or one moved from elsewhere is [`StoreError::CorruptState`] and the
//! safety layer fails closed. What sealing cannot stop — restoring a whole older copy of the
//! file — is recorded in docs/adr/0013-store-threat-model.md.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::error::StoreError;
use super::keys::StoreKeys;
use super::records::{self, table};
use super::Store;
use crate::safety::rollback::{AcceptedBundle, RollbackStore, RollbackStoreError};

const ROW: i64 = 1;
const NONE_TAG: u8 = 0;
const SOME_TAG: u8 = 1;

fn encode(state: Option<&AcceptedBundle>) -> Vec<u8> {
    let mut out = Vec::with_capacity(41);
    match state {
        None => out.push(NONE_TAG),
        Some(b) => {
            out.push(SOME_TAG);
            out.extend_from_slice(&b.version.to_be_bytes());
            out.extend_from_slice(&b.digest);
        }
    }
    out
}

fn decode(plain: &[u8]) -> Option<Option<AcceptedBundle>> {
    match plain {
        [NONE_TAG] => Some(None),
        [SOME_TAG, rest @ ..] if rest.len() == 40 => {
            let mut v = [0u8; 8];
            v.copy_from_slice(&rest[..8]);
            let mut digest = [0u8; 32];
            digest.copy_from_slice(&rest[8..]);
            Some(Some(AcceptedBundle {
                version: u64::from_be_bytes(v),
                digest,
            }))
        }
        _ => None,
    }
}

fn seal(keys: &StoreKeys, state: Option<&AcceptedBundle>) -> Result<Vec<u8>, StoreError> {
    records::seal_record(
        &keys.bundle_state,
        table::BUNDLE_STATE,
        0,
        &ROW.to_be_bytes(),
        &encode(state),
    )
}

/// Write the initial "nothing accepted" state (store creation).
pub(super) fn init(tx: &Transaction<'_>, keys: &StoreKeys) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO bundle_state (id, sealed) VALUES (?1, ?2)",
        rusqlite::params![ROW, seal(keys, None)?],
    )?;
    Ok(())
}

/// Read and authenticate the state; missing or altered is an error, never "none".
pub(super) fn read(
    conn: &Connection,
    keys: &StoreKeys,
) -> Result<Option<AcceptedBundle>, StoreError> {
    let sealed: Option<Vec<u8>> = conn
        .query_row(
            "SELECT sealed FROM bundle_state WHERE id = ?1",
            [ROW],
            |r| r.get(0),
        )
        .optional()?;
    let sealed = sealed.ok_or(StoreError::CorruptState("bundle anti-rollback state"))?;
    records::open_record(
        &keys.bundle_state,
        table::BUNDLE_STATE,
        0,
        &ROW.to_be_bytes(),
        &sealed,
    )
    .and_then(|p| decode(&p))
    .ok_or(StoreError::CorruptState("bundle anti-rollback state"))
}

impl Store {
    /// The highest safety bundle this store has accepted, if any.
    pub fn accepted_bundle(&self) -> Result<Option<AcceptedBundle>, StoreError> {
        let g = self.lock();
        read(&g.conn, &g.keys)
    }

    /// Remember `accepted` as the highest accepted bundle. Refused (and nothing written) when
    /// it is lower than the current one, or the same version with another digest.
    pub fn record_accepted_bundle(&self, accepted: &AcceptedBundle) -> Result<(), StoreError> {
        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(current) = read(&tx, &inner.keys)? {
            let same = current.version == accepted.version;
            if accepted.version < current.version || (same && current.digest != accepted.digest) {
                return Err(StoreError::RollbackRefused {
                    current: current.version,
                    requested: accepted.version,
                });
            }
            if same {
                return Ok(());
            }
        }
        tx.execute(
            "UPDATE bundle_state SET sealed = ?1 WHERE id = ?2",
            rusqlite::params![seal(&inner.keys, Some(accepted))?, ROW],
        )?;
        tx.commit()?;
        tracing::info!(
            version = accepted.version,
            "accepted bundle version recorded"
        );
        Ok(())
    }
}

impl RollbackStore for Store {
    fn highest_accepted(&self) -> Result<Option<AcceptedBundle>, RollbackStoreError> {
        self.accepted_bundle().map_err(|e| RollbackStoreError {
            reason: e.to_string(),
        })
    }

    fn record_accepted(&self, accepted: &AcceptedBundle) -> Result<(), RollbackStoreError> {
        self.record_accepted_bundle(accepted)
            .map_err(|e| RollbackStoreError {
                reason: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RawKeyProvider, SecretKey};

    fn raw() -> RawKeyProvider {
        RawKeyProvider::new(SecretKey::from_bytes([42; 32]))
    }

    fn bundle(version: u64, d: u8) -> AcceptedBundle {
        AcceptedBundle {
            version,
            digest: [d; 32],
        }
    }

    #[test]
    fn rollback_after_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keel.db");
        {
            let store = Store::open(&path, &raw()).expect("open");
            assert_eq!(store.highest_accepted().expect("read"), None);
            store.record_accepted(&bundle(3, 1)).expect("v3");
            store.record_accepted(&bundle(7, 2)).expect("v7");
        }
        let store = Store::open(&path, &raw()).expect("reopen");
        assert_eq!(store.highest_accepted().expect("read"), Some(bundle(7, 2)));
        // Lower, or same version with another digest: refused, state unchanged.
        assert!(store.record_accepted(&bundle(6, 9)).is_err());
        assert!(store.record_accepted(&bundle(7, 9)).is_err());
        store
            .record_accepted(&bundle(7, 2))
            .expect("same is a no-op");
        assert_eq!(store.highest_accepted().expect("read"), Some(bundle(7, 2)));
    }

    #[test]
    fn editing_the_file_cannot_lower_the_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keel.db");
        {
            let store = Store::open(&path, &raw()).expect("open");
            store.record_accepted(&bundle(9, 1)).expect("v9");
        }
        // Forge: a "nothing accepted" value sealed under another store's key.
        let other_dir = tempfile::tempdir().expect("tempdir");
        let other_path = other_dir.path().join("keel.db");
        drop(Store::open(&other_path, &raw()).expect("other"));
        let forged: Vec<u8> = rusqlite::Connection::open(&other_path)
            .expect("open")
            .query_row("SELECT sealed FROM bundle_state", [], |r| r.get(0))
            .expect("read");
        let edit = |sql: &str, blob: Option<&[u8]>| {
            let c = rusqlite::Connection::open(&path).expect("open");
            match blob {
                Some(b) => c.execute(sql, [b]).expect("edit"),
                None => c.execute(sql, []).expect("edit"),
            };
        };
        edit("UPDATE bundle_state SET sealed = ?1", Some(&forged));
        // The store still opens (the user's data stays reachable), but the anti-rollback state
        // fails closed and the integrity check says so.
        let store = Store::open(&path, &raw()).expect("open");
        let err = store
            .accepted_bundle()
            .expect_err("forged state must fail closed");
        assert!(matches!(err, StoreError::CorruptState(_)), "{err}");
        assert!(store.highest_accepted().is_err());
        assert!(store.record_accepted(&bundle(1, 1)).is_err());
        assert!(!store.integrity_check().expect("check").bundle_state_ok);
        drop(store);
        edit("DELETE FROM bundle_state", None);
        let store = Store::open(&path, &raw()).expect("open");
        let err = store
            .highest_accepted()
            .expect_err("deleted state must fail closed");
        assert!(!err.reason.is_empty());
    }
}
