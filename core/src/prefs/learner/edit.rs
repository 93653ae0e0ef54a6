//! What a person says directly: a statement or profile edit sets a dimension's lean (it
//! replaces that dimension's prior, so forgetting pulls toward what the person said), and a
//! deletion puts the dimension back at the population prior (ADR 0031, 0033).

use crate::prefs::features::{StyleFeature, STYLE_FEATURES};
use crate::prefs::feedback::ContextKey;
use crate::prefs::profile::Source;
use crate::safety::personalization::Dimension;

use super::report::lean_of;
use super::{dim_index, Learner};

impl Learner {
    pub(super) fn set_lean(
        &mut self,
        context: Option<&ContextKey>,
        dimension: Dimension,
        lean: f64,
        source: Source,
    ) {
        let cap = self.config.mean_cap;
        let lean = lean.clamp(-cap, cap);
        let share = self.config.statement_variance;
        match context {
            None => {
                let idx: Vec<usize> = StyleFeature::indices_of(dimension).collect();
                // Every component of the prior now leans as stated on this dimension.
                for (c, population) in self
                    .prior
                    .components
                    .iter_mut()
                    .zip(self.population.components())
                {
                    let population_lean =
                        idx.iter().map(|&i| population.mean[i]).sum::<f64>() / idx.len() as f64;
                    let shift = lean - population_lean;
                    for &i in &idx {
                        c.style.mean[i] = (population.mean[i] + shift).clamp(-cap, cap);
                    }
                }
                self.pins.insert(dimension, source);
                self.restate_global_prior();
                self.reset_global(&idx);
            }
            Some(c) => {
                self.ensure_context(c);
                // The stated lean is what the person wants in the context: the offset makes
                // up the difference from the global weights as they count there.
                let global_lean = lean_of(&self.global_seen(Some(c)), dimension).0;
                let variance: Vec<f64> = (0..self.population.len())
                    .map(|i| self.context_prior_variance(i) * share)
                    .collect();
                let step = self.step;
                let state = self
                    .contexts
                    .get_mut(c.as_str())
                    .expect("ensure_context inserted the context");
                let offset = (lean - global_lean).clamp(-cap, cap);
                let idx: Vec<usize> = StyleFeature::indices_of(dimension).collect();
                for &i in &idx {
                    state.prior.pin(i, offset, variance[i]);
                }
                state.posterior.reset_to(&state.prior, &idx);
                state.seen_step = step;
                state.pins.insert(dimension, source);
            }
        }
    }

    pub(super) fn clear(&mut self, context: Option<&ContextKey>, dimension: Dimension) {
        let k = dim_index(dimension);
        let keys: Vec<String> = match context {
            Some(c) => vec![c.as_str().to_string()],
            None => {
                let idx: Vec<usize> = StyleFeature::indices_of(dimension).collect();
                for (c, population) in self
                    .prior
                    .components
                    .iter_mut()
                    .zip(self.population.components())
                {
                    for &i in &idx {
                        c.style.mean[i] = population.mean[i];
                    }
                }
                self.evidence[k] = 0;
                self.pins.remove(&dimension);
                self.restate_global_prior();
                self.reset_global(&idx);
                self.contexts.keys().cloned().collect()
            }
        };
        let cleared: Vec<usize> = StyleFeature::indices_of(dimension).collect();
        let n = self.population.len();
        for key in keys {
            let population_offset = self
                .population
                .context_mean
                .get(&key)
                .cloned()
                .unwrap_or_else(|| vec![0.0; n]);
            // The population's prior for the context, with the dimensions still stated there
            // kept as stated.
            let mut prior = self.context_prior(&population_offset);
            let Some(state) = self.contexts.get_mut(&key) else {
                continue;
            };
            state.pins.remove(&dimension);
            let (stated_mean, stated_variance) = (state.prior.mean(), state.prior.variance());
            for &other in state.pins.keys() {
                for i in StyleFeature::indices_of(other) {
                    prior.pin(i, stated_mean[i], stated_variance[i]);
                }
            }
            state.prior = prior;
            state.posterior.reset_to(&state.prior, &cleared);
            state.evidence[k] = 0;
        }
    }

    /// The global style prior's covariance: the population's, with the rows and columns of
    /// every stated dimension scaled so its variance is `statement_variance` of the
    /// population's (a scaling keeps the covariance positive semi-definite).
    /// Put the global belief's coordinates in `idx` back at the (restated) prior, in every
    /// component.
    fn reset_global(&mut self, idx: &[usize]) {
        for (c, p) in self
            .global
            .components
            .iter_mut()
            .zip(&self.prior.components)
        {
            c.style.reset_to(&p.style, idx);
        }
    }

    fn restate_global_prior(&mut self) {
        let k = STYLE_FEATURES;
        let stated = self.config.statement_variance.sqrt();
        let scale: Vec<f64> = StyleFeature::ALL
            .iter()
            .map(|f| {
                if self.pins.contains_key(&f.dimension()) {
                    stated
                } else {
                    1.0
                }
            })
            .collect();
        for (c, population) in self
            .prior
            .components
            .iter_mut()
            .zip(self.population.components())
        {
            for i in 0..k {
                for j in 0..k {
                    c.style.cov[i * k + j] = population.covariance[i * k + j] * scale[i] * scale[j];
                }
            }
        }
    }
}
