//! Portable export and import of one user's data (events, profile, turn records), sealed with
//! a key derived from an export passphrase, so that a person can move to another device.
//!
//! File format, version 1 (all integers big-endian):
//!
//! ```text
//! magic        8 bytes  "KEELEXP\0"
//! version      u16      1
//! iterations   u32      PBKDF2-HMAC-SHA256 iterations (default 600,000)
//! salt         16 bytes
//! sealed       AES-256-GCM(key, ad = the 30 header bytes above, JSON payload)
//! key = HKDF-SHA256(PBKDF2(passphrase, salt, iterations), "keel/export/v1")
//! ```
//!
//! The header is bound as associated data, so changing the version, iterations or salt makes
//! the file fail to open; an unknown version is refused before any KDF runs. The user's name
//! is not in the file: import names the target user.

use std::io::Write as _;
use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rusqlite::TransactionBehavior;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::error::StoreError;
use super::keys::{
    checked_iterations, SecretKey, SecretString, DEFAULT_PBKDF2_ITERATIONS, SALT_LEN,
};
use super::records::{self, NewEvent};
use super::{crypto, Store};

const MAGIC: &[u8; 8] = b"KEELEXP\0";
/// The export format this code writes and reads.
pub const EXPORT_VERSION: u16 = 1;
const HEADER_LEN: usize = 8 + 2 + 4 + SALT_LEN;

/// The passphrase that seals an export, with its KDF cost.
pub struct ExportPassphrase {
    passphrase: SecretString,
    iterations: u32,
}

impl ExportPassphrase {
    /// An export passphrase with the default PBKDF2 cost (600,000 iterations).
    pub fn new(passphrase: SecretString) -> Self {
        Self {
            passphrase,
            iterations: DEFAULT_PBKDF2_ITERATIONS,
        }
    }

    /// Tests only: a low KDF cost so that test suites stay fast. Never for real exports.
    #[doc(hidden)]
    pub fn insecure_for_tests(passphrase: SecretString, iterations: u32) -> Self {
        Self {
            passphrase,
            iterations: iterations.max(1),
        }
    }
}

/// What an export contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    /// Events exported.
    pub events: usize,
    /// Turn records exported.
    pub turns: usize,
    /// Whether a profile was exported.
    pub profile: bool,
    /// Records skipped because they failed to authenticate.
    pub skipped_corrupt: usize,
    /// Size of the export file in bytes.
    pub bytes: usize,
}

