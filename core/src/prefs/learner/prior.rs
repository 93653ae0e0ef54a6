//! Where a person starts: the [`PopulationPrior`] — the population's weights, how far and in
//! which directions people spread around them (a full covariance over the style block, ADR
//! 0034), the typical answer a rating is judged against, and the population's context offsets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::prefs::features::{FeatureVector, STYLE_FEATURES};
use crate::prefs::full_gaussian::cholesky;
use crate::prefs::PrefsError;

/// Where a person starts: the population's weights, how far people spread around them, the
/// typical answer a rating is judged against, and the population's offset per context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PopulationPrior {
    /// Mean weight per feature (style block, then embedding block).
    pub mean: Vec<f64>,
    /// Variance per feature: how much people differ from the population.
    pub variance: Vec<f64>,
    /// Covariance of the style block (row-major, 12 × 12), the directions in which people
    /// differ together; its diagonal must equal the style part of `variance`. Empty: the
    /// style features vary independently (diagonal `variance`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub style_covariance: Vec<f64>,
    /// Features of a typical answer (what "thumbs up" is relative to).
    pub reference: Vec<f64>,
    /// Prior variance per feature of a person's context offset: how far people's tastes in a
    /// context differ from their global taste. Empty: `context_variance` × `variance`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_variance: Vec<f64>,
    /// Covariance of the style block of a person's context offset (row-major, 12 × 12): the
    /// directions in which a context moves people's tastes together (ADR 0045); its diagonal
    /// must equal the style part of `context_variance`. Empty: the offset's style features
    /// vary independently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context_style_covariance: Vec<f64>,
    /// The population's offset per context key.
    #[serde(default)]
    pub context_mean: BTreeMap<String, Vec<f64>>,
    /// Tastes that are not one bump (ADR 0036): the style block's prior as a mixture of
    /// Gaussians — people either like long answers or short ones. Empty: one Gaussian
    /// (`mean`, `style_cov()`), as before. When present, the style part of `mean` and
    /// `style_covariance` should be the mixture's overall mean and covariance (used for
    /// variance floors and explanations).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mixture: Vec<StyleComponent>,
    /// Contexts that *set* a taste for some people rather than shift their own (ADR 0047:
    /// "short answers at work, whatever I like elsewhere"). `None`: contexts only shift.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_setting: Option<ContextSetting>,
}

/// How some contexts set a taste (ADR 0047). A learner with this prior keeps a second
/// learner beside it for the hypothesis that the person is one of those people: in the
/// contexts listed, that learner ignores the person's global weights along `direction` and
/// the context's offset carries that part of the taste alone, starting at the context's
/// `value`. Predictions mix the two by how well each predicted the person's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextSetting {
    /// Prior share of people whose taste the contexts set (strictly between 0 and 1).
    pub share: f64,
    /// The taste the contexts set: a unit vector over the style block (12).
    pub direction: Vec<f64>,
    /// Per context key, the value along `direction` that the context sets.
    pub value: BTreeMap<String, f64>,
}

/// One component of a mixture prior over the style block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StyleComponent {
    /// Share of people in this component (the weights of a mixture sum to 1).
    pub weight: f64,
    /// Mean style weights (12).
    pub mean: Vec<f64>,
    /// Covariance of the style weights (row-major, 12 × 12).
    pub covariance: Vec<f64>,
}

impl PopulationPrior {
    /// Prior variance of a style weight in the neutral prior.
    pub const NEUTRAL_STYLE_VARIANCE: f64 = 4.0;
    /// Prior variance of an embedding weight in the neutral prior.
    pub const NEUTRAL_EMBEDDING_VARIANCE: f64 = 0.25;

