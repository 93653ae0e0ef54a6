//! The one public error of the bindings: [`KeelError`], mapped from `keel::Error` and from
//! failures of the app's own callbacks (a key provider or token listener that throws).
//!
//! Kotlin sees it as `KeelException`, Swift as `KeelError`, Python as `KeelError`. Each
//! variant says what a person or an app can do; no variant carries secrets or user text.

use keel::engine::EngineError;
use keel::store::StoreError;

/// Everything that can go wrong across the boundary.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum KeelError {
    /// The key does not open this store (a different key, passphrase or keystore entry);
    /// nothing was changed.
    #[error("wrong key for this store (nothing was changed)")]
    WrongKey,
    /// The platform keystore (or the app's key provider) failed or refused.
    #[error("the key store failed: {reason}")]
    KeyStore {
        /// What failed.
        reason: String,
    },
    /// The runtime was shut down; open a new one.
    #[error("the Keel runtime is closed; open a new one")]
    Closed,
    /// The chat was cancelled before it started.
    #[error("the chat was cancelled before it started")]
    Cancelled,
    /// The runtime is not configured completely (no model, a bad setting...).
    #[error("configuration: {reason}")]
    Config {
        /// What to set.
        reason: String,
    },
    /// The safety bundle was refused, or the gate failed (the runtime fails closed).
    #[error("safety: {reason}")]
    Safety {
        /// Why.
        reason: String,
    },
    /// Loading the model or generating failed.
    #[error("model: {reason}")]
    Model {
        /// Why.
        reason: String,
    },
    /// The encrypted store failed.
    #[error("store: {reason}")]
    Store {
        /// Why.
        reason: String,
    },
    /// An argument was rejected (unknown turn id, bad context key, empty conversation...).
    #[error("invalid input: {reason}")]
    InvalidInput {
        /// Which input and why.
        reason: String,
    },
    /// The app's own callback (key provider, token listener) threw.
    #[error("an app callback failed: {reason}")]
    Callback {
        /// The callback and its failure.
        reason: String,
    },
}

impl From<keel::Error> for KeelError {
    fn from(e: keel::Error) -> Self {
        use keel::Error as E;
        match e {
            E::Store(StoreError::WrongKey) => Self::WrongKey,
            E::Store(StoreError::KeyStore(reason)) => Self::KeyStore { reason },
            E::Store(s) => Self::Store {
                reason: s.to_string(),
            },
            E::Closed => Self::Closed,
            E::Cancelled => Self::Cancelled,
            E::Config(reason) => Self::Config { reason },
            E::Safety(s) => Self::Safety {
                reason: s.to_string(),
            },
            E::Engine(
                m @ (EngineError::EmptyConversation
                | EngineError::InvalidSampling { .. }
                | EngineError::InvalidConfig { .. }
                | EngineError::PromptTooLong { .. }),
            ) => Self::InvalidInput {
                reason: m.to_string(),
            },
            E::Engine(m) => Self::Model {
                reason: m.to_string(),
            },
            E::Fetch(f) => Self::Model {
                reason: f.to_string(),
            },
            E::Prefs(p) => Self::InvalidInput {
                reason: p.to_string(),
            },
            other => Self::Store {
                reason: other.to_string(),
            },
        }
    }
}

/// A foreign callback threw something it did not declare: a clear error, never a crash.
impl From<uniffi::UnexpectedUniFFICallbackError> for KeelError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::Callback { reason: e.reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_the_variant_an_app_can_act_on() {
        let wrong: KeelError = keel::Error::Store(StoreError::WrongKey).into();
        assert!(matches!(wrong, KeelError::WrongKey));
        let keystore: KeelError = keel::Error::Store(StoreError::KeyStore("locked".into())).into();
        assert!(matches!(keystore, KeelError::KeyStore { reason } if reason == "locked"));
        assert!(matches!(keel::Error::Closed.into(), KeelError::Closed));
        assert!(matches!(
            keel::Error::Cancelled.into(),
            KeelError::Cancelled
        ));
        let empty: KeelError = keel::Error::Engine(EngineError::EmptyConversation).into();
        assert!(matches!(empty, KeelError::InvalidInput { .. }));
        let gone: KeelError = keel::Error::Engine(EngineError::WorkerGone).into();
        assert!(matches!(gone, KeelError::Model { .. }));
    }

    #[test]
    fn an_undeclared_callback_failure_is_a_callback_error() {
        let e: KeelError = uniffi::UnexpectedUniFFICallbackError::new("boom").into();
        assert!(matches!(&e, KeelError::Callback { reason } if reason == "boom"));
        assert_eq!(e.to_string(), "an app callback failed: boom");
    }
}
