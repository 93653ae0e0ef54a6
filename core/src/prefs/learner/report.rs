//! What a learner says about a person, for profiles, explanations and the population fit:
//! leans per dimension with their uncertainty, the evidence and source behind each, context
//! offsets, the global style covariance and mixture components, and the contexts used.

use crate::prefs::features::StyleFeature;
use crate::prefs::feedback::ContextKey;
use crate::prefs::profile::Source;
use crate::safety::personalization::Dimension;

use super::{dim_index, Learner, StyleComponent, Weights};

impl Learner {
    /// The posterior of the person's offset in `context` (mean and variance per feature),
    /// with pending forgetting applied; `None` for a context the person has not used.
    pub fn context_offset(&self, context: &ContextKey) -> Option<Weights> {
        let state = self.contexts.get(context.as_str())?;
        let mut offset = state.posterior.clone();
        offset.decay_toward(&state.prior, self.pending_decay(state));
        Some(Weights {
            mean: offset.mean(),
            variance: offset.variance(),
        })
    }

    /// The covariance of the style block of the person's offset in `context` (row-major,
    /// 12 × 12), with pending forgetting applied; `None` for a context the person has not used.
    pub fn context_offset_style_covariance(&self, context: &ContextKey) -> Option<Vec<f64>> {
        let state = self.contexts.get(context.as_str())?;
        let mut offset = state.posterior.clone();
        offset.decay_toward(&state.prior, self.pending_decay(state));
        Some(offset.style_covariance().to_vec())
    }

    /// How far the person leans on `dimension` in `context`: the mean weight of the
    /// dimension's features (log-odds per unit of feature) and its standard deviation.
    pub fn lean(&self, dimension: Dimension, context: Option<&ContextKey>) -> (f64, f64) {
        lean_of(&self.weights(context), dimension)
    }

    /// The population's lean on `dimension` (what a new person starts from).
    pub fn population_lean(&self, dimension: Dimension) -> f64 {
        let idx: Vec<usize> = StyleFeature::indices_of(dimension).collect();
        idx.iter().map(|&i| self.population.mean[i]).sum::<f64>() / idx.len() as f64
    }

    /// Learning events that carried evidence about `dimension`: all of them globally, or those
    /// in `context` when one is given.
    pub fn evidence(&self, dimension: Dimension, context: Option<&ContextKey>) -> u32 {
        let k = dim_index(dimension);
        match context {
            Some(c) => self.contexts.get(c.as_str()).map_or(0, |s| s.evidence[k]),
            None => self.evidence[k],
        }
    }

    /// Who set `dimension` last in `context`: a statement or an edit by the person, else
    /// learned (when there is evidence) or the population.
    pub fn source(&self, dimension: Dimension, context: Option<&ContextKey>) -> Source {
        let pinned = context
            .and_then(|c| self.contexts.get(c.as_str()))
            .and_then(|s| s.pins.get(&dimension))
            .or_else(|| self.pins.get(&dimension));
        match pinned {
            Some(&s) => s,
            None if self.evidence(dimension, None) > 0 => Source::Learned,
            None => Source::Population,
        }
    }

    /// The covariance of the person's global style weights (row-major, 12 × 12); for a
    /// mixture, the moment-matched covariance (spread between components included).
    pub fn style_covariance(&self) -> Vec<f64> {
        self.global.style_covariance()
    }

    /// The person's global style belief as mixture components (one for a unimodal prior):
    /// weight, mean and covariance of each.
    pub fn style_components(&self) -> Vec<StyleComponent> {
        let weights = self.global.weights();
        self.global
            .components
            .iter()
            .zip(weights)
            .map(|(c, weight)| StyleComponent {
                weight,
                mean: c.style.mean.clone(),
                covariance: c.style.cov.clone(),
            })
            .collect()
    }

    /// Context keys the person has given feedback in, in order.
    pub fn contexts(&self) -> impl Iterator<Item = &str> {
        self.contexts.keys().map(String::as_str)
    }
}

pub(super) fn lean_of(w: &Weights, dimension: Dimension) -> (f64, f64) {
    let idx: Vec<usize> = StyleFeature::indices_of(dimension).collect();
    let n = idx.len() as f64;
    let mean = idx.iter().map(|&i| w.mean[i]).sum::<f64>() / n;
    let variance = idx.iter().map(|&i| w.variance[i]).sum::<f64>() / (n * n);
    (mean, variance.sqrt())
}
