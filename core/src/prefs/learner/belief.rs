//! A person's global belief about their weights: over the style block a mixture of
//! full-covariance Gaussians (one component for a unimodal prior; several when the population
//! prior says tastes are two-sided, ADR 0036 — a Gaussian-sum filter), each with a weight; over
//! the optional embedding block one diagonal Gaussian (kept diagonal so an update stays cheap
//! for long embeddings). The style and embedding blocks are treated as independent.

use serde::{Deserialize, Serialize};

use crate::prefs::features::STYLE_FEATURES;
use crate::prefs::full_gaussian::FullGaussian;
use crate::prefs::gaussian::DiagGaussian;
use crate::prefs::learner::PopulationPrior;

/// Log-weights of components are kept within this of the largest, so a component that lost
/// every recent event stays representable (and can come back).
const MIN_LOG_WEIGHT: f64 = -30.0;

/// One component of the style mixture: its log-weight (the log-weights are normalized so the
/// weights sum to 1) and its Gaussian.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Component {
    pub log_weight: f64,
    pub style: FullGaussian,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Belief {
    pub components: Vec<Component>,
    pub embedding: DiagGaussian,
}

/// One component's linear predictor for a difference vector (the style block's part), and
/// `Σd` of its style block (what its update needs).
pub(crate) struct Predictor {
    pub mean: f64,
    pub variance: f64,
    pub style_sd: Vec<f64>,
}

impl Belief {
    /// The population's belief: the prior itself.
    pub fn from_prior(prior: &PopulationPrior) -> Self {
        let k = STYLE_FEATURES;
        let components = prior
            .components()
            .into_iter()
            .map(|c| Component {
                log_weight: c.weight.ln(),
                style: FullGaussian::new(c.mean, c.covariance),
            })
            .collect();
        let mut belief = Self {
            components,
            embedding: DiagGaussian::new(prior.mean[k..].to_vec(), prior.variance[k..].to_vec()),
        };
        belief.normalize();
        belief
    }

    /// Component weights (sum to 1).
    pub fn weights(&self) -> Vec<f64> {
        self.components.iter().map(|c| c.log_weight.exp()).collect()
    }

    /// Mean per feature (style: the mixture's mean; then embedding).
    pub fn mean(&self) -> Vec<f64> {
        let w = self.weights();
        let mut m = vec![0.0; STYLE_FEATURES];
        for (c, wk) in self.components.iter().zip(&w) {
            for (a, b) in m.iter_mut().zip(&c.style.mean) {
                *a += wk * b;
            }
        }
        m.extend_from_slice(&self.embedding.mean);
        m
    }

    /// Marginal variance per feature (the mixture's, spread between components included).
    pub fn variance(&self) -> Vec<f64> {
        let cov = self.style_covariance();
        let k = STYLE_FEATURES;
        let mut v: Vec<f64> = (0..k).map(|i| cov[i * k + i]).collect();
        v.extend_from_slice(&self.embedding.variance);
        v
    }

    /// The style block's covariance (row-major): the mixture's moment-matched one.
    pub fn style_covariance(&self) -> Vec<f64> {
        let k = STYLE_FEATURES;
        let w = self.weights();
        let mean = &self.mean()[..k];
        let mut cov = vec![0.0; k * k];
        for (c, wk) in self.components.iter().zip(&w) {
            for i in 0..k {
                let di = c.style.mean[i] - mean[i];
                for j in 0..k {
                    let dj = c.style.mean[j] - mean[j];
                    cov[i * k + j] += wk * (c.style.cov[i * k + j] + di * dj);
                }
            }
        }
        cov
    }

    /// Each component's predictor for `d` (style part only).
    pub fn predictors(&self, d: &[f64]) -> Vec<Predictor> {
        self.components
            .iter()
            .map(|c| {
                let (mean, variance, style_sd) = c.style.predictor(d);
                Predictor {
                    mean,
                    variance,
                    style_sd,
                }
            })
            .collect()
    }