    /// The prior an app uses without population data: no preference, wide uncertainty.
    pub fn neutral(embedding_dim: usize) -> Self {
        let n = STYLE_FEATURES + embedding_dim;
        let mut variance = vec![Self::NEUTRAL_EMBEDDING_VARIANCE; n];
        variance[..STYLE_FEATURES].fill(Self::NEUTRAL_STYLE_VARIANCE);
        let mut reference = vec![0.0; n];
        reference[..STYLE_FEATURES].copy_from_slice(&typical_answer().style);
        Self {
            mean: vec![0.0; n],
            variance,
            style_covariance: Vec::new(),
            context_variance: Vec::new(),
            context_style_covariance: Vec::new(),
            reference,
            context_mean: BTreeMap::new(),
            mixture: Vec::new(),
            context_setting: None,
        }
    }

    /// The style block's prior as mixture components: `mixture`, or one component of weight
    /// 1 at the style part of `mean` with `style_cov()`.
    pub fn components(&self) -> Vec<StyleComponent> {
        if !self.mixture.is_empty() {
            return self.mixture.clone();
        }
        vec![StyleComponent {
            weight: 1.0,
            mean: self.mean[..STYLE_FEATURES].to_vec(),
            covariance: self.style_cov(),
        }]
    }

    /// Features per answer this prior is for.
    pub fn len(&self) -> usize {
        self.mean.len()
    }

    /// Whether the prior has no features (never true for a valid prior).
    pub fn is_empty(&self) -> bool {
        self.mean.is_empty()
    }

    /// The style block's covariance of a context offset (row-major, 12 × 12):
    /// `context_style_covariance`, or the diagonal of `variance(i)` when that is empty.
    pub fn context_style_cov(&self, variance: impl Fn(usize) -> f64) -> Vec<f64> {
        if !self.context_style_covariance.is_empty() {
            return self.context_style_covariance.clone();
        }
        let n = STYLE_FEATURES;
        let mut cov = vec![0.0; n * n];
        for i in 0..n {
            cov[i * n + i] = variance(i);
        }
        cov
    }

    /// The style block's covariance (row-major, 12 × 12): `style_covariance`, or the
    /// diagonal of `variance` when that is empty.
    pub fn style_cov(&self) -> Vec<f64> {
        if !self.style_covariance.is_empty() {
            return self.style_covariance.clone();
        }
        let n = STYLE_FEATURES;
        let mut cov = vec![0.0; n * n];
        for i in 0..n {
            cov[i * n + i] = self.variance[i];
        }
        cov
    }

