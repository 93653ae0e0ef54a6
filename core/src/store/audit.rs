//! The per-user audit trail: sealed, append-only entries saying what happened to the user's
//! data (exports, imports, ...).

use rusqlite::{Transaction, TransactionBehavior};

use super::keys::UserKeys;
use super::records::{self, table, AuditEntry, Listing};
use super::users::{check_user, ensure_user, find_user, user_keys};
use super::{next_id, Store, StoreError};

impl Store {
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
}

pub(super) fn write_audit(
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
