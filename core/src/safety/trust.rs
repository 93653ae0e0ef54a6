//! The trust root: the publisher's public keys, how many of them must sign (threshold), its
//! version and expiry, and whether it is a development root. The app pins one root; a newer
//! root is accepted only when signed by a threshold of the current root's keys *and* a
//! threshold of its own (TUF-style rotation). This module owns signature counting; it does not
//! look inside bundle payloads.

use ring::signature::{UnparsedPublicKey, ED25519};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::envelope::{decode_canonical_base64, Envelope, KeyId};
use super::keys::{PublicKey, SigningKey};
use super::SafetyError;

/// The payload type of a signed root.
pub const ROOT_PAYLOAD_TYPE: &str = "application/vnd.keel.root+json; version=1";

/// Messages at least this large have their signatures verified on parallel threads.
const PARALLEL_VERIFY_BYTES: usize = 256 * 1024;

/// The signed content of a root file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootPayload {
    /// Monotonic root version; a rotation raises it by exactly one.
    pub version: u64,
    /// Expiry, RFC 3339.
    pub expires: String,
    /// How many distinct keys must sign.
    pub threshold: usize,
    /// The keys.
    pub keys: Vec<RootKey>,
    /// A development root: its private keys may be known to others (e.g. the default
    /// bundle's); tooling says so loudly.
    pub development: bool,
}

/// One key of a root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootKey {
    /// SHA-256 of the raw public key, lowercase hex.
    pub keyid: String,
    /// The raw 32-byte Ed25519 public key, base64.
    pub public_key: String,
}

/// A verified, immutable trust root.
#[derive(Debug, Clone)]
pub struct TrustRoot {
    keys: Vec<PublicKey>,
    threshold: usize,
    version: u64,
    expires: OffsetDateTime,
    development: bool,
    fingerprint: [u8; 32],
}

pub(crate) fn parse_time(text: &str, what: &'static str) -> Result<OffsetDateTime, SafetyError> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|_| SafetyError::malformed(what, "a time is not RFC 3339"))
}

pub(crate) fn format_time(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("RFC 3339 formats any valid time")
}

impl RootPayload {
    /// A root payload over `keys`.
    pub fn new(
        keys: &[PublicKey],
        threshold: usize,
        version: u64,
        expires: OffsetDateTime,
        development: bool,
    ) -> Self {
        use base64::Engine as _;
        Self {
            version,
            expires: format_time(expires),
            threshold,
            keys: keys
                .iter()
                .map(|k| RootKey {
                    keyid: k.key_id.to_string(),
                    public_key: base64::engine::general_purpose::STANDARD.encode(k.bytes),
                })
                .collect(),
            development,
        }
    }

    /// Sign this payload into a root envelope with each of `signers`.
    pub fn sign(&self, signers: &[&SigningKey]) -> Envelope {
        let payload = serde_json::to_vec(self).expect("a root always serializes");
        let unsigned = Envelope::new(ROOT_PAYLOAD_TYPE, payload, Vec::new());
        let message = unsigned.signed_bytes();
        let signatures = signers.iter().map(|k| k.sign(&message)).collect();
        Envelope::new(ROOT_PAYLOAD_TYPE, unsigned.payload().to_vec(), signatures)
    }
}

impl TrustRoot {
    /// Parse a root file the app pins and check that it is signed by a threshold of its own
    /// keys. Expiry is checked when a bundle is verified against it.
    pub fn from_pinned(bytes: &[u8]) -> Result<Self, SafetyError> {
        let (envelope, root) = Self::parse_unverified(bytes)?;
        root.check_signatures(&envelope, "trust root")?;
        Ok(root)
    }

