//! Ed25519 key files for bundle publishers: generation, loading and signing. The private key
//! file is created with mode 0600 and never overwritten; key bytes are zeroized when dropped
//! and never appear in `Debug`, logs or errors. This module does not decide trust.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::envelope::{decode_canonical_base64, KeyId, Signature};
use super::SafetyError;

const PRIVATE_KIND: &str = "keel-ed25519-private-key";
const PUBLIC_KIND: &str = "keel-ed25519-public-key";
const MAX_KEY_FILE_BYTES: usize = 4096;

/// A private signing key loaded from a key file.
pub struct SigningKey {
    pair: Ed25519KeyPair,
    key_id: KeyId,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id.to_string())
            .finish_non_exhaustive()
    }
}

/// A public key: its id and raw 32 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// SHA-256 of the raw key.
    pub key_id: KeyId,
    /// The raw Ed25519 public key.
    pub bytes: [u8; 32],
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateKeyFile {
    kind: String,
    keyid: String,
    pkcs8: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PublicKeyFile {
    kind: String,
    keyid: String,
    public_key: String,
}

/// The paths `generate` wrote.
#[derive(Debug, Clone)]
pub struct GeneratedKey {
    /// The private key file (mode 0600).
    pub private_path: PathBuf,
    /// The public key file.
    pub public_path: PathBuf,
    /// The new key's id.
    pub key_id: KeyId,
}

impl SigningKey {
    /// Generate a fresh key in memory (tests and benchmarks).
    pub fn generate() -> Result<Self, SafetyError> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| SafetyError::Crypto("key generation failed"))?;
        let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        Self::from_pkcs8(&pkcs8)
    }

    fn from_pkcs8(pkcs8: &[u8]) -> Result<Self, SafetyError> {
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
            .map_err(|_| SafetyError::malformed("private key", "not an Ed25519 PKCS#8 key"))?;
        let key_id = KeyId::of_public_key(pair.public_key().as_ref());
        Ok(Self { pair, key_id })
    }

    /// Load a private key file written by [`generate_key_files`].
    pub fn load(path: &Path) -> Result<Self, SafetyError> {
        let text = read_small(path, "private key")?;
        let file: PrivateKeyFile = serde_json::from_slice(&text)
            .map_err(|_| SafetyError::malformed("private key", "not a Keel private key file"))?;
        if file.kind != PRIVATE_KIND {
            return Err(SafetyError::malformed(
                "private key",
                "not a Keel private key file",
            ));
        }
        let pkcs8 = Zeroizing::new(
            decode_canonical_base64(&file.pkcs8)
                .ok_or_else(|| SafetyError::malformed("private key", "bad base64"))?,
        );
        let key = Self::from_pkcs8(&pkcs8)?;
        if KeyId::parse(&file.keyid) != Some(key.key_id) {
            return Err(SafetyError::malformed(
                "private key",
                "key id does not match the key",
            ));
        }
        Ok(key)
    }

    /// This key's id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(self.pair.public_key().as_ref());
        PublicKey {
            key_id: self.key_id,
            bytes,
        }
    }

    /// Sign `message` (the envelope's PAE bytes).
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature {
            key_id: self.key_id,
            sig: self.pair.sign(message).as_ref().to_vec(),
        }
    }
}

impl PublicKey {
    /// A public key from its raw 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self {
            key_id: KeyId::of_public_key(&bytes),
            bytes,
        }
    }

    /// Load a public key file written by [`generate_key_files`].
    pub fn load(path: &Path) -> Result<Self, SafetyError> {
        let text = read_small(path, "public key")?;
        let file: PublicKeyFile = serde_json::from_slice(&text)
            .map_err(|_| SafetyError::malformed("public key", "not a Keel public key file"))?;
        let raw = decode_canonical_base64(&file.public_key)
            .filter(|raw| raw.len() == 32)
            .ok_or_else(|| SafetyError::malformed("public key", "not 32 bytes of base64"))?;
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&raw);
        let key = Self::from_bytes(bytes);
        if file.kind != PUBLIC_KIND || KeyId::parse(&file.keyid) != Some(key.key_id) {
            return Err(SafetyError::malformed(
                "public key",
                "kind or key id is wrong",
            ));
        }
        Ok(key)
    }

    /// The public key file's JSON text.
    pub fn to_file_json(&self) -> String {
        let file = PublicKeyFile {
            kind: PUBLIC_KIND.into(),
            keyid: self.key_id.to_string(),
            public_key: base64_encode(&self.bytes),
        };
        serde_json::to_string_pretty(&file).expect("a key file always serializes") + "\n"
    }
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn read_small(path: &Path, what: &'static str) -> Result<Vec<u8>, SafetyError> {
    let bytes = std::fs::read(path)
        .map_err(|e| SafetyError::io(format!("reading {what} file {}", path.display()), e))?;
    if bytes.len() > MAX_KEY_FILE_BYTES {
        return Err(SafetyError::Oversized {
            what,
            size: bytes.len(),
            limit: MAX_KEY_FILE_BYTES,
        });
    }
    Ok(bytes)
}

/// Generate a key pair into `dir` as `NAME.key` (private, mode 0600) and `NAME.pub`. Refuses
/// to overwrite existing files.
pub fn generate_key_files(dir: &Path, name: &str) -> Result<GeneratedKey, SafetyError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| SafetyError::io(format!("creating {}", dir.display()), e))?;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| SafetyError::Crypto("key generation failed"))?;
    let pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
    let key = SigningKey::from_pkcs8(&pkcs8)?;
    let private_path = dir.join(format!("{name}.key"));
    let public_path = dir.join(format!("{name}.pub"));
    let file = Zeroizing::new(
        serde_json::to_string_pretty(&PrivateKeyFile {
            kind: PRIVATE_KIND.into(),
            keyid: key.key_id.to_string(),
            pkcs8: base64_encode(&pkcs8),
        })
        .expect("a key file always serializes")
            + "\n",
    );
    write_new(&private_path, file.as_bytes(), 0o600)?;
    write_new(
        &public_path,
        key.public_key().to_file_json().as_bytes(),
        0o644,
    )?;
    Ok(GeneratedKey {
        private_path,
        public_path,
        key_id: key.key_id,
    })
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SafetyError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let context = || format!("writing {} (it must not exist yet)", path.display());
    let mut file = options
        .open(path)
        .map_err(|e| SafetyError::io(context(), e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| SafetyError::io(context(), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_files_load_and_the_private_file_is_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let made = generate_key_files(dir.path(), "k").expect("generate");
        let private = SigningKey::load(&made.private_path).expect("load private");
        let public = PublicKey::load(&made.public_path).expect("load public");
        assert_eq!(private.key_id(), public.key_id);
        assert_eq!(private.public_key(), public);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&made.private_path)
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(generate_key_files(dir.path(), "k").is_err(), "no overwrite");
    }
}