/// What an import added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Events added.
    pub events: usize,
    /// Turn records added or replaced.
    pub turns: usize,
    /// Whether the profile was replaced.
    pub profile: bool,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct Payload {
    format: u16,
    exported_at_ms: i64,
    events: Vec<WireEvent>,
    profile: Option<WireBody>,
    turns: Vec<WireTurn>,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct WireEvent {
    kind: String,
    turn_id: Option<String>,
    context: Option<String>,
    at_ms: i64,
    body: String,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct WireBody {
    at_ms: i64,
    body: String,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct WireTurn {
    turn_id: String,
    at_ms: i64,
    body: String,
}

fn export_key(
    passphrase: &SecretString,
    salt: &[u8],
    iterations: u32,
) -> Result<SecretKey, StoreError> {
    let stretched = crypto::pbkdf2_sha256(
        passphrase.expose_secret().as_bytes(),
        salt,
        checked_iterations(iterations)?,
    );
    Ok(crypto::derive_subkey(&stretched, b"keel/export/v1")?)
}

fn header(iterations: u32, salt: &[u8]) -> Vec<u8> {
    let mut h = Vec::with_capacity(HEADER_LEN);
    h.extend_from_slice(MAGIC);
    h.extend_from_slice(&EXPORT_VERSION.to_be_bytes());
    h.extend_from_slice(&iterations.to_be_bytes());
    h.extend_from_slice(salt);
    h
}

fn decode_b64(s: &str) -> Result<Vec<u8>, StoreError> {
    B64.decode(s).map_err(|_| StoreError::ExportUnreadable)
}

impl Store {
    /// Export `user`'s events, profile and turn records as a sealed, versioned byte string.
    pub fn export_user_bytes(
        &self,
        user: &str,
        passphrase: &ExportPassphrase,
    ) -> Result<(Zeroizing<Vec<u8>>, ExportSummary), StoreError> {
        if !self.user_exists(user)? {
            return Err(StoreError::Invalid("the store has no data for that user"));
        }
        let events = self.list_events(user)?;
        let turns = self.list_turns(user)?;
        let (profile, corrupt_profile) = match self.load_profile(user) {
            Ok(p) => (p, 0),
            Err(StoreError::CorruptRecord { .. }) => (None, 1),
            Err(e) => return Err(e),
        };
        let payload = Payload {
            format: EXPORT_VERSION,
            exported_at_ms: records::now_ms(),
            events: events
                .items
                .iter()
                .map(|e| WireEvent {
                    kind: e.kind.clone(),
                    turn_id: e.turn_id.clone(),
                    context: e.context.clone(),
                    at_ms: e.at_ms,
                    body: B64.encode(&e.body),
                })
                .collect(),
            profile: profile.as_ref().map(|p| WireBody {
                at_ms: p.saved_at_ms,
                body: B64.encode(&p.body),
            }),
            turns: turns
                .items
                .iter()
                .map(|t| WireTurn {
                    turn_id: t.turn_id.clone(),
                    at_ms: t.at_ms,
                    body: B64.encode(&t.body),
                })
                .collect(),
        };
        let plain = Zeroizing::new(
            serde_json::to_vec(&payload)
                .map_err(|_| StoreError::Invalid("export encoding failed"))?,
        );
        let mut salt = [0u8; SALT_LEN];
        crypto::fill_random(&mut salt)?;
        let head = header(passphrase.iterations, &salt);
        let key = export_key(&passphrase.passphrase, &salt, passphrase.iterations)?;
        let sealed = crypto::seal(&key, &head, &plain)?;
        let mut out = Zeroizing::new(head);
        out.extend_from_slice(&sealed);
        let summary = ExportSummary {
            events: payload.events.len(),
            turns: payload.turns.len(),
            profile: payload.profile.is_some(),
            skipped_corrupt: events.corrupt.len() + turns.corrupt.len() + corrupt_profile,
            bytes: out.len(),
        };
        self.append_audit(user, "profile exported")?;
        Ok((out, summary))
    }

    /// Export `user` to the file `out` (written to a temporary file, synced, then renamed, so
    /// a crash never leaves a partial export under that name).
    pub fn export_user(
        &self,
        user: &str,
        passphrase: &ExportPassphrase,
        out: &Path,
    ) -> Result<ExportSummary, StoreError> {
        let (bytes, summary) = self.export_user_bytes(user, passphrase)?;
        let io = |context| move |source| StoreError::Io { context, source };
        let dir = out
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut tmp_name = out.file_name().unwrap_or_default().to_owned();
        tmp_name.push(".partial");
        let tmp = dir.join(tmp_name);
        {
            let mut f = std::fs::File::create(&tmp).map_err(io("writing the export"))?;
            f.write_all(&bytes).map_err(io("writing the export"))?;
            f.sync_all().map_err(io("syncing the export"))?;
        }
        std::fs::rename(&tmp, out).map_err(io("renaming the export into place"))?;
        Ok(summary)
    }

    /// Import an export made by [`Store::export_user_bytes`] into `user` (created if needed):
    /// events are added, turn records added or replaced, the profile replaced. One transaction:
    /// a failure adds nothing. Unknown versions, tampered files and wrong passphrases are
    /// refused before anything is written.
    pub fn import_user_bytes(
        &self,
        user: &str,
        passphrase: &SecretString,
        data: &[u8],
    ) -> Result<ImportSummary, StoreError> {
        super::users::check_user(user)?;
        if data.len() < HEADER_LEN || &data[..8] != MAGIC {
            return Err(StoreError::NotAnExport);
        }
        let version = u16::from_be_bytes([data[8], data[9]]);
        if version != EXPORT_VERSION {
            return Err(StoreError::ExportVersion {
                found: version,
                supported: EXPORT_VERSION,
            });
        }
        let iterations = u32::from_be_bytes([data[10], data[11], data[12], data[13]]);
        let salt = &data[14..HEADER_LEN];
        let key = export_key(passphrase, salt, iterations)?;
        let plain = crypto::open(&key, &data[..HEADER_LEN], &data[HEADER_LEN..])
            .map_err(|_| StoreError::ExportUnreadable)?;
        let payload: Payload =
            serde_json::from_slice(&plain).map_err(|_| StoreError::ExportUnreadable)?;
        if payload.format != EXPORT_VERSION {
            return Err(StoreError::ExportUnreadable);
        }
        // Decode and validate everything before the transaction.
        let mut events = Vec::with_capacity(payload.events.len());
        for e in &payload.events {
            let body = Zeroizing::new(decode_b64(&e.body)?);
            NewEvent {
                kind: &e.kind,
                turn_id: e.turn_id.as_deref(),
                context: e.context.as_deref(),
                body: &body,
            }
            .validate()?;
            events.push((e, body));
        }
        let mut turns = Vec::with_capacity(payload.turns.len());
        for t in &payload.turns {
            records::check_name(&t.turn_id, "a turn id must be 1 to 256 bytes")?;
            turns.push((t, Zeroizing::new(decode_b64(&t.body)?)));
        }
        let profile = match &payload.profile {
            Some(p) => Some((p.at_ms, Zeroizing::new(decode_b64(&p.body)?))),
            None => None,
        };

        let mut g = self.lock();
        let inner = &mut *g;
        let tx = inner
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (uid, fresh) =
            super::users::ensure_user(&tx, inner.master.as_ref(), &inner.keys, user)?;
        let ukeys = match &fresh {
            Some(k) => k,
            None => super::users::user_keys(&tx, inner.master.as_ref(), &mut inner.users, uid)?,
        };
        for (e, body) in &events {
            let ev = NewEvent {
                kind: &e.kind,
                turn_id: e.turn_id.as_deref(),
                context: e.context.as_deref(),
                body,
            };
            super::events::insert_event(&tx, ukeys, uid, &ev, e.at_ms)?;
        }
        for (t, body) in &turns {
            super::turns::write_turn(&tx, ukeys, uid, &t.turn_id, t.at_ms, body)?;
        }
        if let Some((at_ms, body)) = &profile {
            super::profiles::write_profile(&tx, ukeys, uid, *at_ms, body)?;
        }
        super::audit::write_audit(&tx, ukeys, uid, "profile imported")?;
        tx.commit()?;
        if let Some(k) = fresh {
            inner.users.insert(uid, k);
        }
        Ok(ImportSummary {
            events: events.len(),
            turns: turns.len(),
            profile: profile.is_some(),
        })
    }

    /// Import the export file at `path` into `user`.
    pub fn import_user(
        &self,
        user: &str,
        passphrase: &SecretString,
        path: &Path,
    ) -> Result<ImportSummary, StoreError> {
        let data = Zeroizing::new(std::fs::read(path).map_err(|source| StoreError::Io {
            context: "reading the export",
            source,
        })?);
        self.import_user_bytes(user, passphrase, &data)
    }
}
