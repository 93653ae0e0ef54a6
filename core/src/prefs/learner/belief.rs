//! A person's global belief about their weights: a full-covariance Gaussian over the style
//! block (people's tastes are correlated across style features, ADR 0034) and a diagonal one
//! over the optional embedding block (kept diagonal so an update stays cheap for long
//! embeddings). The style and embedding blocks are treated as independent.

use serde::{Deserialize, Serialize};

use crate::prefs::features::STYLE_FEATURES;
use crate::prefs::full_gaussian::FullGaussian;
use crate::prefs::gaussian::DiagGaussian;
use crate::prefs::learner::PopulationPrior;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Belief {
    pub style: FullGaussian,
    pub embedding: DiagGaussian,
}

/// The linear predictor of a belief for one difference vector: its mean and variance, and
/// `Σd` of the style block (what its update needs).
pub(crate) struct Predictor {
    pub mean: f64,
    pub variance: f64,
    pub style_sd: Vec<f64>,
}

impl Belief {
    /// The population's belief: the prior itself.
    pub fn from_prior(prior: &PopulationPrior) -> Self {
        let k = STYLE_FEATURES;
        Self {
            style: FullGaussian::new(prior.mean[..k].to_vec(), prior.style_cov()),
            embedding: DiagGaussian::new(prior.mean[k..].to_vec(), prior.variance[k..].to_vec()),
        }
    }

    /// Mean per feature (style, then embedding).
    pub fn mean(&self) -> Vec<f64> {
        let mut m = self.style.mean.clone();
        m.extend_from_slice(&self.embedding.mean);
        m
    }

    /// Marginal variance per feature.
    pub fn variance(&self) -> Vec<f64> {
        let mut v: Vec<f64> = (0..STYLE_FEATURES)
            .map(|i| self.style.variance(i))
            .collect();
        v.extend_from_slice(&self.embedding.variance);
        v
    }

    pub fn predictor(&self, d: &[f64]) -> Predictor {
        let (m1, v1, style_sd) = self.style.predictor(d);
        let (m2, v2) = self.embedding.predictor(&d[STYLE_FEATURES..]);
        Predictor {
            mean: m1 + m2,
            variance: v1 + v2,
            style_sd,
        }
    }

    /// The ADF update with gains `a`, `b` (see [`crate::prefs::gaussian::adf_gains`]).
    pub fn apply(&mut self, d: &[f64], p: &Predictor, a: f64, b: f64, step: f64) {
        self.style.apply(&p.style_sd, a, b, step);
        self.embedding.apply(&d[STYLE_FEATURES..], a, b, step);
    }

    /// Forget old evidence toward `prior` (natural-parameter decay by `factor`).
    pub fn decay_toward(&mut self, prior: &Belief, factor: f64) {
        self.style.decay_toward(&prior.style, factor);
        self.embedding.decay_toward(&prior.embedding, factor);
    }

    /// Variances at least `floor` (per feature), means within ±`cap`.
    pub fn enforce_caps(&mut self, floor: &[f64], cap: f64) {
        self.style.enforce_caps(&floor[..STYLE_FEATURES], cap);
        self.embedding.enforce_caps(&floor[STYLE_FEATURES..], cap);
    }
}
