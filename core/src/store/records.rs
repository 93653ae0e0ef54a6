//! The store's record types (events, profile snapshots, turn records, audit entries), their
//! sealed encodings, and the associated data that binds each sealed record to its table, row,
//! user and format version.
//!
//! Record types print only ids and sizes in `Debug`: their contents are user data.

use std::fmt;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::crypto;
use super::error::StoreError;
use super::keys::SecretKey;

/// The version of the sealed record encodings; bound into every associated data.
pub(crate) const RECORD_FORMAT: u32 = 1;

/// Table names, as bound into associated data and reported in errors.
pub(crate) mod table {
    pub(crate) const HEADER: &str = "header";
    pub(crate) const USERS: &str = "users";
    pub(crate) const EVENTS: &str = "events";
    pub(crate) const PROFILES: &str = "profiles";
    pub(crate) const TURNS: &str = "turns";
    pub(crate) const AUDIT: &str = "audit";
    pub(crate) const BUNDLE_STATE: &str = "bundle_state";
}

/// The event kind of an explicit preference statement (`keel feedback --statement`).
pub const EVENT_KIND_STATEMENT: &str = "statement";

/// Longest accepted user name, event kind, turn id or context key, in bytes.
pub const MAX_NAME_LEN: usize = 256;
/// Largest accepted record body, in bytes.
pub const MAX_BODY_LEN: usize = 4 * 1024 * 1024;

/// An event to store: what the learner will consume (ratings, choices, edits, statements...).
#[derive(Clone, Copy)]
pub struct NewEvent<'a> {
    /// What kind of event this is (e.g. `rating`, `pairwise`, `statement`); 1..=256 bytes.
    pub kind: &'a str,
    /// The turn the event refers to, if any.
    pub turn_id: Option<&'a str>,
    /// The context the event belongs to (e.g. a conversation topic), if any.
    pub context: Option<&'a str>,
    /// The event's body: JSON or any bytes; sealed as a whole.
    pub body: &'a [u8],
}

impl<'a> NewEvent<'a> {
    /// An event of `kind` with `body`, no turn and no context.
    pub fn new(kind: &'a str, body: &'a [u8]) -> Self {
        Self {
            kind,
            turn_id: None,
            context: None,
            body,
        }
    }

    /// The same event, referring to `turn_id`.
    pub fn with_turn(mut self, turn_id: &'a str) -> Self {
        self.turn_id = Some(turn_id);
        self
    }

    /// The same event, in `context`.
    pub fn with_context(mut self, context: &'a str) -> Self {
        self.context = Some(context);
        self
    }

    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        check_name(self.kind, "an event kind must be 1 to 256 bytes")?;
        if let Some(t) = self.turn_id {
            check_name(t, "a turn id must be 1 to 256 bytes")?;
        }
        if let Some(c) = self.context {
            check_name(c, "a context key must be 1 to 256 bytes")?;
        }
        check_body(self.body)
    }
}

pub(crate) fn check_name(s: &str, what: &'static str) -> Result<(), StoreError> {
    if s.is_empty() || s.len() > MAX_NAME_LEN {
        return Err(StoreError::Invalid(what));
    }
    Ok(())
}

pub(crate) fn check_body(b: &[u8]) -> Result<(), StoreError> {
    if b.len() > MAX_BODY_LEN {
        return Err(StoreError::Invalid("a record body must be at most 4 MiB"));
    }
    Ok(())
}

/// A stored event, decrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's row id (increasing in insertion order).
    pub id: i64,
    /// When it was stored, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Its kind.
    pub kind: String,
    /// The turn it refers to, if any.
    pub turn_id: Option<String>,
    /// Its context, if any.
    pub context: Option<String>,
    /// Its body.
    pub body: Vec<u8>,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("id", &self.id)
            .field("at_ms", &self.at_ms)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// A user's profile snapshot, decrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct Profile {
    /// Increases by one with every save.
    pub revision: i64,
    /// When it was saved, in milliseconds since the Unix epoch.
    pub saved_at_ms: i64,
    /// The snapshot (the learner's serialized profile).
    pub body: Vec<u8>,
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("revision", &self.revision)
            .field("saved_at_ms", &self.saved_at_ms)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// A recorded chat turn, decrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct TurnRecord {
    /// The turn id it was recorded under.
    pub turn_id: String,
    /// When it was recorded, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// The record (e.g. a serialized turn report).
    pub body: Vec<u8>,
}

impl fmt::Debug for TurnRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TurnRecord")
            .field("at_ms", &self.at_ms)
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// An audit entry (what happened to a user's data: exported, imported, ...), decrypted.
#[derive(Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// The entry's row id.
    pub id: i64,
    /// When it was written, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// What happened.
    pub text: String,
}

impl fmt::Debug for AuditEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuditEntry")
            .field("id", &self.id)
            .field("at_ms", &self.at_ms)
            .finish_non_exhaustive()
    }
}

/// The readable records of a listing, and the ids of those that failed to open. A corrupt
/// record is never returned as data; the others still are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing<T> {
    /// Records that authenticated, in id order.
    pub items: Vec<T>,
    /// Row ids of records that did not authenticate (altered, damaged or moved).
    pub corrupt: Vec<i64>,
}

