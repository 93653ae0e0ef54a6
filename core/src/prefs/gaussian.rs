//! A diagonal Gaussian over a weight block and the two operations the learner needs on it:
//! forgetting toward a prior (exponential decay of old evidence in natural parameters) and the
//! one-step Laplace update of a logistic observation. Kept private to [`crate::prefs`].

use serde::{Deserialize, Serialize};

/// Mean and variance per coordinate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DiagGaussian {
    pub mean: Vec<f64>,
    pub variance: Vec<f64>,
}

impl DiagGaussian {
    pub fn new(mean: Vec<f64>, variance: Vec<f64>) -> Self {
        Self { mean, variance }
    }

    /// Forget old evidence: the posterior becomes `prior × likelihood^factor`, i.e. precision
    /// and precision-weighted mean move toward the prior's by `1 - factor`. With `factor` = 1
    /// nothing changes; with 0 the block is the prior again. A coordinate whose prior variance
    /// is 0 is fixed at the prior mean.
    pub fn decay_toward(&mut self, prior: &DiagGaussian, factor: f64) {
        if factor >= 1.0 {
            return;
        }
        for i in 0..self.mean.len() {
            let v0 = prior.variance[i];
            if v0 <= 0.0 {
                self.mean[i] = prior.mean[i];
                self.variance[i] = 0.0;
                continue;
            }
            let (l0, l) = (1.0 / v0, 1.0 / self.variance[i]);
            let (e0, e) = (prior.mean[i] * l0, self.mean[i] * l);
            let precision = l0 + factor * (l - l0);
            let natural_mean = e0 + factor * (e - e0);
            self.variance[i] = 1.0 / precision;
            self.mean[i] = natural_mean / precision;
        }
    }

    /// Mean and variance of `θ·d` over this block's coordinates (the leading ones of `d`).
    pub fn predictor(&self, d: &[f64]) -> (f64, f64) {
        let (mut mean, mut variance) = (0.0, 0.0);
        for ((m, v), &di) in self.mean.iter().zip(&self.variance).zip(d) {
            mean += m * di;
            variance += v * di * di;
        }
        (mean, variance)
    }

    /// Keep every coordinate learnable and bounded: variance at least `floor[i]`, mean within
    /// ±`cap`.
    pub fn enforce_caps(&mut self, floor: &[f64], cap: f64) {
        for ((mean, variance), &min) in self.mean.iter_mut().zip(&mut self.variance).zip(floor) {
            if *variance > 0.0 {
                *variance = variance.max(min);
            }
            *mean = mean.clamp(-cap, cap);
        }
    }
}

/// The linear predictor `z = Σ_blocks θ·d` of a logistic observation under independent
/// diagonal Gaussian blocks: its mean and variance.
#[cfg(test)]
pub(crate) fn predictor(blocks: &[&DiagGaussian], d: &[f64]) -> (f64, f64) {
    let mut mean = 0.0;
    let mut variance = 0.0;
    for b in blocks {
        for (i, &di) in d.iter().enumerate() {
            if di != 0.0 {
                mean += b.mean[i] * di;
                variance += b.variance[i] * di * di;
            }
        }
    }
    (mean, variance)
}

/// P(y = 1) for a logistic observation whose predictor is N(mean, variance): the probit
/// approximation `σ(mean / sqrt(1 + π variance / 8))`.
pub(crate) fn moderated_probability(mean: f64, variance: f64) -> f64 {
    sigmoid(mean / (1.0 + std::f64::consts::PI * variance / 8.0).sqrt())
}

/// The standard logistic function.
pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// Scale of the probit that approximates the logistic: `σ(z) ≈ Φ(z / PROBIT_SCALE)`.
const PROBIT_SCALE: f64 = 1.595_769_121_605_731; // sqrt(8 / π)

/// The assumed-density step for the observation "`d` won" (y = 1) when its predictor is
/// `z ~ N(mean, variance)`: the logistic likelihood is approximated by the probit
/// `Φ(z / sqrt(8/π))`, whose product with the Gaussian predictor has exact moments. Returns
/// `(p, a, b)`: the predicted probability before the update, and the gains with which a block
/// updates — mean `+= a·Σd`, covariance `−= b·(Σd)(Σd)ᵀ`.
pub(crate) fn adf_gains(mean: f64, variance: f64) -> (f64, f64, f64) {
    let p = moderated_probability(mean, variance);
    let total = (PROBIT_SCALE * PROBIT_SCALE + variance).sqrt();
    let t = mean / total;
    let v = if t < -5.0 {
        // Mills-ratio asymptote, where Φ(t) is too small for the ratio to be computed.
        -t / (1.0 - 1.0 / (t * t) + 3.0 / t.powi(4))
    } else {
        normal_pdf(t) / normal_cdf(t)
    };
    let w = (v * (v + t)).clamp(0.0, 1.0);
    (p, v / total, w / (total * total))
}

/// Update diagonal blocks with the observation "`d` won", weighted by `weight`, by
/// [`adf_gains`]. A weight below 1 takes that fraction of the step (a weight above 1 is capped
/// at 1 per call; callers repeat the call for more). Returns the predicted probability before
/// the update.
#[cfg(test)]
pub(crate) fn update_logistic(blocks: &mut [&mut DiagGaussian], d: &[f64], weight: f64) -> f64 {
    let (mean, variance) = {
        let shared: Vec<&DiagGaussian> = blocks.iter().map(|b| &**b).collect();
        predictor(&shared, d)
    };
    let (p, a, b) = adf_gains(mean, variance);
    let step = weight.min(1.0);
    for block in blocks.iter_mut() {
        block.apply(d, a, b, step);
    }
    p
}

impl DiagGaussian {
    /// The diagonal form of the ADF update with gains `a`, `b` (see [`adf_gains`]).
    pub fn apply(&mut self, d: &[f64], a: f64, b: f64, step: f64) {
        for (i, &di) in d.iter().enumerate().take(self.mean.len()) {
            if di == 0.0 {
                continue;
            }
            let vi = self.variance[i];
            self.mean[i] += step * vi * di * a;
            self.variance[i] = vi * (1.0 - step * vi * di * di * b);
        }
    }
}

fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The standard normal CDF (Abramowitz–Stegun 7.1.26, error below 1.5e-7).
pub(crate) fn normal_cdf(x: f64) -> f64 {
    let z = x.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-z * z).exp();
    if x >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_moves_toward_the_winner_and_shrinks_variance() {
        let mut g = DiagGaussian::new(vec![0.0, 0.0], vec![1.0, 1.0]);
        let p = update_logistic(&mut [&mut g], &[1.0, 0.0], 1.0);
        assert!((p - 0.5).abs() < 1e-12);
        assert!(g.mean[0] > 0.0 && g.mean[1] == 0.0);
        assert!(g.variance[0] < 1.0 && g.variance[1] == 1.0);
    }

    #[test]
    fn full_decay_returns_to_the_prior_and_none_keeps_the_state() {
        let prior = DiagGaussian::new(vec![0.5], vec![2.0]);
        let mut g = DiagGaussian::new(vec![3.0], vec![0.1]);
        g.decay_toward(&prior, 1.0);
        assert_eq!(g.mean, vec![3.0]);
        g.decay_toward(&prior, 0.0);
        assert!((g.mean[0] - 0.5).abs() < 1e-12 && (g.variance[0] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn normal_cdf_is_accurate() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-3);
        assert!((normal_cdf(-1.0) - 0.158_655).abs() < 1e-5);
    }
}
