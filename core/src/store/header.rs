//! The store header row and what the master key wraps: the canary (checks a key before
//! anything is read), the wrapped store key, and the associated data of every key the master
//! wraps (canary, store key, per-user data keys). Creating a new store's header, unlocking an
//! existing one, and checking that a handle's master key is still current after a re-key in
//! another process.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::keys::{
    self, KdfParams, KeyMethod, KeyProvider, KeyWrapError, KeyWrapper, SecretKey, StoreKeys,
};
use super::records::{self, table};
use super::{bundle_state, crypto, schema, Store, StoreError};

/// The plaintext of the canary: a constant that only the right master key unwraps.
pub(super) const CANARY: [u8; 32] = *b"keel-store canary v1 ...........";

pub(super) fn ad_canary() -> Vec<u8> {
    crypto::associated_data(records::RECORD_FORMAT, table::HEADER, 0, b"canary")
}

pub(super) fn ad_store_key() -> Vec<u8> {
    crypto::associated_data(records::RECORD_FORMAT, table::HEADER, 0, b"store-key")
}

pub(super) fn ad_user_key(blind_index: &[u8]) -> Vec<u8> {
    crypto::associated_data(records::RECORD_FORMAT, table::USERS, 0, blind_index)
}

/// Before wrapping anything new under `master`, check (inside the write transaction) that it
/// still opens the header's canary: another process may have re-keyed the store since this
/// one opened it, and a key wrapped under the old master would be lost.
pub(super) fn ensure_current_master(
    tx: &Transaction<'_>,
    master: &dyn KeyWrapper,
) -> Result<(), StoreError> {
    let canary: Vec<u8> =
        tx.query_row("SELECT canary FROM header WHERE id = 1", [], |r| r.get(0))?;
    match master.unwrap(&ad_canary(), &canary) {
        Ok(k) if k.expose_secret() == &CANARY => Ok(()),
        Ok(_) | Err(KeyWrapError::WrongKey) => Err(StoreError::Rekeyed),
        Err(e) => Err(e.into()),
    }
}

/// `key_method, kdf_iterations, kdf_salt, canary, wrapped_store_key` as stored.
type HeaderRow = (String, i64, Vec<u8>, Vec<u8>, Vec<u8>);

struct Header {
    method: KeyMethod,
    params: KdfParams,
    canary: Vec<u8>,
    wrapped_store_key: Vec<u8>,
}

fn read_header(conn: &Connection) -> Result<Header, StoreError> {
    let has_header: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'header'",
        [],
        |r| r.get(0),
    )?;
    if has_header == 0 {
        return Err(StoreError::NotAKeelStore);
    }
    let row: Option<HeaderRow> = conn
        .query_row(
            "SELECT key_method, kdf_iterations, kdf_salt, canary, wrapped_store_key \
             FROM header WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    let (method, iterations, salt, canary, wrapped_store_key) =
        row.ok_or(StoreError::CorruptState("header"))?;
    Ok(Header {
        method: KeyMethod::parse(&method).ok_or(StoreError::CorruptState("header"))?,
        params: KdfParams {
            iterations: u32::try_from(iterations)
                .map_err(|_| StoreError::CorruptState("header"))?,
            salt,
        },
        canary,
        wrapped_store_key,
    })
}

/// Check `provider` against the header's canary and unwrap the store key. Reads only.
pub(super) fn unlock(
    conn: &Connection,
    provider: &dyn KeyProvider,
) -> Result<(Arc<dyn KeyWrapper>, SecretKey), StoreError> {
    let header = read_header(conn)?;
    if header.method != provider.method() {
        return Err(StoreError::WrongKey);
    }
    if header.method == KeyMethod::PassphrasePbkdf2Sha256 {
        keys::checked_iterations(header.params.iterations)
            .map_err(|_| StoreError::CorruptState("header"))?;
    }
    let master = provider.unlock(&header.params)?;
    let canary = master.unwrap(&ad_canary(), &header.canary)?;
    if canary.expose_secret() != &CANARY {
        return Err(StoreError::WrongKey);
    }
    let store_key = master
        .unwrap(&ad_store_key(), &header.wrapped_store_key)
        .map_err(|_| StoreError::CorruptState("wrapped store key"))?;
    Ok((master, store_key))
}

/// Create a new store in an empty database: schema up to `target`, the header with fresh KDF
/// parameters, canary and store key, and the initial anti-rollback state, in one transaction.
/// `None` when another process created it first.
#[allow(clippy::type_complexity)]
pub(super) fn create(
    conn: &mut Connection,
    provider: &dyn KeyProvider,
    target: u32,
) -> Result<Option<(Arc<dyn KeyWrapper>, SecretKey)>, StoreError> {
    // The KDF runs before the write lock is taken, not while holding it.
    let params = provider.new_params()?;
    let master = provider.unlock(&params)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if schema::user_version(&tx)? != 0 {
        return Ok(None);
    }
    schema::apply_steps(&tx, 0, target)?;
    let store_key = crypto::random_key()?;
    let canary = master.wrap(&ad_canary(), &SecretKey::from_bytes(CANARY))?;
    let wrapped_store_key = master.wrap(&ad_store_key(), &store_key)?;
    tx.execute(
        "INSERT INTO header (id, key_method, kdf_iterations, kdf_salt, canary, wrapped_store_key, \
         created_version) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
        rusqlite::params![
            provider.method().as_str(),
            params.iterations,
            params.salt,
            canary,
            wrapped_store_key,
            target
        ],
    )?;
    bundle_state::init(&tx, &StoreKeys::derive(&store_key)?)?;
    tx.commit()?;
    tracing::info!(version = target, "a new store was created");
    Ok(Some((master, store_key)))
}

impl Store {
    /// The KDF parameters in the header (public values: method, iterations, salt length).
    pub fn kdf_params(&self) -> Result<(KeyMethod, KdfParams), StoreError> {
        let g = self.lock();
        read_header(&g.conn).map(|h| (h.method, h.params))
    }
}