impl<T> Default for Listing<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            corrupt: Vec::new(),
        }
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1_000_000).unwrap_or(i64::MAX)
}

// ---- sealed encodings -----------------------------------------------------------------

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct EventWire {
    k: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<String>,
    at: i64,
    b: String,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
struct BodyWire {
    at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default)]
    rev: i64,
    b: String,
}

fn to_json<T: Serialize>(v: &T) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    serde_json::to_vec(v)
        .map(Zeroizing::new)
        .map_err(|_| StoreError::Invalid("a record could not be encoded"))
}

pub(crate) fn encode_event(e: &NewEvent<'_>, at_ms: i64) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    to_json(&EventWire {
        k: e.kind.to_owned(),
        t: e.turn_id.map(str::to_owned),
        c: e.context.map(str::to_owned),
        at: at_ms,
        b: B64.encode(e.body),
    })
}

pub(crate) fn decode_event(id: i64, plain: &[u8]) -> Option<Event> {
    let mut w: EventWire = serde_json::from_slice(plain).ok()?;
    Some(Event {
        id,
        at_ms: w.at,
        kind: std::mem::take(&mut w.k),
        turn_id: w.t.take(),
        context: w.c.take(),
        body: B64.decode(&w.b).ok()?,
    })
}

pub(crate) fn encode_body(
    at_ms: i64,
    id: Option<&str>,
    rev: i64,
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    to_json(&BodyWire {
        at: at_ms,
        id: id.map(str::to_owned),
        rev,
        b: B64.encode(body),
    })
}

/// `(at_ms, id, revision, body)` of a profile, turn or audit record.
pub(crate) fn decode_body(plain: &[u8]) -> Option<(i64, Option<String>, i64, Vec<u8>)> {
    let mut w: BodyWire = serde_json::from_slice(plain).ok()?;
    Some((w.at, w.id.take(), w.rev, B64.decode(&w.b).ok()?))
}

// ---- sealing with bound associated data ------------------------------------------------

/// Seal `plain` for `table`, user `user_id`, row identity `row`.
pub(crate) fn seal_record(
    key: &SecretKey,
    table: &str,
    user_id: i64,
    row: &[u8],
    plain: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let ad = crypto::associated_data(RECORD_FORMAT, table, user_id, row);
    Ok(crypto::seal(key, &ad, plain)?)
}

/// Open a record sealed by [`seal_record`]; `None` when it does not authenticate.
pub(crate) fn open_record(
    key: &SecretKey,
    table: &str,
    user_id: i64,
    row: &[u8],
    sealed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let ad = crypto::associated_data(RECORD_FORMAT, table, user_id, row);
    crypto::open(key, &ad, sealed).ok()
}

/// Log (without contents) that a record failed to open, and build its error.
pub(crate) fn corrupt(table: &'static str, id: i64) -> StoreError {
    tracing::warn!(table, id, "a sealed record did not authenticate; skipped");
    StoreError::CorruptRecord { table, id }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn event_encoding_round_trips(kind in "[a-z]{1,12}", turn in proptest::option::of("[a-z0-9-]{1,20}"),
                                      ctx in proptest::option::of(".{1,20}"),
                                      body in proptest::collection::vec(any::<u8>(), 0..300),
                                      at in any::<i64>()) {
            let e = NewEvent { kind: &kind, turn_id: turn.as_deref(), context: ctx.as_deref(), body: &body };
            let plain = encode_event(&e, at).expect("encode");
            let back = decode_event(7, &plain).expect("decode");
            prop_assert_eq!(back.kind, kind);
            prop_assert_eq!(back.turn_id, turn);
            prop_assert_eq!(back.context, ctx);
            prop_assert_eq!(back.body, body);
            prop_assert_eq!(back.at_ms, at);
            prop_assert_eq!(back.id, 7);
        }

        #[test]
        fn a_record_opens_only_at_its_own_place(table_a in 0usize..4, table_b in 0usize..4,
                                                user_a in 1i64..5, user_b in 1i64..5,
                                                row_a in 1i64..5, row_b in 1i64..5) {
            let tables = [table::EVENTS, table::PROFILES, table::TURNS, table::AUDIT];
            let k = SecretKey::from_bytes([3; 32]);
            let sealed = seal_record(&k, tables[table_a], user_a, &row_a.to_be_bytes(), b"x").expect("seal");
            let opened = open_record(&k, tables[table_b], user_b, &row_b.to_be_bytes(), &sealed);
            let same = table_a == table_b && user_a == user_b && row_a == row_b;
            prop_assert_eq!(opened.is_some(), same);
        }
    }

    #[test]
    fn debug_never_shows_contents() {
        let e = Event {
            id: 1,
            at_ms: 2,
            kind: "statement".into(),
            turn_id: Some("turn-secret".into()),
            context: Some("ctx-secret".into()),
            body: b"body-secret".to_vec(),
        };
        let s = format!("{e:?}");
        assert!(!s.contains("secret"), "{s}");
        let p = Profile {
            revision: 1,
            saved_at_ms: 0,
            body: b"profile-secret".to_vec(),
        };
        assert!(!format!("{p:?}").contains("secret"));
    }
}
