//! The store's small cryptographic facade over `ring`: AEAD sealing (AES-256-GCM with random
//! 96-bit nonces), HKDF-SHA256 subkeys, HMAC-SHA256 blind indexes, PBKDF2-HMAC-SHA256 and the
//! system random generator. This is the only file of the store that touches `ring`; the rest of
//! the store speaks in [`SecretKey`]s, associated data and sealed byte strings.
//!
//! A sealed value is `ALG_AES256GCM_V1 (1 byte) || nonce (12 bytes) || ciphertext || tag (16)`.
//! The leading byte names the algorithm so that a later format can change it; the format
//! version is also bound in every associated data (see [`associated_data`]).

use std::num::NonZeroU32;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hkdf, hmac, pbkdf2};
use zeroize::Zeroizing;

use super::keys::SecretKey;

/// First byte of every sealed value: AES-256-GCM, nonce then ciphertext and tag.
pub(crate) const ALG_AES256GCM_V1: u8 = 1;
/// Bytes a sealed value adds to its plaintext.
pub(crate) const SEAL_OVERHEAD: usize = 1 + NONCE_LEN + 16;

/// Why a cryptographic operation failed. Deliberately carries no detail: callers turn it into
/// `WrongKey`, `CorruptRecord` and the like, which say what it means for the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CryptoError {
    /// The system random generator failed.
    Random,
    /// A sealed value did not authenticate (wrong key, wrong associated data, or altered bytes),
    /// or it is not a sealed value at all.
    Open,
    /// A key could not be set up or a derivation failed.
    Key,
}

/// Fill `out` from the operating system's random generator.
pub(crate) fn fill_random(out: &mut [u8]) -> Result<(), CryptoError> {
    SystemRandom::new()
        .fill(out)
        .map_err(|_| CryptoError::Random)
}

/// A fresh random 256-bit key.
pub(crate) fn random_key() -> Result<SecretKey, CryptoError> {
    let mut key = SecretKey::zeroed();
    fill_random(key.expose_mut())?;
    Ok(key)
}

fn aead_key(key: &SecretKey) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, key.expose_secret())
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::Key)
}

/// Seal `plaintext` under `key`, binding `ad`. A fresh random nonce is drawn for every call.
pub(crate) fn seal(key: &SecretKey, ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let sealing = aead_key(key)?;
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce)?;
    let mut out = Vec::with_capacity(plaintext.len() + SEAL_OVERHEAD);
    out.push(ALG_AES256GCM_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let mut body = out.split_off(1 + NONCE_LEN);
    sealing
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(ad),
            &mut body,
        )
        .map_err(|_| CryptoError::Key)?;
    out.extend_from_slice(&body);
    Ok(out)
}

/// Open a value made by [`seal`] with the same key and associated data. The plaintext is
/// zeroized when dropped.
pub(crate) fn open(
    key: &SecretKey,
    ad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < SEAL_OVERHEAD || sealed[0] != ALG_AES256GCM_V1 {
        return Err(CryptoError::Open);
    }
    let opening = aead_key(key)?;
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&sealed[1..1 + NONCE_LEN]);
    let mut buf = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
    let len = opening
        .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(ad), &mut buf)
        .map_err(|_| CryptoError::Open)?
        .len();
    buf.truncate(len);
    Ok(buf)
}

/// HKDF-SHA256 of `ikm` with a fixed salt, expanded with `info` into a 256-bit subkey.
pub(crate) fn derive_subkey(ikm: &SecretKey, info: &[u8]) -> Result<SecretKey, CryptoError> {
    let prk =
        hkdf::Salt::new(hkdf::HKDF_SHA256, b"keel-store hkdf salt v1").extract(ikm.expose_secret());
    let info_parts = [info];
    let okm = prk
        .expand(&info_parts, hkdf::HKDF_SHA256)
        .map_err(|_| CryptoError::Key)?;
    let mut out = SecretKey::zeroed();
    okm.fill(out.expose_mut()).map_err(|_| CryptoError::Key)?;
    Ok(out)
}

/// HMAC-SHA256 tag of `message` under `key` (the blind index of a user name or turn id).
pub(crate) fn blind_index(key: &SecretKey, message: &[u8]) -> [u8; 32] {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key.expose_secret());
    let tag = hmac::sign(&k, message);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// PBKDF2-HMAC-SHA256 of `secret` with `salt` and `iterations` into a 256-bit key.
