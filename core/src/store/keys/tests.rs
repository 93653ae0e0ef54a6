//! Unit tests of the key providers: wrap round trips bound to their associated data, the
//! passphrase provider's dependence on salt and passphrase, its iteration floor, raw keys
//! from hex.

use super::*;

#[test]
fn raw_provider_wrap_round_trip_and_ad_binding() {
    let p = RawKeyProvider::new(SecretKey::from_bytes([5; 32]));
    let m = p.unlock(&p.new_params().expect("params")).expect("unlock");
    let k = SecretKey::from_bytes([9; 32]);
    let w = m.wrap(b"here", &k).expect("wrap");
    assert_eq!(
        m.unwrap(b"here", &w).expect("unwrap").expose_secret(),
        &[9; 32]
    );
    assert!(matches!(
        m.unwrap(b"there", &w),
        Err(KeyWrapError::WrongKey)
    ));
    let other = RawKeyProvider::new(SecretKey::from_bytes([6; 32]));
    let m2 = other
        .unlock(&other.new_params().expect("p"))
        .expect("unlock");
    assert!(matches!(
        m2.unwrap(b"here", &w),
        Err(KeyWrapError::WrongKey)
    ));
}

#[test]
fn passphrase_provider_depends_on_salt_and_passphrase() {
    let p = PassphraseKeyProvider::insecure_for_tests(SecretString::new("pw".into()), 10);
    let params = p.new_params().expect("params");
    assert_eq!(params.salt.len(), SALT_LEN);
    let w = p
        .unlock(&params)
        .expect("unlock")
        .wrap(b"", &SecretKey::from_bytes([1; 32]))
        .expect("wrap");
    assert!(p.unlock(&params).expect("unlock").unwrap(b"", &w).is_ok());
    let q = PassphraseKeyProvider::insecure_for_tests(SecretString::new("pX".into()), 10);
    assert!(q.unlock(&params).expect("unlock").unwrap(b"", &w).is_err());
    let other_salt = p.new_params().expect("params");
    assert!(p
        .unlock(&other_salt)
        .expect("unlock")
        .unwrap(b"", &w)
        .is_err());
}

#[test]
fn default_iterations_are_at_least_600k_and_lower_is_refused() {
    let p = PassphraseKeyProvider::new(SecretString::new("x".into()));
    assert!(p.new_params().expect("params").iterations >= 600_000);
    assert!(PassphraseKeyProvider::with_iterations(SecretString::new("x".into()), 1000).is_err());
    assert!(checked_iterations(0).is_err());
    assert!(checked_iterations(MAX_PBKDF2_ITERATIONS + 1).is_err());
}

#[test]
fn raw_key_from_hex() {
    assert!(SecretKey::from_hex("zz").is_err());
    let k = SecretKey::from_hex(&"ab".repeat(32)).expect("hex");
    assert_eq!(k.expose_secret(), &[0xab; 32]);
}
