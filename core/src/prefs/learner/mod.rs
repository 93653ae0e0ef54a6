//! The per-person learner: a Bayesian Bradley–Terry (logistic) model over answer features.
//!
//! A person's utility for an answer in context `c` is `(w + δ_c) · x`, where `x` is the
//! answer's [`FeatureVector`], `w` the person's global preference weights and `δ_c` an offset
//! for the context. `P(a ≻ b) = σ(u(a) − u(b))`. `w` is a Gaussian with a full covariance over
//! the style block ([`belief`], ADR 0034) and every `δ_c` a Gaussian with a full covariance over
//! the style block too ([`offset`], ADR 0045: a context moves features of one taste together);
//! both are updated online, one assumed-density (Laplace-like) step per event ([`update`], ADR 0030):
//! - `w` starts at the [`PopulationPrior`] — whose covariance says in which directions people
//!   actually differ — and every `δ_c` at the population's offset for `c` (zero when
//!   unknown), so a new person is served like the population and moves to themselves as
//!   evidence arrives (shrinkage);
//! - before each event, old evidence decays (`prior × likelihood^γ`), so tastes can change,
//!   and a run of surprising events (change detection) forgets faster;
//! - means are capped and variances floored, so no preference locks in (ADR 0031);
//! - an explicit statement or profile edit replaces the prior of its dimension by the stated
//!   value ([`edit`]), so forgetting pulls toward what the person said, not the population.
//!
//! - when the population prior is a mixture (tastes that are two-sided: long or short answers),
//!   `w` is a mixture of full-covariance Gaussians, each updated by the same step and
//!   reweighted by how well it predicted each event (a Gaussian-sum filter, ADR 0036).
//!
//! - when the population prior has a context setting (ADR 0047: for some people a context
//!   *sets* a taste — short answers at work whatever they like elsewhere), a second learner
//!   holds that hypothesis, and predictions mix the two by its posterior odds ([`setting`]).
//!
//! The state is a pure function of the observations in order: [`Learner::rebuild`] equals
//! the incremental state. Tuning lives in [`config`], the prior in [`prior`], what the learner
//! reports in [`report`], the steady learner beside it in [`steady`] (ADR 0046), the setting
//! learner in [`setting`] (ADR 0047).

mod belief;
pub mod config;
#[cfg(test)]
mod context_tests;
mod edit;
mod offset;
pub mod prior;
mod report;
mod setting;
#[cfg(test)]
mod setting_tests;
mod steady;
mod update;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use config::LearnerConfig;
pub use prior::{ContextSetting, PopulationPrior, StyleComponent};

use crate::prefs::features::{FeatureVector, STYLE_FEATURES};
use crate::prefs::feedback::{ContextKey, Observation};
use crate::prefs::gaussian;
use crate::prefs::profile::Source;
use crate::prefs::PrefsError;
use crate::safety::personalization::Dimension;
use belief::Belief;
use offset::OffsetGaussian;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ContextState {
    prior: OffsetGaussian,
    posterior: OffsetGaussian,
    seen_step: u64,
    evidence: [u32; 7],
    pins: BTreeMap<Dimension, Source>,
}

/// One person's learner state. Serializable so the store can seal it; also rebuildable from
/// the person's observations with [`Learner::rebuild`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Learner {
    config: LearnerConfig,
    population: PopulationPrior,
    prior: Belief,
    global: Belief,
    contexts: BTreeMap<String, ContextState>,
    reference: Vec<f64>,
    reference_count: f64,
    step: u64,
    evidence: [u32; 7],
    pins: BTreeMap<Dimension, Source>,
    surprise: f64,
    quiet_until: u64,
    /// The steady learner beside this one (ADR 0046; `None` when `steady_share` is 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    steady: Option<Box<Learner>>,
    /// Log-trust in this learner and in the steady one, from how well each predicted.
    #[serde(default)]
    trust: [f64; 2],
    /// Whether this is the learner of the hypothesis that the prior's setting contexts set
    /// the person's taste (ADR 0047).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    sets: bool,
    /// That learner, beside this one, when the prior has a context setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    setting: Option<Box<Learner>>,
    /// Log-odds that the setting hypothesis holds for this person.
    #[serde(default)]
    setting_log_odds: f64,
}

/// Combined weights (global plus context offset) with their variances.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    /// Mean weight per feature.
    pub mean: Vec<f64>,
    /// Variance per feature.
    pub variance: Vec<f64>,
}