    /// Accept `new_root_bytes` as the successor of this root: its version must be exactly one
    /// higher, and it must be signed by a threshold of this root's keys and of its own.
    pub fn rotate(&self, new_root_bytes: &[u8]) -> Result<Self, SafetyError> {
        let (envelope, next) = Self::parse_unverified(new_root_bytes)?;
        self.check_signatures(&envelope, "new trust root")?;
        next.check_signatures(&envelope, "new trust root")?;
        let expected = self.version.saturating_add(1);
        if next.version != expected {
            return Err(SafetyError::RootVersion {
                offered: next.version,
                expected,
            });
        }
        Ok(next)
    }

    fn parse_unverified(bytes: &[u8]) -> Result<(Envelope, Self), SafetyError> {
        const WHAT: &str = "trust root";
        let envelope = Envelope::parse(bytes, WHAT)?;
        if envelope.payload_type() != ROOT_PAYLOAD_TYPE {
            return Err(SafetyError::WrongPayloadType { what: WHAT });
        }
        let payload: RootPayload = serde_json::from_slice(envelope.payload())
            .map_err(|e| SafetyError::malformed(WHAT, super::envelope::json_error_class(&e)))?;
        let mut keys = Vec::with_capacity(payload.keys.len());
        for k in &payload.keys {
            let raw = decode_canonical_base64(&k.public_key)
                .filter(|raw| raw.len() == 32)
                .ok_or_else(|| SafetyError::malformed(WHAT, "a public key is not 32 bytes"))?;
            let mut bytes = [0u8; 32];
            bytes.copy_from_slice(&raw);
            let key = PublicKey::from_bytes(bytes);
            if KeyId::parse(&k.keyid) != Some(key.key_id) {
                return Err(SafetyError::malformed(
                    WHAT,
                    "a key id does not match its key",
                ));
            }
            if keys
                .iter()
                .any(|seen: &PublicKey| seen.key_id == key.key_id)
            {
                return Err(SafetyError::malformed(WHAT, "a key is listed twice"));
            }
            keys.push(key);
        }
        if payload.threshold == 0 || payload.threshold > keys.len() {
            return Err(SafetyError::malformed(
                WHAT,
                "the threshold must be between 1 and the number of keys",
            ));
        }
        let expires = parse_time(&payload.expires, WHAT)?;
        let fingerprint = envelope.payload_digest();
        let root = Self {
            keys,
            threshold: payload.threshold,
            version: payload.version,
            expires,
            development: payload.development,
            fingerprint,
        };
        Ok((envelope, root))
    }

    /// Check that `envelope` carries valid signatures from at least `threshold` distinct keys
    /// of this root. Signatures by unknown keys are ignored; one that fails from a known key
    /// means the content was changed.
    pub fn check_signatures(
        &self,
        envelope: &Envelope,
        what: &'static str,
    ) -> Result<(), SafetyError> {
        if envelope.signatures().is_empty() {
            return Err(SafetyError::Unsigned { what });
        }
        let message = envelope.signed_bytes();
        let known: Vec<(&PublicKey, &[u8])> = envelope
            .signatures()
            .iter()
            .filter_map(|sig| {
                let key = self.keys.iter().find(|k| k.key_id == sig.key_id)?;
                Some((key, sig.sig.as_slice()))
            })
            .collect();
        let check = |&(key, sig): &(&PublicKey, &[u8])| {
            UnparsedPublicKey::new(&ED25519, key.bytes)
                .verify(&message, sig)
                .is_ok()
        };
        // Ed25519 hashes the whole message per signature: verify large payloads in parallel.
        let results: Vec<bool> = if message.len() >= PARALLEL_VERIFY_BYTES && known.len() > 1 {
            std::thread::scope(|scope| {
                let handles: Vec<_> = known
                    .iter()
                    .map(|k| scope.spawn(move || check(k)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or(false))
                    .collect()
            })
        } else {
            known.iter().map(check).collect()
        };
        let mut valid: Vec<KeyId> = Vec::new();
        let mut bad = 0usize;
        for (&(key, _), ok) in known.iter().zip(results) {
            if !ok {
                bad += 1;
            } else if !valid.contains(&key.key_id) {
                valid.push(key.key_id);
            }
        }
        let known = known.len();
        if valid.len() >= self.threshold {
            return Ok(());
        }
        if bad > 0 {
            Err(SafetyError::BadSignature { what })
        } else if known == 0 {
            Err(SafetyError::UnknownKey { what })
        } else {
            Err(SafetyError::UnderThreshold {
                what,
                valid: valid.len(),
                threshold: self.threshold,
            })
        }
    }

    /// Refuse if this root has expired at `now`.
    pub fn check_not_expired(&self, now: OffsetDateTime) -> Result<(), SafetyError> {
        if now >= self.expires {
            return Err(SafetyError::RootExpired {
                expires: format_time(self.expires),
            });
        }
        Ok(())
    }

    /// SHA-256 of the root payload, lowercase hex: what a person compares out of band.
    pub fn fingerprint(&self) -> String {
        hex::encode(self.fingerprint)
    }

    /// Whether this is a development root (its keys may be known to others).
    pub fn is_development(&self) -> bool {
        self.development
    }

    /// The root version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The root expiry.
    pub fn expires(&self) -> OffsetDateTime {
        self.expires
    }

    /// The signature threshold.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The root's keys.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn year_from_now() -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::days(365)
    }

