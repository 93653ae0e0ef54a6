//! Changing the store's key ([`Store::change_key`]): every wrapped key is re-wrapped under a
//! new master key in one transaction; sealed records are not touched.

use rusqlite::TransactionBehavior;

use super::header::{ad_canary, ad_store_key, ad_user_key, ensure_current_master, CANARY};
use super::integrity::checkpoint_truncate;
use super::keys::{KeyProvider, SecretKey};
use super::records::{self, table};
use super::{Store, StoreError};

impl Store {
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
}
