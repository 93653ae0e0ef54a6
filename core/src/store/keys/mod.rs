//! The key hierarchy's top: secret types, the [`KeyProvider`] that yields the master key, and
//! the [`KeyWrapper`] through which the master key wraps and unwraps the keys below it.
//!
//! ```text
//! KeyProvider ──unlock(header params)──▶ master key (a KeyWrapper)
//!     wraps: the store key      ─HKDF─▶ blind-index key, bundle-state key, audit key
//!     wraps: one data key per user ─HKDF─▶ record key, turn-index key
//! ```
//!
//! Three providers: [`PassphraseKeyProvider`] (PBKDF2-HMAC-SHA256, iterations and salt kept in
//! the store header so they can be raised), [`RawKeyProvider`] (a 32-byte key the app keeps;
//! tests), and [`PlatformKeyProvider`] around any [`KeyWrapper`] a platform keystore implements
//! (Android Keystore, iOS Keychain, desktop keyrings), where the master key never leaves the
//! keystore. Secret types here zeroize on drop and deliberately implement neither `Debug` nor
//! `Display` nor `Clone`.

use std::num::NonZeroU32;
use std::sync::Arc;

use zeroize::{Zeroize, Zeroizing};

use super::crypto;
use super::error::StoreError;

/// The default PBKDF2-HMAC-SHA256 iteration count for new stores and exports (OWASP 2023).
pub const DEFAULT_PBKDF2_ITERATIONS: u32 = 600_000;
/// The most iterations a store header or export file may ask for; a file asking more is
/// refused instead of hanging the device.
pub const MAX_PBKDF2_ITERATIONS: u32 = 50_000_000;
/// Salt length for passphrase stretching.
pub(crate) const SALT_LEN: usize = 16;

/// A 256-bit secret key. Zeroized on drop; no `Debug`, `Display` or `Clone`.
pub struct SecretKey(Zeroizing<[u8; 32]>);

impl SecretKey {
    /// Wrap 32 key bytes. The caller should zeroize its own copy.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let mut k = Self::zeroed();
        k.0.copy_from_slice(&bytes);
        k
    }

    /// Parse a key from 64 hexadecimal characters.
    pub fn from_hex(hex_key: &str) -> Result<Self, StoreError> {
        let mut k = Self::zeroed();
        hex::decode_to_slice(hex_key.trim(), k.expose_mut())
            .map_err(|_| StoreError::Invalid("a raw key must be 64 hexadecimal characters"))?;
        Ok(k)
    }

    /// A fresh random key.
    pub fn random() -> Result<Self, StoreError> {
        crypto::random_key().map_err(StoreError::from)
    }

    /// The key bytes, for a keystore that must wrap them. Do not log or persist them.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn zeroed() -> Self {
        Self(Zeroizing::new([0u8; 32]))
    }

    pub(crate) fn expose_mut(&mut self) -> &mut [u8; 32] {
        &mut self.0
    }
}

/// A passphrase. Zeroized on drop; no `Debug`, `Display` or `Clone`.
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    /// Take ownership of a passphrase.
    pub fn new(s: String) -> Self {
        Self(Zeroizing::new(s))
    }

    /// The passphrase text. Do not log or persist it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

/// Why a key wrapper (for example a platform keystore) failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyWrapError {
    /// The wrapped key did not authenticate: a different master key, or altered bytes.
    #[error("the key does not match")]
    WrongKey,
    /// The keystore is unavailable or refused (locked device, user cancelled, hardware error).
    /// The text must not contain secrets.
    #[error("the keystore failed: {0}")]
    Unavailable(String),
}

/// The master key, wherever it lives: wraps and unwraps the keys below it. A platform
/// keystore implements this so that the master key never leaves secure hardware; the store
/// binds each wrapped key to its place with `ad` and expects `unwrap` to authenticate it.
pub trait KeyWrapper: Send + Sync {
    /// Encrypt and authenticate `key`, binding `ad`.
    fn wrap(&self, ad: &[u8], key: &SecretKey) -> Result<Vec<u8>, KeyWrapError>;
    /// Reverse [`KeyWrapper::wrap`]; fail with [`KeyWrapError::WrongKey`] when `wrapped` was not
    /// made by this master key with this `ad`.
    fn unwrap(&self, ad: &[u8], wrapped: &[u8]) -> Result<SecretKey, KeyWrapError>;
}