    pub(crate) fn validate(&self, cap: f64) -> Result<(), PrefsError> {
        let n = self.mean.len();
        if n < STYLE_FEATURES || self.variance.len() != n || self.reference.len() != n {
            return Err(PrefsError::InvalidPrior(
                "vectors must share one length >= 12",
            ));
        }
        if !self.context_variance.is_empty()
            && (self.context_variance.len() != n
                || self
                    .context_variance
                    .iter()
                    .any(|v| !v.is_finite() || *v < 0.0))
        {
            return Err(PrefsError::InvalidPrior(
                "context variances must match the length and be finite and >= 0",
            ));
        }
        let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
        if !self.context_style_covariance.is_empty() {
            let c = &self.context_style_covariance;
            let k = STYLE_FEATURES;
            let valid = c.len() == k * k
                && finite(c)
                && self.context_variance.len() == n
                && (0..k).all(|i| (c[i * k + i] - self.context_variance[i]).abs() <= 1e-9)
                && symmetric_psd(c);
            if !valid {
                return Err(PrefsError::InvalidPrior(
                    "the context style covariance must be 12 x 12, finite, symmetric, positive \
                     semi-definite and match the context variances",
                ));
            }
        }
        if self.context_mean.values().any(|m| m.len() != n) {
            return Err(PrefsError::InvalidPrior(
                "context offsets must match the length",
            ));
        }
        if !finite(&self.mean) || !finite(&self.reference) || !finite(&self.variance) {
            return Err(PrefsError::InvalidPrior("values must be finite"));
        }
        if self.variance.iter().any(|&v| v < 0.0) {
            return Err(PrefsError::InvalidPrior("variances must be >= 0"));
        }
        if !self.style_covariance.is_empty() {
            let c = &self.style_covariance;
            let k = STYLE_FEATURES;
            if c.len() != k * k || !finite(c) {
                return Err(PrefsError::InvalidPrior(
                    "the style covariance must be 12 x 12 and finite",
                ));
            }
            let diagonal = (0..k).all(|i| (c[i * k + i] - self.variance[i]).abs() <= 1e-9);
            if !diagonal || !symmetric_psd(c) {
                return Err(PrefsError::InvalidPrior(
                    "the style covariance must be symmetric, positive semi-definite and match the variances",
                ));
            }
        }
        let within = |v: &[f64]| v.iter().all(|x| x.abs() <= cap);
        if !self.mixture.is_empty() {
            let k = STYLE_FEATURES;
            let shaped = self.mixture.iter().all(|c| {
                c.weight.is_finite()
                    && c.weight > 0.0
                    && c.mean.len() == k
                    && finite(&c.mean)
                    && within(&c.mean)
                    && c.covariance.len() == k * k
                    && finite(&c.covariance)
                    && symmetric_psd(&c.covariance)
            });
            let total: f64 = self.mixture.iter().map(|c| c.weight).sum();
            if !shaped || (total - 1.0).abs() > 1e-6 || self.mixture.len() > MAX_COMPONENTS {
                return Err(PrefsError::InvalidPrior(
                    "mixture components need weights > 0 summing to 1, 12 finite means within \
                     the cap and a symmetric positive semi-definite 12 x 12 covariance",
                ));
            }
        }
        if let Some(setting) = &self.context_setting {
            setting.validate(cap)?;
        }
        if !within(&self.mean) || !self.context_mean.values().all(|m| within(m) && finite(m)) {
            return Err(PrefsError::InvalidPrior(
                "means must lie within the mean cap",
            ));
        }
        Ok(())
    }
}

impl ContextSetting {
    /// Whether the setting is well formed (see the error for what that means).
    pub fn validate(&self, cap: f64) -> Result<(), PrefsError> {
        let norm: f64 = self.direction.iter().map(|x| x * x).sum::<f64>().sqrt();
        let valid = self.share.is_finite()
            && self.share > 0.0
            && self.share < 1.0
            && self.direction.len() == STYLE_FEATURES
            && self.direction.iter().all(|x| x.is_finite())
            && (norm - 1.0).abs() <= 1e-6
            && !self.value.is_empty()
            && self.value.values().all(|v| v.is_finite() && v.abs() <= cap);
        if valid {
            Ok(())
        } else {
            Err(PrefsError::InvalidPrior(
                "a context setting needs a share strictly between 0 and 1, a unit direction of \
                 12 finite numbers and at least one context value within the mean cap",
            ))
        }
    }
}

/// At most this many mixture components in a prior.
pub const MAX_COMPONENTS: usize = 16;

/// Whether a row-major 12 × 12 matrix is symmetric and positive semi-definite (Cholesky with
/// a tiny ridge).
fn symmetric_psd(c: &[f64]) -> bool {
    let k = STYLE_FEATURES;
    let symmetric = (0..k).all(|i| (0..i).all(|j| (c[i * k + j] - c[j * k + i]).abs() <= 1e-9));
    let mut ridged = c.to_vec();
    let scale = 1.0 + (0..k).map(|i| c[i * k + i]).fold(0.0, f64::max);
    for i in 0..k {
        ridged[i * k + i] += 1e-9 * scale;
    }
    symmetric && cholesky(&ridged, k).is_some()
}

/// The features of a plain, medium-length prose answer: the default rating reference.
pub(crate) fn typical_answer() -> FeatureVector {
    crate::prefs::features::extract(
        "Bread rises because yeast ferments the sugars in the dough and releases gas. \
         Knead it until it is smooth, let it rest somewhere warm for about an hour, \
         then shape it and bake it until the crust is golden. A longer, cooler rise \
         gives more flavour.",
    )
}