pub(crate) fn pbkdf2_sha256(secret: &[u8], salt: &[u8], iterations: NonZeroU32) -> SecretKey {
    let mut out = SecretKey::zeroed();
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        secret,
        out.expose_mut(),
    );
    out
}

/// The associated data bound to a sealed datum: a domain tag, the record format version, the
/// table, the user's row id (0 for store-wide data) and the row's identity. Every field is
/// length-prefixed or fixed-width, so two different tuples never give the same bytes.
pub(crate) fn associated_data(format: u32, table: &str, user_id: i64, row: &[u8]) -> Vec<u8> {
    const DOMAIN: &[u8] = b"keel-store/ad";
    let mut ad = Vec::with_capacity(DOMAIN.len() + 4 + 1 + table.len() + 8 + 2 + row.len());
    ad.extend_from_slice(DOMAIN);
    ad.extend_from_slice(&format.to_be_bytes());
    // Table names are short constants; the length fits in one byte.
    ad.push(u8::try_from(table.len()).unwrap_or(u8::MAX));
    ad.extend_from_slice(table.as_bytes());
    ad.extend_from_slice(&user_id.to_be_bytes());
    ad.extend_from_slice(&u16::try_from(row.len()).unwrap_or(u16::MAX).to_be_bytes());
    ad.extend_from_slice(row);
    ad
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes([byte; 32])
    }

    #[test]
    fn seal_open_round_trip_and_fresh_nonces() {
        let k = key(7);
        let a = seal(&k, b"ad", b"hello").expect("seal");
        let b = seal(&k, b"ad", b"hello").expect("seal");
        assert_ne!(
            a, b,
            "two seals of the same plaintext must differ (random nonce)"
        );
        assert_eq!(a.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(open(&k, b"ad", &a).expect("open").as_slice(), b"hello");
    }

    #[test]
    fn truncated_or_unknown_algorithm_fails() {
        let k = key(1);
        let mut s = seal(&k, b"", b"x").expect("seal");
        assert_eq!(open(&k, b"", &s[..10]), Err(CryptoError::Open));
        s[0] = 9;
        assert_eq!(open(&k, b"", &s), Err(CryptoError::Open));
    }

    #[test]
    fn subkeys_differ_by_info_and_are_deterministic() {
        let k = key(3);
        let a = derive_subkey(&k, b"a").expect("hkdf");
        let b = derive_subkey(&k, b"b").expect("hkdf");
        let a2 = derive_subkey(&k, b"a").expect("hkdf");
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(a.expose_secret(), a2.expose_secret());
    }

    #[test]
    fn associated_data_is_unambiguous() {
        assert_ne!(
            associated_data(1, "events", 1, b"12"),
            associated_data(1, "events1", 0, b"2")
        );
        assert_ne!(
            associated_data(1, "events", 1, b"1"),
            associated_data(2, "events", 1, b"1")
        );
    }

    proptest! {
        #[test]
        fn round_trip_any_plaintext(data in proptest::collection::vec(any::<u8>(), 0..512),
                                    ad in proptest::collection::vec(any::<u8>(), 0..64),
                                    k in any::<[u8; 32]>()) {
            let k = SecretKey::from_bytes(k);
            let sealed = seal(&k, &ad, &data).expect("seal");
            let opened = open(&k, &ad, &sealed).expect("open");
            prop_assert_eq!(opened.as_slice(), data.as_slice());
        }

        #[test]
        fn other_associated_data_never_opens(data in proptest::collection::vec(any::<u8>(), 0..256),
                                             ad in proptest::collection::vec(any::<u8>(), 0..64),
                                             other in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assume!(ad != other);
            let k = key(9);
            let sealed = seal(&k, &ad, &data).expect("seal");
            prop_assert_eq!(open(&k, &other, &sealed), Err(CryptoError::Open));
        }

        #[test]
        fn any_flipped_bit_never_opens(data in proptest::collection::vec(any::<u8>(), 1..256),
                                       pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let k = key(4);
            let mut sealed = seal(&k, b"ad", &data).expect("seal");
            let i = pos.index(sealed.len());
            sealed[i] ^= 1 << bit;
            prop_assert_eq!(open(&k, b"ad", &sealed), Err(CryptoError::Open));
        }

        #[test]
        fn other_key_never_opens(data in proptest::collection::vec(any::<u8>(), 0..128),
                                 a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
            prop_assume!(a != b);
            let sealed = seal(&SecretKey::from_bytes(a), b"ad", &data).expect("seal");
            prop_assert_eq!(open(&SecretKey::from_bytes(b), b"ad", &sealed), Err(CryptoError::Open));
        }
    }
}
