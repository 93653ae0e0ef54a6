//! The runtime's current bundle: a new bundle replaces it only after it verifies, compiles
//! and passes anti-rollback; on any refusal the last good bundle keeps serving, and with none
//! the slot fails closed ([`SafetyError::NoBundle`]) unless the app explicitly asked for
//! developer mode. This module owns that choice, not verification itself.

use std::sync::Arc;

use super::gate::Gate;
use super::rollback::RollbackStore;
use super::verify::{BundleVerifier, VerifiedBundle, VerifyPolicy};
use super::SafetyError;

/// The bundle and gate in force.
#[derive(Debug, Clone, Default)]
pub struct BundleSlot {
    current: Option<(Arc<VerifiedBundle>, Gate)>,
    developer_mode: bool,
}

impl BundleSlot {
    /// An empty slot: fails closed until a bundle is offered.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty slot in developer mode: without a bundle the gate checks nothing and every
    /// report says `developer_mode`. Only for an app that asks for it explicitly.
    pub fn developer_mode() -> Self {
        Self {
            current: None,
            developer_mode: true,
        }
    }

    /// Offer a bundle file. On success it is in force; on refusal the previous one stays.
    pub fn offer(
        &mut self,
        bytes: &[u8],
        verifier: &BundleVerifier,
        policy: &VerifyPolicy,
        store: &dyn RollbackStore,
    ) -> Result<Arc<VerifiedBundle>, SafetyError> {
        let bundle = verifier.check(bytes, policy)?;
        let gate = Gate::new(&bundle)?;
        BundleVerifier::accept(&bundle, store)?;
        let bundle = Arc::new(bundle);
        self.current = Some((Arc::clone(&bundle), gate));
        Ok(bundle)
    }

    /// Install an already verified bundle (e.g. [`super::default_bundle`]) after
    /// anti-rollback.
    pub fn install(
        &mut self,
        bundle: VerifiedBundle,
        store: &dyn RollbackStore,
    ) -> Result<(), SafetyError> {
        let gate = Gate::new(&bundle)?;
        BundleVerifier::accept(&bundle, store)?;
        self.current = Some((Arc::new(bundle), gate));
        Ok(())
    }

    /// The bundle in force, if any.
    pub fn bundle(&self) -> Option<&Arc<VerifiedBundle>> {
        self.current.as_ref().map(|(b, _)| b)
    }

    /// The gate to use now: the bundle's, the developer gate, or a refusal (fail closed).
    pub fn gate(&self) -> Result<Gate, SafetyError> {
        match (&self.current, self.developer_mode) {
            (Some((_, gate)), _) => Ok(gate.clone()),
            (None, true) => Ok(Gate::developer_mode()),
            (None, false) => Err(SafetyError::NoBundle),
        }
    }
}
