//! One learning event: forgetting, the assumed-density update of the global belief and the
//! context offset together, evidence counting, caps, the rating reference and change
//! detection (ADR 0030, 0031, 0034).

use crate::prefs::features::StyleFeature;
use crate::prefs::feedback::ContextKey;
use crate::prefs::gaussian;
use crate::safety::personalization::Dimension;

use super::{dim_index, ContextState, Learner};
use std::collections::BTreeMap;

/// How many answers the rating reference averages over (a moving average beyond this).
const REFERENCE_WINDOW: f64 = 50.0;
/// A feature difference below this does not count as evidence about its dimension.
const EVIDENCE_THRESHOLD: f64 = 0.05;
/// How much of the accumulated surprise carries over to the next event.
const SURPRISE_MEMORY: f64 = 0.8;
/// Events after a detected change during which no further change is detected, so the
/// evidence about the new taste is not thrown away again.
const QUIET_EVENTS: u64 = 12;
/// The first event at which a change can be detected: before it there is no taste yet to
/// change from, and forgetting would only throw away the first evidence (ADR 0046).
pub(super) const FIRST_DETECTION_EVENT: u64 = 6;

impl Learner {
    /// Learn from "`d` won" (a winner-minus-loser feature difference) in `context`; returns
    /// the probability the learner gave it beforehand.
    pub(super) fn learn(&mut self, context: Option<&ContextKey>, d: &[f64], weight: f64) -> f64 {
        self.step += 1;
        let gamma = self.config.decay_per_event;
        let cap = self.config.mean_cap;
        self.global.decay_toward(&self.prior, gamma);
        let floor: Vec<f64> = self
            .population
            .variance
            .iter()
            .map(|v| v * self.config.variance_floor)
            .collect();
        let touched: Vec<usize> = Dimension::ALL
            .into_iter()
            .filter(|&dim| StyleFeature::indices_of(dim).any(|i| d[i].abs() > EVIDENCE_THRESHOLD))
            .map(dim_index)
            .collect();
        for &k in &touched {
            self.evidence[k] += 1;
        }
        if let Some(c) = context {
            self.ensure_context(c);
            let factor = self.pending_decay(&self.contexts[c.as_str()]);
            let step = self.step;
            let state = self
                .contexts
                .get_mut(c.as_str())
                .expect("ensure_context inserted the context");
            state.posterior.decay_toward(&state.prior, factor);
            state.seen_step = step;
            for &k in &touched {
                state.evidence[k] += 1;
            }
        }
        let mut predicted = None;
        let mut left = weight;
        let global_d = self.global_view(context, d);
        let k = crate::prefs::features::STYLE_FEATURES;
        while left > 0.0 {
            let offset = context.and_then(|c| self.contexts.get_mut(c.as_str()));
            let (mut shared_mean, mut shared_variance) = self.global.embedding.predictor(&d[k..]);
            let mut offset_s = Vec::new();
            if let Some(state) = offset.as_deref() {
                let (m, v, s) = state.posterior.predictor(d);
                shared_mean += m;
                shared_variance += v;
                offset_s = s;
            }
            let step = left.min(1.0);
            let parts = self.global.predictors(&global_d);
            let weights = self.global.weights();
            let gains: Vec<(f64, f64, f64)> = parts
                .iter()
                .map(|p| gaussian::adf_gains(p.mean + shared_mean, p.variance + shared_variance))
                .collect();
            let prob: f64 = weights.iter().zip(&gains).map(|(w, g)| w * g.0).sum();
            // Each component takes its own step; its weight moves by how well it predicted
            // the event (a Gaussian-sum filter, ADR 0036).
            for ((c, p), g) in self.global.components.iter_mut().zip(&parts).zip(&gains) {
                c.style.apply(&p.style_sd, g.1, g.2, step);
            }
            let log_likelihood: Vec<f64> =
                gains.iter().map(|g| step * g.0.max(1e-300).ln()).collect();
            self.global.reweight(&log_likelihood);
            // The blocks all components share (embedding, context offset) take the
            // moment-matched step of the mixture: mean gain Σ rₖaₖ, variance gain
            // Σ rₖbₖ − step·Σ rₖ(aₖ − ā)² (the spread between components' steps).
            let r = self.global.weights();
            let a: f64 = r.iter().zip(&gains).map(|(r, g)| r * g.1).sum();
            let spread: f64 = r
                .iter()
                .zip(&gains)
                .map(|(r, g)| r * (g.1 - a).powi(2))
                .sum();
            let b: f64 =
                (r.iter().zip(&gains).map(|(r, g)| r * g.2).sum::<f64>() - step * spread).max(0.0);
            self.global.embedding.apply(&d[k..], a, b, step);
            if let Some(state) = offset {
                state.posterior.apply(d, &offset_s, a, b, step);
            }
            predicted.get_or_insert(prob);
            left -= 1.0;
        }
        if let Some(p) = predicted {
            self.detect_change(context, p, weight.min(1.0));
        }
        // Last, so that forgetting on a detected change (which, with a full covariance, can
        // move a single coordinate outward) is capped too.
        let component_floor = self.component_floor();
        self.global.enforce_caps(&component_floor, &floor[k..], cap);
        if let Some(state) = context.and_then(|c| self.contexts.get_mut(c.as_str())) {
            let ctx_floor: Vec<f64> = state
                .prior
                .variance()
                .iter()
                .map(|v| v * self.config.variance_floor)
                .collect();
            state.posterior.enforce_caps(&ctx_floor, cap);
        }
        predicted.unwrap_or(0.5)
    }

