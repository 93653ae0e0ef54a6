//! Where the store's master key comes from, across the boundary: the foreign
//! [`KeyProvider`] trait that Kotlin (Android Keystore) and Swift (iOS Keychain) implement so
//! the master key never leaves the platform keystore, a passphrase, or a raw key (tests).
//!
//! The foreign trait is adapted to the core's `KeyWrapper`; a provider that throws becomes a
//! `KeyStore` error (the core also guards against panics), never a crash of the host.

use std::sync::Arc;

use keel::store::{
    KeyProvider as CoreKeyProvider, KeyWrapError, KeyWrapper, PassphraseKeyProvider,
    PlatformKeyProvider, RawKeyProvider, SecretKey, SecretString,
};

use crate::KeelError;

/// The platform keystore, implemented by the app: it encrypts and authenticates the store's
/// keys under a key that never leaves secure hardware (Android Keystore AES-GCM, the iOS
/// Keychain / Secure Enclave).
#[uniffi::export(with_foreign)]
pub trait KeyProvider: Send + Sync {
    /// Encrypt and authenticate `key` (32 bytes), binding `ad` (associated data).
    fn wrap(&self, ad: Vec<u8>, key: Vec<u8>) -> Result<Vec<u8>, KeelError>;
    /// Reverse `wrap`: return the 32 key bytes, or throw `KeelError.WrongKey` when `wrapped`
    /// does not authenticate under this keystore key with this `ad`.
    fn unwrap(&self, ad: Vec<u8>, wrapped: Vec<u8>) -> Result<Vec<u8>, KeelError>;
}

/// How to obtain the store's master key.
#[derive(uniffi::Enum)]
pub enum KeySource {
    /// The app's platform keystore.
    Keystore {
        /// The app's implementation.
        provider: Arc<dyn KeyProvider>,
    },
    /// A passphrase, stretched with PBKDF2-HMAC-SHA256.
    Passphrase {
        /// The passphrase.
        passphrase: String,
    },
    /// A raw 32-byte key as 64 hexadecimal characters (tests, or an app that keeps its own).
    RawKeyHex {
        /// The key.
        hex: String,
    },
}

impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Keystore { .. } => "KeySource::Keystore",
            Self::Passphrase { .. } => "KeySource::Passphrase",
            Self::RawKeyHex { .. } => "KeySource::RawKeyHex",
        })
    }
}

impl KeySource {
    /// The core's provider for this source.
    pub(crate) fn into_core(self) -> Result<Arc<dyn CoreKeyProvider + Send + Sync>, KeelError> {
        Ok(match self {
            Self::Keystore { provider } => {
                Arc::new(PlatformKeyProvider::new(Arc::new(Foreign(provider))))
            }
            Self::Passphrase { passphrase } => {
                Arc::new(PassphraseKeyProvider::new(SecretString::new(passphrase)))
            }
            Self::RawKeyHex { hex } => {
                // The key's text is as secret as the key: wiped once parsed.
                let hex = zeroize::Zeroizing::new(hex);
                Arc::new(RawKeyProvider::new(SecretKey::from_hex(&hex).map_err(
                    |e| KeelError::InvalidInput {
                        reason: e.to_string(),
                    },
                )?))
            }
        })
    }
}

/// The app's keystore as the core's `KeyWrapper`.
struct Foreign(Arc<dyn KeyProvider>);

fn wrap_error(e: KeelError) -> KeyWrapError {
    match e {
        KeelError::WrongKey => KeyWrapError::WrongKey,
        other => KeyWrapError::Unavailable(format!("the app's key provider failed: {other}")),
    }
}

impl KeyWrapper for Foreign {
    fn wrap(&self, ad: &[u8], key: &SecretKey) -> Result<Vec<u8>, KeyWrapError> {
        // The copy handed across the boundary cannot be zeroized by Rust: uniffi owns it.
        self.0
            .wrap(ad.to_vec(), key.expose_secret().to_vec())
            .map_err(wrap_error)
    }

    fn unwrap(&self, ad: &[u8], wrapped: &[u8]) -> Result<SecretKey, KeyWrapError> {
        let plain = zeroize::Zeroizing::new(
            self.0
                .unwrap(ad.to_vec(), wrapped.to_vec())
                .map_err(wrap_error)?,
        );
        let bytes: [u8; 32] = plain.as_slice().try_into().map_err(|_| {
            KeyWrapError::Unavailable(
                "the app's key provider returned a key that is not 32 bytes".into(),
            )
        })?;
        Ok(SecretKey::from_bytes(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in keystore: `wrap` appends the associated data, `unwrap` checks and strips it.
    struct Toy {
        short: bool,
    }

    impl KeyProvider for Toy {
        fn wrap(&self, ad: Vec<u8>, key: Vec<u8>) -> Result<Vec<u8>, KeelError> {
            Ok([key, ad].concat())
        }
        fn unwrap(&self, ad: Vec<u8>, wrapped: Vec<u8>) -> Result<Vec<u8>, KeelError> {
            if !wrapped.ends_with(&ad) {
                return Err(KeelError::WrongKey);
            }
            let n = if self.short { 16 } else { 32 };
            Ok(wrapped[..n].to_vec())
        }
    }

    struct Throwing;

    impl KeyProvider for Throwing {
        fn wrap(&self, _: Vec<u8>, _: Vec<u8>) -> Result<Vec<u8>, KeelError> {
            Err(KeelError::Callback {
                reason: "locked".into(),
            })
        }
        fn unwrap(&self, _: Vec<u8>, _: Vec<u8>) -> Result<Vec<u8>, KeelError> {
            Err(KeelError::WrongKey)
        }
    }

    fn key() -> SecretKey {
        SecretKey::from_bytes([7; 32])
    }

    #[test]
    fn a_foreign_keystore_round_trips_and_reports_a_wrong_key() {
        let w = Foreign(Arc::new(Toy { short: false }));
        let wrapped = w.wrap(b"ad", &key()).expect("wrap");
        let back = w.unwrap(b"ad", &wrapped).expect("unwrap");
        assert_eq!(back.expose_secret(), key().expose_secret());
        assert!(matches!(
            w.unwrap(b"other", &wrapped),
            Err(KeyWrapError::WrongKey)
        ));
    }

    #[test]
    fn a_failing_or_misbehaving_keystore_is_a_clear_error() {
        let w = Foreign(Arc::new(Throwing));
        match w.wrap(b"ad", &key()) {
            Err(KeyWrapError::Unavailable(r)) => assert!(r.contains("key provider"), "{r}"),
            other => panic!("expected Unavailable, got {:?}", other.map(|_| ())),
        }
        let short = Foreign(Arc::new(Toy { short: true }));
        let wrapped = short.wrap(b"ad", &key()).expect("wrap");
        assert!(matches!(
            short.unwrap(b"ad", &wrapped),
            Err(KeyWrapError::Unavailable(_))
        ));
    }

    #[test]
    fn a_raw_key_must_be_hex() {
        let bad = KeySource::RawKeyHex { hex: "zz".into() }.into_core();
        assert!(matches!(bad, Err(KeelError::InvalidInput { .. })));
        let good = KeySource::RawKeyHex {
            hex: "ab".repeat(32),
        }
        .into_core();
        assert!(good.is_ok());
    }
}
