//! Users: the keyed blind index that finds a user without storing their name, creating a user
//! with a fresh wrapped data key, the per-user key cache, and the whole-user operations
//! (existence, counts, [`Store::forget`]).

use std::collections::hash_map::Entry;
use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::header::{ad_user_key, ensure_current_master};
use super::integrity::checkpoint_truncate;
use super::keys::{self, KeyWrapError, KeyWrapper, StoreKeys, UserKeys};
use super::records::{self, table};
use super::{crypto, next_id, Store, StoreError};

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

impl Store {
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
}

pub(super) fn check_user(user: &str) -> Result<(), StoreError> {
    records::check_name(user, "a user name must be 1 to 256 bytes")
}

fn user_blind_index(keys: &StoreKeys, user: &str) -> [u8; 32] {
    let mut msg = Vec::with_capacity(16 + user.len());
    msg.extend_from_slice(b"keel/user/v1\0");
    msg.extend_from_slice(user.as_bytes());
    let bi = crypto::blind_index(&keys.user_index, &msg);
    keys::wipe(&mut msg);
    bi
}

pub(super) fn find_user(
    conn: &Connection,
    keys: &StoreKeys,
    user: &str,
) -> Result<Option<i64>, StoreError> {
    let bi = user_blind_index(keys, user);
    Ok(conn
        .prepare_cached("SELECT id FROM users WHERE blind_index = ?1")?
        .query_row([bi.as_slice()], |r| r.get(0))
        .optional()?)
}

/// Find `user` or create them with a fresh data key. Returns the row id and, for a new user,
/// their keys (to be cached only after the transaction commits).
pub(super) fn ensure_user(
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

/// The keys of user `uid`, unwrapped once and cached.
pub(super) fn user_keys<'a>(
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