/// How the master key of a store is obtained, as recorded in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMethod {
    /// A passphrase stretched with PBKDF2-HMAC-SHA256.
    PassphrasePbkdf2Sha256,
    /// A raw 32-byte key held by the app.
    Raw,
    /// A platform keystore wraps and unwraps the keys.
    Platform,
}

impl KeyMethod {
    /// The name stored in the header.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PassphrasePbkdf2Sha256 => "passphrase-pbkdf2-hmac-sha256",
            Self::Raw => "raw",
            Self::Platform => "platform",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        [Self::PassphrasePbkdf2Sha256, Self::Raw, Self::Platform]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// The key-derivation parameters kept in the store header (public, not secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KdfParams {
    /// PBKDF2 iterations (0 where the method has no KDF).
    pub iterations: u32,
    /// The salt (empty where the method has no KDF).
    pub salt: Vec<u8>,
}

/// Where a store's master key comes from.
pub trait KeyProvider {
    /// The method recorded in the header; opening a store made with another method fails with
    /// `WrongKey`.
    fn method(&self) -> KeyMethod;
    /// Parameters for a new store or a re-key (a fresh salt, the iteration count).
    fn new_params(&self) -> Result<KdfParams, StoreError>;
    /// Produce the master key for `params` (runs the KDF, or asks the keystore).
    fn unlock(&self, params: &KdfParams) -> Result<Arc<dyn KeyWrapper>, StoreError>;
}

/// A master key held in memory: wraps with AES-256-GCM under an HKDF subkey of itself.
pub(crate) struct LocalMasterKey {
    wrapping: SecretKey,
}

impl LocalMasterKey {
    pub(crate) fn new(master: &SecretKey) -> Result<Self, StoreError> {
        Ok(Self {
            wrapping: crypto::derive_subkey(master, b"keel/master/wrap/v1")?,
        })
    }
}

impl KeyWrapper for LocalMasterKey {
    fn wrap(&self, ad: &[u8], key: &SecretKey) -> Result<Vec<u8>, KeyWrapError> {
        crypto::seal(&self.wrapping, ad, key.expose_secret())
            .map_err(|_| KeyWrapError::Unavailable("sealing failed".into()))
    }

    fn unwrap(&self, ad: &[u8], wrapped: &[u8]) -> Result<SecretKey, KeyWrapError> {
        let plain =
            crypto::open(&self.wrapping, ad, wrapped).map_err(|_| KeyWrapError::WrongKey)?;
        let bytes: &[u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| KeyWrapError::WrongKey)?;
        let mut k = SecretKey::zeroed();
        k.expose_mut().copy_from_slice(bytes);
        Ok(k)
    }
}

/// A passphrase stretched with PBKDF2-HMAC-SHA256. New stores get
/// [`DEFAULT_PBKDF2_ITERATIONS`] and a random salt; existing stores use what their header says.
pub struct PassphraseKeyProvider {
    passphrase: SecretString,
    iterations: u32,
}

impl PassphraseKeyProvider {
    /// A provider with the default iteration count for new stores.
    pub fn new(passphrase: SecretString) -> Self {
        Self {
            passphrase,
            iterations: DEFAULT_PBKDF2_ITERATIONS,
        }
    }

    /// A provider that gives new stores (or a re-key) more iterations than the default.
    /// Fewer than [`DEFAULT_PBKDF2_ITERATIONS`] is refused.
    pub fn with_iterations(passphrase: SecretString, iterations: u32) -> Result<Self, StoreError> {
        if !(DEFAULT_PBKDF2_ITERATIONS..=MAX_PBKDF2_ITERATIONS).contains(&iterations) {
            return Err(StoreError::Invalid(
                "PBKDF2 iterations must be between 600000 and 50000000",
            ));
        }
        Ok(Self {
            passphrase,
            iterations,
        })
    }

    /// Tests only: a provider with a low iteration count so that test suites stay fast.
    /// Never use it for real data.
    #[doc(hidden)]
    pub fn insecure_for_tests(passphrase: SecretString, iterations: u32) -> Self {
        Self {
            passphrase,
            iterations: iterations.max(1),
        }
    }
}

impl KeyProvider for PassphraseKeyProvider {
    fn method(&self) -> KeyMethod {
        KeyMethod::PassphrasePbkdf2Sha256
    }

