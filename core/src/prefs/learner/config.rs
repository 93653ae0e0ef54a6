//! The learner's tuning: forgetting, caps, context and statement variances, change detection,
//! and the steady learner that runs alongside (ADR 0046). [`LearnerConfig::default`] holds the
//! measured defaults (ADR 0031, 0034, 0046).

use serde::{Deserialize, Serialize};

use crate::prefs::PrefsError;

/// Tuning of the learner. [`LearnerConfig::default`] holds the measured defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnerConfig {
    /// Weight kept by old evidence per new event (1.0: no forgetting).
    pub decay_per_event: f64,
    /// Bound on every weight mean (log-odds per unit of feature).
    pub mean_cap: f64,
    /// Minimum variance as a share of the prior variance (keeps every weight learnable).
    pub variance_floor: f64,
    /// Prior variance of a context offset as a share of the global prior variance, where the
    /// prior carries no fitted context variance (`PopulationPrior::context_variance`).
    pub context_variance: f64,
    /// Prior variance of a stated dimension as a share of the population's.
    pub statement_variance: f64,
    /// Change detection: when the accumulated surprise of recent events (log-loss beyond what
    /// the model itself expects, CUSUM) passes this, old evidence is forgotten faster
    /// (0 turns detection off).
    pub change_threshold: f64,
    /// Weight old evidence keeps when a change is detected.
    pub change_forget: f64,
    /// A steady learner runs alongside (ADR 0046): no decay, change detection only at
    /// `steady_change_threshold`; predictions mix the two by how well each predicted the
    /// person's events, and this share of the trust moves back toward even after every event
    /// (fixed share), so either can take over when the person changes or stays the same.
    /// 0 turns the steady learner off.
    #[serde(default = "default_steady_share")]
    pub steady_share: f64,
    /// The steady learner's change-detection threshold (0: it never forgets).
    #[serde(default = "default_steady_change_threshold")]
    pub steady_change_threshold: f64,
}

fn default_steady_share() -> f64 {
    0.05
}

fn default_steady_change_threshold() -> f64 {
    3.0
}

impl Default for LearnerConfig {
    fn default() -> Self {
        Self {
            decay_per_event: 0.99,
            mean_cap: 8.0,
            variance_floor: 0.02,
            context_variance: 0.5,
            statement_variance: 0.25,
            change_threshold: 1.5,
            change_forget: 0.05,
            steady_share: default_steady_share(),
            steady_change_threshold: default_steady_change_threshold(),
        }
    }
}

impl LearnerConfig {
    /// These settings without forgetting or change detection: for fitting a population from
    /// people whose choices each express one taste, where forgetting would inflate the
    /// posterior variances and bias the estimate.
    pub(crate) fn without_forgetting(&self) -> Self {
        Self {
            decay_per_event: 1.0,
            change_threshold: 0.0,
            steady_share: 0.0,
            ..self.clone()
        }
    }

    /// The configuration of the steady learner that runs beside a learner with these
    /// settings; `None` when `steady_share` is 0.
    pub(crate) fn steady(&self) -> Option<Self> {
        (self.steady_share > 0.0).then(|| Self {
            decay_per_event: 1.0,
            change_threshold: self.steady_change_threshold,
            steady_share: 0.0,
            ..self.clone()
        })
    }

    pub(crate) fn validate(&self) -> Result<(), PrefsError> {
        let in_unit = |v: f64| v.is_finite() && v > 0.0 && v <= 1.0;
        if !in_unit(self.decay_per_event) {
            return Err(PrefsError::InvalidConfig(
                "decay_per_event must be in (0, 1]",
            ));
        }
        if !(self.mean_cap.is_finite() && self.mean_cap > 0.0) {
            return Err(PrefsError::InvalidConfig("mean_cap must be positive"));
        }
        if !(self.variance_floor.is_finite() && (0.0..1.0).contains(&self.variance_floor)) {
            return Err(PrefsError::InvalidConfig(
                "variance_floor must be in [0, 1)",
            ));
        }
        if !(self.context_variance.is_finite() && self.context_variance >= 0.0) {
            return Err(PrefsError::InvalidConfig("context_variance must be >= 0"));
        }
        if !in_unit(self.statement_variance) {
            return Err(PrefsError::InvalidConfig(
                "statement_variance must be in (0, 1]",
            ));
        }
        if !(self.change_threshold.is_finite() && self.change_threshold >= 0.0) {
            return Err(PrefsError::InvalidConfig("change_threshold must be >= 0"));
        }
        if !in_unit(self.change_forget) {
            return Err(PrefsError::InvalidConfig("change_forget must be in (0, 1]"));
        }
        if !(self.steady_share.is_finite() && (0.0..=1.0).contains(&self.steady_share)) {
            return Err(PrefsError::InvalidConfig("steady_share must be in [0, 1]"));
        }
        if !(self.steady_change_threshold.is_finite() && self.steady_change_threshold >= 0.0) {
            return Err(PrefsError::InvalidConfig(
                "steady_change_threshold must be >= 0",
            ));
        }
        Ok(())
    }
}
