//! Integrity and WAL upkeep: [`Store::integrity_check`] (SQLite's structural check plus
//! opening every sealed record and the anti-rollback state) and WAL checkpoints.

use rusqlite::{Connection, OptionalExtension};

use super::profiles::read_profile;
use super::records::{self, table};
use super::turns::list_turns_of;
use super::users::user_keys;
use super::{bundle_state, Store, StoreError};

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

impl Store {
    /// Copy the WAL into the database and truncate it (best effort: readers in other
    /// processes may hold it; it is then retried at the next checkpoint).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let g = self.lock();
        checkpoint_truncate(&g.conn);
        Ok(())
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
}

pub(super) fn checkpoint_truncate(conn: &Connection) {
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