impl Learner {
    /// A learner for a new person, starting at `prior`.
    pub fn new(prior: PopulationPrior, config: LearnerConfig) -> Result<Self, PrefsError> {
        config.validate()?;
        prior.validate(config.mean_cap)?;
        let mut learner = Self::with_steady(prior.clone(), config.clone(), false);
        if let Some(setting) = &prior.context_setting {
            learner.setting_log_odds = (setting.share / (1.0 - setting.share)).ln();
            let sets_prior = setting::setting_prior(&prior, setting);
            learner.setting = Some(Box::new(Self::with_steady(sets_prior, config, true)));
        }
        Ok(learner)
    }

    /// A learner and its steady learner (validated prior and configuration).
    fn with_steady(prior: PopulationPrior, config: LearnerConfig, sets: bool) -> Self {
        let steady = config
            .steady()
            .map(|steady| Box::new(Self::bare(prior.clone(), steady, sets)));
        Self {
            steady,
            ..Self::bare(prior, config, sets)
        }
    }

    /// One learner alone (validated prior and configuration).
    fn bare(prior: PopulationPrior, config: LearnerConfig, sets: bool) -> Self {
        let start = Belief::from_prior(&prior);
        Self {
            reference: prior.reference.clone(),
            reference_count: 1.0,
            prior: start.clone(),
            global: start,
            contexts: BTreeMap::new(),
            step: 0,
            evidence: [0; 7],
            pins: BTreeMap::new(),
            surprise: 0.0,
            quiet_until: update::FIRST_DETECTION_EVENT,
            steady: None,
            trust: [0.5f64.ln(); 2],
            sets,
            setting: None,
            setting_log_odds: 0.0,
            population: prior,
            config,
        }
    }
    /// The state after `observations` in order, from `prior`: the same state as feeding them
    /// one by one to [`Learner::observe`].
    pub fn rebuild<'a>(
        prior: PopulationPrior,
        config: LearnerConfig,
        observations: impl IntoIterator<Item = &'a Observation>,
    ) -> Result<Self, PrefsError> {
        let mut learner = Self::new(prior, config)?;
        for o in observations {
            learner.observe(o)?;
        }
        Ok(learner)
    }

    /// Features per answer (style plus embedding).
    pub fn feature_count(&self) -> usize {
        self.population.len()
    }

    /// The configuration.
    pub fn config(&self) -> &LearnerConfig {
        &self.config
    }

    /// Learning events seen so far (comparisons and ratings).
    pub fn events(&self) -> u64 {
        self.step
    }

    /// Take one observation into account. A rejected observation leaves the state unchanged.
    pub fn observe(&mut self, observation: &Observation) -> Result<(), PrefsError> {
        // Every learner here validates an observation alike (the same prior length), and
        // before changing anything: the first to refuse it refuses it for all.
        self.observe_all(observation).map(|_| ())
    }

    /// [`Learner::observe`] for this learner alone; for a learning event, the probability it
    /// gave the observed outcome beforehand and the event's weight.
    fn take(&mut self, observation: &Observation) -> Result<Option<(f64, f64)>, PrefsError> {
        match observation {
            Observation::Compare {
                context,
                winner,
                loser,
                weight,
            } => {
                let w = self.dense(winner)?;
                let l = self.dense(loser)?;
                check_weight(*weight)?;
                let d: Vec<f64> = w.iter().zip(&l).map(|(a, b)| a - b).collect();
                let p = self.learn(context.as_ref(), &d, *weight);
                self.absorb_reference(&w);
                self.absorb_reference(&l);
                Ok(Some((p, *weight)))
            }
            Observation::Rate {
                context,
                answer,
                up,
                weight,
            } => {
                let x = self.dense(answer)?;
                check_weight(*weight)?;
                let sign = if *up { 1.0 } else { -1.0 };
                let d: Vec<f64> = x
                    .iter()
                    .zip(&self.reference)
                    .map(|(a, r)| sign * (a - r))
                    .collect();
                let p = self.learn(context.as_ref(), &d, *weight);
                self.absorb_reference(&x);
                Ok(Some((p, *weight)))
            }
            Observation::SetLean {
                context,
                dimension,
                lean,
                source,
            } => {
                if !lean.is_finite() {
                    return Err(PrefsError::NonFinite);
                }
                self.set_lean(context.as_ref(), *dimension, *lean, *source);
                Ok(None)
            }
            Observation::Clear { context, dimension } => {
                self.clear(context.as_ref(), *dimension);
                Ok(None)
            }
            Observation::Note { .. } => Ok(None),
        }
    }

    /// This learner's weights in `context` (global plus the context's offset), with pending
    /// forgetting applied; [`Learner::weights`] mixes in the steady learner's.
    fn own_weights(&self, context: Option<&ContextKey>) -> Weights {
        let Weights {
            mut mean,
            mut variance,
        } = self.global_seen(context);
        if let Some(offset) = self.offset(context) {
            let (m, v) = (offset.mean(), offset.variance());
            for i in 0..mean.len() {
                mean[i] += m[i];
                variance[i] += v[i];
            }
        }
        Weights { mean, variance }
    }

    /// The person's utility of an answer in `context` (posterior mean).
    pub fn utility(
        &self,
        answer: &FeatureVector,
        context: Option<&ContextKey>,
    ) -> Result<f64, PrefsError> {
        let x = self.dense(answer)?;
        let w = self.weights(context);
        Ok(w.mean.iter().zip(&x).map(|(a, b)| a * b).sum())
    }

    /// This learner's P(the person prefers `a` to `b`) in `context`, with uncertainty
    /// (including the covariance between style weights) folded in;
    /// [`Learner::prefer_probability`] mixes in the steady learner's.
    fn own_prefer_probability(
        &self,
        a: &FeatureVector,
        b: &FeatureVector,
        context: Option<&ContextKey>,
    ) -> Result<f64, PrefsError> {
        let (xa, xb) = (self.dense(a)?, self.dense(b)?);
        let d: Vec<f64> = xa.iter().zip(&xb).map(|(a, b)| a - b).collect();
        let (mut mean, mut variance) = self.global.embedding.predictor(&d[STYLE_FEATURES..]);
        if let Some(offset) = self.offset(context) {
            let (m, v, _) = offset.predictor(&d);
            mean += m;
            variance += v;
        }
        let weights = self.global.weights();
        let dg = self.global_view(context, &d);
        Ok(self
            .global
            .predictors(&dg)
            .iter()
            .zip(&weights)
            .map(|(p, w)| w * gaussian::moderated_probability(p.mean + mean, p.variance + variance))
            .sum())
    }

    /// The context offset in effect: the person's own (with pending forgetting), else the
    /// population's for a context the person has not used, else none.
    fn offset(&self, context: Option<&ContextKey>) -> Option<OffsetGaussian> {
        let c = context?;
        if let Some(state) = self.contexts.get(c.as_str()) {
            let mut offset = state.posterior.clone();
            offset.decay_toward(&state.prior, self.pending_decay(state));
            return Some(offset);
        }
        let mean = self.population.context_mean.get(c.as_str())?;
        Some(self.context_prior(mean))
    }

    /// The prior of a person's offset in a context whose population offset is `mean`.
    fn context_prior(&self, mean: &[f64]) -> OffsetGaussian {
        let variance: Vec<f64> = (0..mean.len())
            .map(|i| self.context_prior_variance(i))
            .collect();
        let style_cov = self
            .population
            .context_style_cov(|i| self.context_prior_variance(i));
        OffsetGaussian::new(mean, style_cov, &variance)
    }

    /// Prior variance of feature `i` of a context offset: the population's estimate when it
    /// has one, else `context_variance` × the global prior variance.
    fn context_prior_variance(&self, i: usize) -> f64 {
        match self.population.context_variance.get(i) {
            Some(&v) => v,
            None => self.population.variance[i] * self.config.context_variance,
        }
    }

    fn dense(&self, x: &FeatureVector) -> Result<Vec<f64>, PrefsError> {
        let n = self.population.len();
        let embedding_dim = n - STYLE_FEATURES;
        if !x.embedding.is_empty() && x.embedding.len() != embedding_dim {
            return Err(PrefsError::EmbeddingLength {
                expected: embedding_dim,
                got: x.embedding.len(),
            });
        }
        let mut v = Vec::with_capacity(n);
        v.extend_from_slice(&x.style);
        v.extend(x.embedding.iter().map(|&e| f64::from(e)));
        v.resize(n, 0.0);
        if v.iter().any(|e| !e.is_finite()) {
            return Err(PrefsError::NonFinite);
        }
        Ok(v)
    }

    fn pending_decay(&self, state: &ContextState) -> f64 {
        let gap = self
            .step
            .saturating_sub(state.seen_step)
            .min(i32::MAX as u64) as i32;
        self.config.decay_per_event.powi(gap)
    }
}

fn check_weight(weight: f64) -> Result<(), PrefsError> {
    if weight.is_finite() && weight > 0.0 && weight <= 4.0 {
        Ok(())
    } else {
        Err(PrefsError::NonFinite)
    }
}

/// Position of `dimension` in [`Dimension::ALL`].
pub(crate) fn dim_index(dimension: Dimension) -> usize {
    Dimension::ALL
        .iter()
        .position(|&d| d == dimension)
        .expect("Dimension::ALL lists every dimension")
}
