//! Profile snapshots: one sealed, revisioned snapshot per user, replaced on save.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::keys::UserKeys;
use super::records::{self, table, Profile};
use super::users::{check_user, ensure_user, find_user, user_keys};
use super::{Store, StoreError};

impl Store {
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
}

pub(super) fn write_profile(
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

pub(super) fn read_profile(
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
