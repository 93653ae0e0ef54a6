//! Turn records: one sealed record per chat turn, found by a keyed blind index of the turn id
//! (the id itself is stored only inside the sealed record).

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::keys::UserKeys;
use super::records::{self, table, Listing, TurnRecord};
use super::users::{check_user, ensure_user, find_user, user_keys};
use super::{crypto, next_id, Store, StoreError};

impl Store {
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
}

pub(super) fn write_turn(
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

pub(super) fn list_turns_of(
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