    /// Forget old evidence toward `prior` (natural-parameter decay by `factor`): every
    /// component toward its prior component, and the log-weights toward the prior's.
    pub fn decay_toward(&mut self, prior: &Belief, factor: f64) {
        if factor >= 1.0 {
            return;
        }
        for (c, p) in self.components.iter_mut().zip(&prior.components) {
            c.style.decay_toward(&p.style, factor);
            c.log_weight = factor * c.log_weight + (1.0 - factor) * p.log_weight;
        }
        self.normalize();
        self.embedding.decay_toward(&prior.embedding, factor);
    }

    /// Reweight the components by `log_likelihood[k]` (each component's evidence for the
    /// event), then normalize.
    pub fn reweight(&mut self, log_likelihood: &[f64]) {
        for (c, l) in self.components.iter_mut().zip(log_likelihood) {
            c.log_weight += l;
        }
        self.normalize();
    }

    /// Log-weights normalized (weights sum to 1), none below [`MIN_LOG_WEIGHT`] of the
    /// largest. With one component the log-weight is exactly 0.
    fn normalize(&mut self) {
        let top = self
            .components
            .iter()
            .map(|c| c.log_weight)
            .fold(f64::NEG_INFINITY, f64::max);
        if !top.is_finite() {
            let uniform = -(self.components.len() as f64).ln();
            for c in &mut self.components {
                c.log_weight = uniform;
            }
            return;
        }
        for c in &mut self.components {
            c.log_weight = (c.log_weight - top).max(MIN_LOG_WEIGHT);
        }
        let total: f64 = self.components.iter().map(|c| c.log_weight.exp()).sum();
        let shift = total.ln();
        for c in &mut self.components {
            c.log_weight -= shift;
        }
    }

    /// Variances at least `floor[k][i]` per component and feature (style) or `floor_embedding`
    /// (embedding), means within ±`cap`.
    pub fn enforce_caps(&mut self, floor: &[Vec<f64>], floor_embedding: &[f64], cap: f64) {
        for (c, f) in self.components.iter_mut().zip(floor) {
            c.style.enforce_caps(f, cap);
        }
        self.embedding.enforce_caps(floor_embedding, cap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_sided() -> PopulationPrior {
        let mut prior = PopulationPrior::neutral(0);
        let k = STYLE_FEATURES;
        let mut cov = vec![0.0; k * k];
        for i in 0..k {
            cov[i * k + i] = 0.5;
        }
        let mut long = vec![0.0; k];
        long[0] = 3.0;
        let short: Vec<f64> = long.iter().map(|x| -x).collect();
        prior.mixture = vec![
            crate::prefs::learner::prior::StyleComponent {
                weight: 0.5,
                mean: long,
                covariance: cov.clone(),
            },
            crate::prefs::learner::prior::StyleComponent {
                weight: 0.5,
                mean: short,
                covariance: cov,
            },
        ];
        prior
    }

    #[test]
    fn a_mixture_has_its_moment_matched_mean_and_spread() {
        let b = Belief::from_prior(&two_sided());
        let w = b.weights();
        assert!((w[0] - 0.5).abs() < 1e-12 && (w[1] - 0.5).abs() < 1e-12);
        assert!(b.mean()[0].abs() < 1e-12);
        // 0.5 within each component plus 9 between them.
        assert!((b.variance()[0] - 9.5).abs() < 1e-9);
        assert!((b.variance()[1] - 0.5).abs() < 1e-9);
    }

    #[test]
    fn reweighting_and_decay_keep_weights_normalized_and_return_to_the_prior() {
        let prior = Belief::from_prior(&two_sided());
        let mut b = prior.clone();
        b.reweight(&[0.0, -1000.0]);
        let w = b.weights();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(w[1] > 0.0 && w[1] < 1e-12, "floored, not zero: {w:?}");
        b.decay_toward(&prior, 0.5);
        let w2 = b.weights();
        assert!(w2[1] > w[1] && (w2.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        b.decay_toward(&prior, 0.0);
        assert!((b.weights()[1] - 0.5).abs() < 1e-12);
    }

    #[test]
    fn one_component_has_log_weight_exactly_zero() {
        let mut b = Belief::from_prior(&PopulationPrior::neutral(0));
        assert_eq!(b.components.len(), 1);
        b.reweight(&[-3.7]);
        assert_eq!(b.components[0].log_weight, 0.0);
        assert_eq!(b.weights(), vec![1.0]);
    }
}
