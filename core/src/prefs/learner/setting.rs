//! The setting learner beside a learner (ADR 0047). For some people a context *sets* a taste
//! rather than shifting their own: short answers at work and detailed ones when cooking,
//! whatever they like elsewhere. An offset on top of the person's global weights can express
//! that only by learning, context by context, how far it lies from their own taste. When the
//! population prior has a [`ContextSetting`], a second learner (with its own steady learner)
//! holds the hypothesis that the person is one of those people: in the setting contexts it
//! ignores the global weights along the set direction, and the context's offset, starting at
//! the context's value, carries that part of the taste alone. Predictions and reported weights
//! mix the two hypotheses by their posterior odds (the prior share, then how well each
//! predicted the person's events). This module owns the hypothesis's prior, its odds, passing
//! each observation to every learner, and the public mixed views: [`Learner::weights`] and
//! [`Learner::prefer_probability`].

use crate::prefs::features::{FeatureVector, STYLE_FEATURES};
use crate::prefs::feedback::{ContextKey, Observation};
use crate::prefs::PrefsError;

use super::steady::mix_weights;
use super::{ContextSetting, Learner, PopulationPrior, Weights};

/// The log-odds of the setting hypothesis stay within this, so that neither hypothesis is
/// ever written off by a long run of events (and the numbers stay finite).
const MAX_LOG_ODDS: f64 = 12.0;

/// The prior of the setting hypothesis: `prior` with each setting context's offset moved, along
/// the set direction, to the context's value (its other coordinates and every spread as they
/// are).
pub(super) fn setting_prior(prior: &PopulationPrior, setting: &ContextSetting) -> PopulationPrior {
    let mut sets = prior.clone();
    let u = &setting.direction;
    for (context, value) in &setting.value {
        let mean = sets
            .context_mean
            .entry(context.clone())
            .or_insert_with(|| vec![0.0; prior.len()]);
        let along: f64 = u.iter().zip(mean.iter()).map(|(u, m)| u * m).sum();
        for (m, u) in mean.iter_mut().zip(u) {
            *m += (value - along) * u;
        }
    }
    sets
}

impl Learner {
    /// [`Learner::observe`] for this learner, its steady learner and its setting learner;
    /// returns the probability the pair (this and the steady one) gave a learning event
    /// beforehand, with the event's weight.
    pub(super) fn observe_all(
        &mut self,
        observation: &Observation,
    ) -> Result<Option<(f64, f64)>, PrefsError> {
        let t = self.trust_in_self();
        let predicted = self.take(observation)?;
        let mut pair = predicted;
        if let Some(steady) = self.steady.as_mut() {
            let steady_predicted = steady.take(observation)?;
            if let (Some((p, weight)), Some((q, _))) = (predicted, steady_predicted) {
                pair = Some((t * p + (1.0 - t) * q, weight));
                self.update_trust(p, q, weight);
            }
        }
        if let Some(setting) = self.setting.as_mut() {
            let setting_predicted = setting.observe_all(observation)?;
            if let (Some((p, weight)), Some((q, _))) = (pair, setting_predicted) {
                self.update_setting_odds(p, q, weight);
            }
        }
        Ok(pair)
    }

    /// The person's weights in `context` (global plus the context's offset), with pending
    /// forgetting applied: the mixture (mean and variance) of this learner and its steady
    /// learner, and of the setting learner and its steady learner by the setting odds.
    pub fn weights(&self, context: Option<&ContextKey>) -> Weights {
        let own = self.pair_weights(context);
        match self.setting.as_deref() {
            Some(setting) => mix_weights(
                &own,
                &setting.pair_weights(context),
                1.0 - self.setting_share(),
            ),
            None => own,
        }
    }

    /// P(the person prefers `a` to `b`) in `context`, with uncertainty (including the
    /// covariance between style weights) folded in: this learner's, its steady learner's and,
    /// by the setting odds, the setting learners'.
    pub fn prefer_probability(
        &self,
        a: &FeatureVector,
        b: &FeatureVector,
        context: Option<&ContextKey>,
    ) -> Result<f64, PrefsError> {
        let own = self.pair_prefer_probability(a, b, context)?;
        let Some(setting) = self.setting.as_deref() else {
            return Ok(own);
        };
        let sets = setting.pair_prefer_probability(a, b, context)?;
        let r = self.setting_share();
        Ok((1.0 - r) * own + r * sets)
    }

    /// The posterior probability that contexts set this person's taste (0 without a context
    /// setting in the prior).
    pub fn setting_share(&self) -> f64 {
        if self.setting.is_none() {
            return 0.0;
        }
        1.0 / (1.0 + (-self.setting_log_odds).exp())
    }

    /// After a learning event that the shifting pair gave probability `shifts` and the setting
    /// pair `sets` (of what happened), weighted `weight`: Bayes' rule on the odds.
    pub(super) fn update_setting_odds(&mut self, shifts: f64, sets: f64, weight: f64) {
        let change = weight * (sets.max(1e-12).ln() - shifts.max(1e-12).ln());
        self.setting_log_odds = (self.setting_log_odds + change).clamp(-MAX_LOG_ODDS, MAX_LOG_ODDS);
    }

    /// The global weights as they count in `context`: all of them, except for a setting
    /// learner in a setting context (ADR 0047), where their part along the set direction
    /// does not count (the variance then is the diagonal's share off the direction, ignoring
    /// covariances).
    pub(super) fn global_seen(&self, context: Option<&ContextKey>) -> Weights {
        let mut mean = self.global.mean();
        let mut variance = self.global.variance();
        if let Some(u) = self.set_direction(context) {
            let along: f64 = u.iter().zip(&mean).map(|(u, m)| u * m).sum();
            for (i, u) in u.iter().enumerate() {
                mean[i] -= along * u;
                variance[i] *= 1.0 - u * u;
            }
        }
        Weights { mean, variance }
    }

    /// The style block of the setting learner's own offset mean in `context` (ADR 0047),
    /// without pending forgetting; `None` without a setting learner or for a context it has
    /// not seen. For fitting the population prior.
    pub(crate) fn setting_offset_style(&self, context: &str) -> Option<Vec<f64>> {
        let state = self.setting.as_deref()?.contexts.get(context)?;
        Some(state.posterior.mean()[..STYLE_FEATURES].to_vec())
    }

    /// The feature difference the global weights see in `context`: `d` less its part along
    /// the direction the context sets, when this is a setting learner and `context` one of
    /// the setting contexts (the context's offset carries that part alone).
    pub(super) fn global_view<'a>(
        &self,
        context: Option<&ContextKey>,
        d: &'a [f64],
    ) -> std::borrow::Cow<'a, [f64]> {
        let Some(u) = self.set_direction(context) else {
            return std::borrow::Cow::Borrowed(d);
        };
        let along: f64 = u.iter().zip(d).map(|(u, x)| u * x).sum();
        let mut view = d.to_vec();
        for (v, u) in view.iter_mut().zip(u) {
            *v -= along * u;
        }
        std::borrow::Cow::Owned(view)
    }

    /// The direction `context` sets, for a setting learner in a setting context.
    pub(super) fn set_direction(&self, context: Option<&ContextKey>) -> Option<&[f64]> {
        if !self.sets {
            return None;
        }
        let setting = self.population.context_setting.as_ref()?;
        setting
            .value
            .contains_key(context?.as_str())
            .then_some(&setting.direction[..STYLE_FEATURES])
    }
}