    fn new_params(&self) -> Result<KdfParams, StoreError> {
        let mut salt = vec![0u8; SALT_LEN];
        crypto::fill_random(&mut salt)?;
        Ok(KdfParams {
            iterations: self.iterations,
            salt,
        })
    }

    fn unlock(&self, params: &KdfParams) -> Result<Arc<dyn KeyWrapper>, StoreError> {
        let iterations = checked_iterations(params.iterations)?;
        let master = crypto::pbkdf2_sha256(
            self.passphrase.expose_secret().as_bytes(),
            &params.salt,
            iterations,
        );
        Ok(Arc::new(LocalMasterKey::new(&master)?))
    }
}

/// PBKDF2 iterations from a header or file, refused when zero or beyond the maximum.
pub(crate) fn checked_iterations(iterations: u32) -> Result<NonZeroU32, StoreError> {
    if iterations > MAX_PBKDF2_ITERATIONS {
        return Err(StoreError::Invalid(
            "the KDF iteration count is out of range",
        ));
    }
    NonZeroU32::new(iterations).ok_or(StoreError::Invalid(
        "the KDF iteration count is out of range",
    ))
}

/// A raw 32-byte master key kept by the app (or a test).
pub struct RawKeyProvider {
    key: SecretKey,
}

impl RawKeyProvider {
    /// Use `key` as the master key.
    pub fn new(key: SecretKey) -> Self {
        Self { key }
    }
}

impl KeyProvider for RawKeyProvider {
    fn method(&self) -> KeyMethod {
        KeyMethod::Raw
    }

    fn new_params(&self) -> Result<KdfParams, StoreError> {
        Ok(KdfParams {
            iterations: 0,
            salt: Vec::new(),
        })
    }

    fn unlock(&self, _params: &KdfParams) -> Result<Arc<dyn KeyWrapper>, StoreError> {
        Ok(Arc::new(LocalMasterKey::new(&self.key)?))
    }
}

/// A platform keystore (through the bindings' foreign trait) holding the master key.
pub struct PlatformKeyProvider {
    keystore: Arc<dyn KeyWrapper>,
}

impl PlatformKeyProvider {
    /// Use `keystore` to wrap and unwrap the store's keys.
    pub fn new(keystore: Arc<dyn KeyWrapper>) -> Self {
        Self { keystore }
    }
}

impl KeyProvider for PlatformKeyProvider {
    fn method(&self) -> KeyMethod {
        KeyMethod::Platform
    }

    fn new_params(&self) -> Result<KdfParams, StoreError> {
        Ok(KdfParams {
            iterations: 0,
            salt: Vec::new(),
        })
    }

    fn unlock(&self, _params: &KdfParams) -> Result<Arc<dyn KeyWrapper>, StoreError> {
        Ok(Arc::clone(&self.keystore))
    }
}

/// A user's keys, derived from their data key. Zeroized on drop.
pub(crate) struct UserKeys {
    /// Seals the user's records.
    pub(crate) records: SecretKey,
    /// Keys the blind index of the user's turn ids.
    pub(crate) turn_index: SecretKey,
}

impl UserKeys {
    pub(crate) fn derive(data_key: &SecretKey) -> Result<Self, StoreError> {
        Ok(Self {
            records: crypto::derive_subkey(data_key, b"keel/user/records/v1")?,
            turn_index: crypto::derive_subkey(data_key, b"keel/user/turn-index/v1")?,
        })
    }
}

/// The store-wide keys, derived from the store key. Zeroized on drop.
pub(crate) struct StoreKeys {
    /// Keys the blind index of user names.
    pub(crate) user_index: SecretKey,
    /// Seals the bundle anti-rollback state.
    pub(crate) bundle_state: SecretKey,
}

impl StoreKeys {
    pub(crate) fn derive(store_key: &SecretKey) -> Result<Self, StoreError> {
        Ok(Self {
            user_index: crypto::derive_subkey(store_key, b"keel/store/user-index/v1")?,
            bundle_state: crypto::derive_subkey(store_key, b"keel/store/bundle-state/v1")?,
        })
    }
}

/// Zeroize a byte buffer in place (for plaintexts that were not created as `Zeroizing`).
pub(crate) fn wipe(buf: &mut [u8]) {
    buf.zeroize();
}

#[cfg(test)]
mod tests;
