//! The key provider as the façade uses it: any [`KeyProvider`] the app plugs in (the
//! platform keystore through a foreign binding, a passphrase, a raw key), guarded so that a
//! provider or keystore that panics becomes a clear [`StoreError::KeyStore`] error instead
//! of unwinding through the runtime (or across a language boundary).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use crate::store::StoreError;
use crate::store::{KdfParams, KeyMethod, KeyProvider, KeyWrapError, KeyWrapper, SecretKey};

/// What the app plugs in: shareable across threads, implementable outside Rust.
pub type SharedKeyProvider = Arc<dyn KeyProvider + Send + Sync>;

const PANICKED: &str = "the key provider panicked";

/// A provider whose every call is guarded against panics.
pub(crate) struct GuardedProvider {
    inner: SharedKeyProvider,
    method: KeyMethod,
}

impl GuardedProvider {
    /// Guard `inner`; asks it for its method once (a panic there is an error too).
    pub(crate) fn new(inner: SharedKeyProvider) -> Result<Self, StoreError> {
        let method = catch_unwind(AssertUnwindSafe(|| inner.method()))
            .map_err(|_| StoreError::KeyStore(PANICKED.to_owned()))?;
        Ok(Self { inner, method })
    }
}

impl KeyProvider for GuardedProvider {
    fn method(&self) -> KeyMethod {
        self.method
    }

    fn new_params(&self) -> Result<KdfParams, StoreError> {
        catch_unwind(AssertUnwindSafe(|| self.inner.new_params()))
            .unwrap_or_else(|_| Err(StoreError::KeyStore(PANICKED.to_owned())))
    }

    fn unlock(&self, params: &KdfParams) -> Result<Arc<dyn KeyWrapper>, StoreError> {
        let wrapper = catch_unwind(AssertUnwindSafe(|| self.inner.unlock(params)))
            .unwrap_or_else(|_| Err(StoreError::KeyStore(PANICKED.to_owned())))?;
        Ok(Arc::new(GuardedWrapper(wrapper)))
    }
}

/// A master key whose wrap and unwrap are guarded against panics.
struct GuardedWrapper(Arc<dyn KeyWrapper>);

impl KeyWrapper for GuardedWrapper {
    fn wrap(&self, ad: &[u8], key: &SecretKey) -> Result<Vec<u8>, KeyWrapError> {
        catch_unwind(AssertUnwindSafe(|| self.0.wrap(ad, key)))
            .unwrap_or_else(|_| Err(KeyWrapError::Unavailable(PANICKED.to_owned())))
    }

    fn unwrap(&self, ad: &[u8], wrapped: &[u8]) -> Result<SecretKey, KeyWrapError> {
        catch_unwind(AssertUnwindSafe(|| self.0.unwrap(ad, wrapped)))
            .unwrap_or_else(|_| Err(KeyWrapError::Unavailable(PANICKED.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RawKeyProvider, Store};

    struct Panicking;

    impl KeyProvider for Panicking {
        fn method(&self) -> KeyMethod {
            KeyMethod::Raw
        }
        fn new_params(&self) -> Result<KdfParams, StoreError> {
            panic!("keystore exploded")
        }
        fn unlock(&self, _: &KdfParams) -> Result<Arc<dyn KeyWrapper>, StoreError> {
            panic!("keystore exploded")
        }
    }

    #[test]
    fn a_panicking_provider_is_an_error_and_a_working_one_opens_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keel.db");
        let guarded = GuardedProvider::new(Arc::new(Panicking)).expect("method");
        let err = Store::open(&path, &guarded).expect_err("must fail");
        assert!(
            matches!(&err, StoreError::KeyStore(r) if r == PANICKED),
            "{err}"
        );
        let raw: SharedKeyProvider = Arc::new(RawKeyProvider::new(SecretKey::from_bytes([1; 32])));
        let store = Store::open(&path, &GuardedProvider::new(raw).expect("method"));
        store.expect("a working provider opens the store");
    }
}
