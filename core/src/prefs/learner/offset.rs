//! A person's offset in one context (ADR 0045): a full-covariance Gaussian over the style block,
//! so that a context can move the features of one taste together (the length features rise
//! and fall as one when a person wants short answers at work), and a diagonal Gaussian over
//! the embedding block. Owns the operations the learner applies to an offset: its predictor,
//! the assumed-density step, forgetting, caps, and setting or resetting coordinates.

use serde::{Deserialize, Serialize};

use crate::prefs::features::STYLE_FEATURES;
use crate::prefs::full_gaussian::FullGaussian;
use crate::prefs::gaussian::DiagGaussian;

/// The Gaussian belief about one context offset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct OffsetGaussian {
    style: FullGaussian,
    embedding: DiagGaussian,
}

impl OffsetGaussian {
    /// An offset with `mean` (style then embedding), a style covariance (row-major 12 × 12)
    /// and the variances of the embedding features (`variance[12..]`).
    pub fn new(mean: &[f64], style_cov: Vec<f64>, variance: &[f64]) -> Self {
        let k = STYLE_FEATURES;
        Self {
            style: FullGaussian::new(mean[..k].to_vec(), style_cov),
            embedding: DiagGaussian::new(mean[k..].to_vec(), variance[k..].to_vec()),
        }
    }

    /// Mean per feature (style then embedding).
    pub fn mean(&self) -> Vec<f64> {
        let mut m = self.style.mean.clone();
        m.extend_from_slice(&self.embedding.mean);
        m
    }

    /// Variance per feature (the covariance's diagonal, then the embedding variances).
    pub fn variance(&self) -> Vec<f64> {
        let mut v: Vec<f64> = (0..self.style.len())
            .map(|i| self.style.variance(i))
            .collect();
        v.extend_from_slice(&self.embedding.variance);
        v
    }

    /// The style block's covariance (row-major, 12 × 12).
    pub fn style_covariance(&self) -> &[f64] {
        &self.style.cov
    }

    /// Mean and variance of `δ·d`, and `Σd` over the style block (for [`Self::apply`]).
    pub fn predictor(&self, d: &[f64]) -> (f64, f64, Vec<f64>) {
        let (m, v, s) = self.style.predictor(d);
        let (me, ve) = self.embedding.predictor(&d[STYLE_FEATURES..]);
        (m + me, v + ve, s)
    }

    /// The assumed-density step with gains `a`, `b`; `s` is the style part of
    /// [`Self::predictor`].
    pub fn apply(&mut self, d: &[f64], s: &[f64], a: f64, b: f64, step: f64) {
        self.style.apply(s, a, b, step);
        self.embedding.apply(&d[STYLE_FEATURES..], a, b, step);
    }

    /// Forget old evidence toward `prior` (`prior × likelihood^factor`).
    pub fn decay_toward(&mut self, prior: &OffsetGaussian, factor: f64) {
        self.style.decay_toward(&prior.style, factor);
        self.embedding.decay_toward(&prior.embedding, factor);
    }

    /// Variance at least `floor[i]`, mean within ±`cap`.
    pub fn enforce_caps(&mut self, floor: &[f64], cap: f64) {
        let k = STYLE_FEATURES;
        self.style.enforce_caps(&floor[..k], cap);
        self.embedding.enforce_caps(&floor[k..], cap);
    }

    /// Set style coordinate `i` to `mean` with `variance`, independent of the others.
    pub fn pin(&mut self, i: usize, mean: f64, variance: f64) {
        let n = self.style.len();
        self.style.mean[i] = mean;
        for j in 0..n {
            self.style.cov[i * n + j] = 0.0;
            self.style.cov[j * n + i] = 0.0;
        }
        self.style.cov[i * n + i] = variance;
    }

    /// Put the style coordinates in `idx` back at `prior`'s.
    pub fn reset_to(&mut self, prior: &OffsetGaussian, idx: &[usize]) {
        self.style.reset_to(&prior.style, idx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn correlated() -> OffsetGaussian {
        let k = STYLE_FEATURES;
        let mut cov = vec![0.0; k * k];
        for i in 0..k {
            cov[i * k + i] = 1.0;
        }
        cov[1] = 0.9;
        cov[k] = 0.9;
        OffsetGaussian::new(&[0.0; 14], cov, &[1.0; 14])
    }

    #[test]
    fn a_step_on_one_feature_moves_the_features_that_vary_with_it() {
        let mut g = correlated();
        let mut d = vec![0.0; 14];
        d[0] = 1.0;
        let (_, v, s) = g.predictor(&d);
        assert!((v - 1.0).abs() < 1e-12);
        g.apply(&d, &s, 0.5, 0.1, 1.0);
        let m = g.mean();
        assert!(m[0] > 0.0 && m[1] > 0.0 && m[2] == 0.0);
        assert!(m[1] < m[0]);
    }

    #[test]
    fn pinning_a_coordinate_makes_it_independent_and_reset_restores_the_prior() {
        let prior = correlated();
        let mut g = prior.clone();
        g.pin(0, 2.0, 0.25);
        assert_eq!(g.mean()[0], 2.0);
        assert_eq!(g.variance()[0], 0.25);
        assert_eq!(g.style_covariance()[1], 0.0);
        g.reset_to(&prior, &[0]);
        assert_eq!(g.mean()[0], 0.0);
        assert_eq!(g.variance()[0], 1.0);
    }
}