    /// The variance floor of every style component: `variance_floor` of the population's
    /// variance (of that component's, for a mixture prior).
    fn component_floor(&self) -> Vec<Vec<f64>> {
        let share = self.config.variance_floor;
        let k = crate::prefs::features::STYLE_FEATURES;
        if self.population.mixture.is_empty() {
            return vec![self.population.variance[..k]
                .iter()
                .map(|v| v * share)
                .collect()];
        }
        self.population
            .mixture
            .iter()
            .map(|c| (0..k).map(|i| c.covariance[i * k + i] * share).collect())
            .collect()
    }

    /// CUSUM on surprise: each event adds its log-loss minus the loss the model expects of
    /// itself (its entropy). A run of events the model finds too surprising means the taste
    /// changed; then old evidence is forgotten faster and the statistic restarts.
    fn detect_change(&mut self, context: Option<&ContextKey>, p: f64, weight: f64) {
        if self.config.change_threshold <= 0.0 {
            return;
        }
        let p = p.clamp(1e-6, 1.0 - 1e-6);
        let entropy = -(p * p.ln() + (1.0 - p) * (1.0 - p).ln());
        let excess = weight * (-p.ln() - entropy);
        self.surprise = (self.surprise * SURPRISE_MEMORY + excess).max(0.0);
        if self.surprise > self.config.change_threshold && self.step >= self.quiet_until {
            self.surprise = 0.0;
            self.quiet_until = self.step + QUIET_EVENTS;
            let forget = self.config.change_forget;
            self.global.decay_toward(&self.prior, forget);
            if let Some(state) = context.and_then(|c| self.contexts.get_mut(c.as_str())) {
                state.posterior.decay_toward(&state.prior, forget);
            }
        }
    }

    pub(super) fn ensure_context(&mut self, context: &ContextKey) {
        if self.contexts.contains_key(context.as_str()) {
            return;
        }
        let n = self.population.len();
        let mean = self
            .population
            .context_mean
            .get(context.as_str())
            .cloned()
            .unwrap_or_else(|| vec![0.0; n]);
        let prior = self.context_prior(&mean);
        self.contexts.insert(
            context.as_str().to_string(),
            ContextState {
                posterior: prior.clone(),
                prior,
                seen_step: self.step,
                evidence: [0; 7],
                pins: BTreeMap::new(),
            },
        );
    }

    pub(super) fn absorb_reference(&mut self, x: &[f64]) {
        let n = self.reference_count;
        for (r, v) in self.reference.iter_mut().zip(x) {
            *r = (*r * n + v) / (n + 1.0);
        }
        self.reference_count = (n + 1.0).min(REFERENCE_WINDOW);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prefs::features::FeatureVector;
    use crate::prefs::feedback::Observation;
    use crate::prefs::learner::{LearnerConfig, PopulationPrior};

    fn choice(long_wins: bool) -> Observation {
        let vector = |length: f64| FeatureVector {
            style: std::array::from_fn(|i| if i == 0 { length } else { 0.5 }),
            embedding: Vec::new(),
        };
        let (long, short) = (vector(0.95), vector(0.05));
        let (winner, loser) = if long_wins {
            (long, short)
        } else {
            (short, long)
        };
        Observation::Compare {
            context: None,
            winner,
            loser,
            weight: 1.0,
        }
    }

    #[test]
    fn no_change_is_detected_before_there_is_a_taste_to_change_from() {
        let config = LearnerConfig {
            steady_share: 0.0,
            ..LearnerConfig::default()
        };
        // A population sure that people like long answers, and a new person who does not:
        // surprising from the first event, but that is not a change of the person's taste.
        let mut prior = PopulationPrior::neutral(0);
        prior.mean[0] = 6.0;
        prior.variance[0] = 0.5;
        let mut learner = Learner::new(prior, config).expect("valid");
        for _ in 0..5 {
            learner.observe(&choice(false)).expect("valid");
        }
        assert_eq!(
            learner.quiet_until, FIRST_DETECTION_EVENT,
            "nothing was detected"
        );
        // A held taste, then a run against it: detected.
        for _ in 0..20 {
            learner.observe(&choice(false)).expect("valid");
        }
        for _ in 0..8 {
            learner.observe(&choice(true)).expect("valid");
        }
        assert!(
            learner.quiet_until > FIRST_DETECTION_EVENT,
            "the change was detected"
        );
    }
}