    fn root_with(
        keys: &[&SigningKey],
        threshold: usize,
        version: u64,
        signers: &[&SigningKey],
    ) -> Vec<u8> {
        let public: Vec<PublicKey> = keys.iter().map(|k| k.public_key()).collect();
        RootPayload::new(&public, threshold, version, year_from_now(), false)
            .sign(signers)
            .to_json()
            .into_bytes()
    }

    #[test]
    fn a_self_signed_root_needs_its_threshold() {
        let a = SigningKey::generate().expect("key");
        let b = SigningKey::generate().expect("key");
        assert!(TrustRoot::from_pinned(&root_with(&[&a, &b], 2, 1, &[&a, &b])).is_ok());
        assert!(matches!(
            TrustRoot::from_pinned(&root_with(&[&a, &b], 2, 1, &[&a, &a])),
            Err(SafetyError::UnderThreshold {
                valid: 1,
                threshold: 2,
                ..
            })
        ));
    }

    #[test]
    fn rotation_needs_old_and_new_thresholds_and_the_next_version() {
        let old = [
            SigningKey::generate().expect("k"),
            SigningKey::generate().expect("k"),
        ];
        let new = [
            SigningKey::generate().expect("k"),
            SigningKey::generate().expect("k"),
        ];
        let root =
            TrustRoot::from_pinned(&root_with(&[&old[0], &old[1]], 2, 1, &[&old[0], &old[1]]))
                .expect("root");
        let new_keys = [&new[0], &new[1]];
        let good = root_with(&new_keys, 2, 2, &[&old[0], &old[1], &new[0], &new[1]]);
        let rotated = root.rotate(&good).expect("rotation with both thresholds");
        assert_eq!(rotated.version(), 2);
        let only_new = root_with(&new_keys, 2, 2, &[&new[0], &new[1]]);
        assert!(matches!(
            root.rotate(&only_new),
            Err(SafetyError::UnknownKey { .. })
        ));
        let one_old = root_with(&new_keys, 2, 2, &[&old[0], &new[0], &new[1]]);
        assert!(matches!(
            root.rotate(&one_old),
            Err(SafetyError::UnderThreshold { .. })
        ));
        let only_old = root_with(&new_keys, 2, 2, &[&old[0], &old[1]]);
        assert!(matches!(
            root.rotate(&only_old),
            Err(SafetyError::UnknownKey { .. })
        ));
        let skip = root_with(&new_keys, 2, 3, &[&old[0], &old[1], &new[0], &new[1]]);
        assert!(matches!(
            root.rotate(&skip),
            Err(SafetyError::RootVersion { .. })
        ));
    }
}
