//! The DSSE-style signed envelope: a payload type, the payload bytes, and Ed25519 signatures
//! with key ids. Signatures cover the pre-authentication encoding (PAE) of type and payload, so
//! a payload can never be re-labelled as another kind of file. This module owns parsing
//! (strict: size limit first, unknown and duplicate fields refused, canonical base64 only) and
//! serialization; it does not decide which keys are trusted (that is [`super::trust`]).

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::SafetyError;

/// The largest envelope file accepted, checked before any parsing or signature work.
pub const MAX_ENVELOPE_BYTES: usize = 8 * 1024 * 1024;

/// A key id: SHA-256 of the raw 32-byte Ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 32]);

impl KeyId {
    /// The key id of a raw Ed25519 public key.
    pub fn of_public_key(public_key: &[u8]) -> Self {
        Self(sha256(public_key))
    }

    /// Parse the canonical form: 64 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return None;
        }
        let mut id = [0u8; 32];
        hex::decode_to_slice(text, &mut id).ok()?;
        Some(Self(id))
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// One signature in an envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// Which key made it.
    pub key_id: KeyId,
    /// The 64-byte Ed25519 signature over [`pae`].
    pub sig: Vec<u8>,
}

/// A parsed (not yet verified) envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    payload_type: String,
    payload: Vec<u8>,
    signatures: Vec<Signature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnvelope {
    #[serde(rename = "payloadType")]
    payload_type: String,
    payload: String,
    signatures: Vec<WireSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignature {
    keyid: String,
    sig: String,
}

/// DSSE pre-authentication encoding: `"DSSEv1" SP len(type) SP type SP len(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

/// Decode standard base64, refusing every non-canonical form (missing or extra padding,
/// non-zero trailing bits, whitespace).
///
/// The `STANDARD` engine already requires canonical padding and refuses non-zero trailing
/// bits and any byte outside the alphabet, so decoding alone is the canonical check (the unit
/// tests pin that down).
pub fn decode_canonical_base64(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Envelope {
    /// An envelope over `payload` with the given signatures.
    pub fn new(payload_type: &str, payload: Vec<u8>, signatures: Vec<Signature>) -> Self {
        Self {
            payload_type: payload_type.to_owned(),
            payload,
            signatures,
        }
    }

    /// Parse an envelope file strictly. `what` names the file kind in errors.
    pub fn parse(bytes: &[u8], what: &'static str) -> Result<Self, SafetyError> {
        if bytes.len() > MAX_ENVELOPE_BYTES {
            return Err(SafetyError::Oversized {
                what,
                size: bytes.len(),
                limit: MAX_ENVELOPE_BYTES,
            });
        }
        let wire: WireEnvelope = serde_json::from_slice(bytes)
            .map_err(|e| SafetyError::malformed(what, json_error_class(&e)))?;
        let payload = decode_canonical_base64(&wire.payload)
            .ok_or_else(|| SafetyError::malformed(what, "payload is not canonical base64"))?;
        let mut signatures = Vec::with_capacity(wire.signatures.len());
        for s in wire.signatures {
            let key_id = KeyId::parse(&s.keyid)
                .ok_or_else(|| SafetyError::malformed(what, "a key id is not 64 lowercase hex"))?;
            let sig = decode_canonical_base64(&s.sig)
                .filter(|sig| sig.len() == 64)
                .ok_or_else(|| {
                    SafetyError::malformed(what, "a signature is not 64 bytes of canonical base64")
                })?;
            signatures.push(Signature { key_id, sig });
        }
        Ok(Self {
            payload_type: wire.payload_type,
            payload,
            signatures,
        })
    }

    /// The envelope as pretty JSON (the file format).
    pub fn to_json(&self) -> String {
        let wire = WireEnvelope {
            payload_type: self.payload_type.clone(),
            payload: encode_base64(&self.payload),
            signatures: self
                .signatures
                .iter()
                .map(|s| WireSignature {
                    keyid: s.key_id.to_string(),
                    sig: encode_base64(&s.sig),
                })
                .collect(),
        };
        let mut text = serde_json::to_string_pretty(&wire).expect("an envelope always serializes");
        text.push('\n');
        text
    }

    /// The declared payload type (not yet trusted).
    pub fn payload_type(&self) -> &str {
        &self.payload_type
    }

    /// The payload bytes (not yet trusted).
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The signatures.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// SHA-256 of the payload bytes (the bundle digest).
    pub fn payload_digest(&self) -> [u8; 32] {
        sha256(&self.payload)
    }

    /// The bytes every signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// A JSON error's category, without the input excerpt serde might quote.
pub(crate) fn json_error_class(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if text.contains("unknown field") {
        "unknown field".into()
    } else if text.contains("duplicate field") {
        "duplicate field".into()
    } else if text.contains("missing field") {
        "missing field".into()
    } else {
        format!(
            "{:?} error at line {} column {}",
            e.classify(),
            e.line(),
            e.column()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn non_canonical_base64_is_refused() {
        assert_eq!(decode_canonical_base64("aGk="), Some(b"hi".to_vec()));
        assert!(decode_canonical_base64("aGl=").is_none(), "trailing bits");
        assert!(decode_canonical_base64("aGk").is_none(), "missing padding");
        assert!(decode_canonical_base64(" aGk=").is_none(), "whitespace");
        assert!(
            decode_canonical_base64("aGk=\n").is_none(),
            "trailing newline"
        );
        assert!(decode_canonical_base64("aGk==").is_none(), "extra padding");
        assert!(
            decode_canonical_base64("aG-=").is_none(),
            "URL-safe alphabet"
        );
    }

    #[test]
    fn unknown_and_duplicate_fields_are_refused() {
        let unknown = br#"{"payloadType":"t","payload":"","signatures":[],"x":1}"#;
        assert!(matches!(
            Envelope::parse(unknown, "bundle"),
            Err(SafetyError::Malformed { .. })
        ));
        let dup = br#"{"payloadType":"t","payload":"","payload":"aGk=","signatures":[]}"#;
        assert!(matches!(
            Envelope::parse(dup, "bundle"),
            Err(SafetyError::Malformed { .. })
        ));
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let big = vec![b' '; MAX_ENVELOPE_BYTES + 1];
        assert!(matches!(
            Envelope::parse(&big, "bundle"),
            Err(SafetyError::Oversized { .. })
        ));
    }

    #[test]
    fn round_trips() {
        let env = Envelope::new(
            "t",
            b"payload".to_vec(),
            vec![Signature {
                key_id: KeyId([7; 32]),
                sig: vec![1; 64],
            }],
        );
        let parsed = Envelope::parse(env.to_json().as_bytes(), "bundle").expect("parses");
        assert_eq!(parsed, env);
    }
}
