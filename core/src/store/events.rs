//! Events and explicit preference statements: appending a sealed event and listing a user's
//! events (records that fail to authenticate are reported by id, never returned as data).

use rusqlite::{Transaction, TransactionBehavior};

use super::keys::UserKeys;
use super::records::{self, table, Event, Listing, NewEvent, EVENT_KIND_STATEMENT};
use super::users::{check_user, ensure_user, find_user, user_keys};
use super::{crypto, next_id, Store, StoreError};

/// The size of the sealed blob that [`Store::add_event`] stores for `event` (for the
/// benchmark's same-size plain row).
pub(crate) fn sealed_event_len(event: &NewEvent<'_>) -> Result<usize, StoreError> {
    Ok(records::encode_event(event, records::now_ms())?.len() + crypto::SEAL_OVERHEAD)
}

impl Store {
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
}

pub(super) fn insert_event(
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
