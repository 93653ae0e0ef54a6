//! A full-covariance Gaussian over the style block of a person's weights, and the operations
//! the learner needs on it (ADR 0034): the predictor of a logistic observation, the rank-one
//! assumed-density update (O(d²)), forgetting toward a prior in natural parameters without
//! inverting either covariance (O(d³), d = 12), caps, and resetting some coordinates to a
//! prior. Kept private to [`crate::prefs`].

use serde::{Deserialize, Serialize};

/// Mean and row-major covariance of `n` coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct FullGaussian {
    pub mean: Vec<f64>,
    pub cov: Vec<f64>,
}

impl FullGaussian {
    pub fn new(mean: Vec<f64>, cov: Vec<f64>) -> Self {
        debug_assert_eq!(mean.len() * mean.len(), cov.len());
        Self { mean, cov }
    }

    pub fn len(&self) -> usize {
        self.mean.len()
    }

    pub fn variance(&self, i: usize) -> f64 {
        self.cov[i * self.len() + i]
    }

    /// `Σd` for the leading `n` coordinates of `d`.
    pub fn times(&self, d: &[f64]) -> Vec<f64> {
        let n = self.len();
        (0..n)
            .map(|i| {
                let row = &self.cov[i * n..(i + 1) * n];
                row.iter().zip(&d[..n]).map(|(a, b)| a * b).sum()
            })
            .collect()
    }

    /// Mean and variance of `θ·d` (leading `n` coordinates of `d`), and `Σd`.
    pub fn predictor(&self, d: &[f64]) -> (f64, f64, Vec<f64>) {
        let s = self.times(d);
        let n = self.len();
        let mean = self.mean.iter().zip(&d[..n]).map(|(a, b)| a * b).sum();
        let variance = s.iter().zip(&d[..n]).map(|(a, b)| a * b).sum::<f64>();
        (mean, variance.max(0.0), s)
    }

    /// The ADF update given the gains of [`crate::prefs::gaussian::adf_gains`]:
    /// `m += step·a·Σd`, `Σ −= step·b·(Σd)(Σd)ᵀ`.
    pub fn apply(&mut self, s: &[f64], a: f64, b: f64, step: f64) {
        let n = self.len();
        for i in 0..n {
            self.mean[i] += step * a * s[i];
            for j in 0..n {
                self.cov[i * n + j] -= step * b * s[i] * s[j];
            }
        }
    }

    /// Forget old evidence: precision and precision-weighted mean move toward the prior's by
    /// `1 − factor` (`prior × likelihood^factor`). Computed as `M = γΣ₀ + (1−γ)Σ`,
    /// `Σ' = Σ₀ M⁻¹ Σ`, `m' = μ₀ + γ Σ₀ M⁻¹ (m − μ₀)`, which needs neither covariance to be
    /// invertible. Coordinates whose prior variance is 0 are fixed at the prior mean.
    pub fn decay_toward(&mut self, prior: &FullGaussian, factor: f64) {
        if factor >= 1.0 {
            return;
        }
        let n = self.len();
        let g = factor.max(0.0);
        let mut m = vec![0.0; n * n];
        let mut scale = 0.0f64;
        for (k, slot) in m.iter_mut().enumerate() {
            *slot = g * prior.cov[k] + (1.0 - g) * self.cov[k];
        }
        for i in 0..n {
            scale = scale.max(m[i * n + i]);
        }
        let ridge = 1e-12 * (1.0 + scale);
        for i in 0..n {
            m[i * n + i] += ridge;
        }
        let Some(chol) = cholesky(&m, n) else {
            return;
        };
        // M⁻¹ Σ column by column, then Σ₀ times that.
        let mut inv_sigma = vec![0.0; n * n];
        let mut column = vec![0.0; n];
        for j in 0..n {
            for (i, slot) in column.iter_mut().enumerate() {
                *slot = self.cov[i * n + j];
            }
            let x = solve(&chol, &column, n);
            for i in 0..n {
                inv_sigma[i * n + j] = x[i];
            }
        }
        let delta: Vec<f64> = self
            .mean
            .iter()
            .zip(&prior.mean)
            .map(|(a, b)| a - b)
            .collect();
        let inv_delta = solve(&chol, &delta, n);
        let mut cov = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                cov[i * n + j] = (0..n)
                    .map(|k| prior.cov[i * n + k] * inv_sigma[k * n + j])
                    .sum();
            }
        }
        for i in 0..n {
            for j in 0..i {
                let avg = 0.5 * (cov[i * n + j] + cov[j * n + i]);
                cov[i * n + j] = avg;
                cov[j * n + i] = avg;
            }
        }
        for i in 0..n {
            let shift: f64 = (0..n).map(|k| prior.cov[i * n + k] * inv_delta[k]).sum();
            self.mean[i] = prior.mean[i] + g * shift;
        }
        self.cov = cov;
        for i in 0..n {
            if prior.variance(i) <= 0.0 {
                self.reset_to(prior, &[i]);
            }
        }
    }

    /// Keep every coordinate learnable and bounded: variance at least `floor[i]` (by scaling
    /// its row and column, which keeps the covariance positive semi-definite), mean within
    /// ±`cap`.
    pub fn enforce_caps(&mut self, floor: &[f64], cap: f64) {
        let n = self.len();
        for (i, &min) in floor.iter().enumerate().take(n) {
            let v = self.variance(i);
            if v > 0.0 && v < min {
                let s = (min / v).sqrt();
                for j in 0..n {
                    self.cov[i * n + j] *= s;
                    self.cov[j * n + i] *= s;
                }
            }
            self.mean[i] = self.mean[i].clamp(-cap, cap);
        }
    }

    /// Put the coordinates in `idx` back at the prior: their mean and their block of the
    /// covariance from `prior`, no covariance with the other coordinates.
    pub fn reset_to(&mut self, prior: &FullGaussian, idx: &[usize]) {
        let n = self.len();
        for &i in idx {
            self.mean[i] = prior.mean[i];
            for j in 0..n {
                let value = if idx.contains(&j) {
                    prior.cov[i * n + j]
                } else {
                    0.0
                };
                self.cov[i * n + j] = value;
                self.cov[j * n + i] = value;
            }
        }
    }
}

/// Lower Cholesky factor of a row-major `n × n` matrix; `None` if not positive definite.
pub(crate) fn cholesky(a: &[f64], n: usize) -> Option<Vec<f64>> {
    let mut l = vec![0.0; n * n];
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= l[j * n + k] * l[j * n + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        l[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            l[i * n + j] = s / d;
        }
    }
    Some(l)
}

/// Solve `L Lᵀ x = b` given the lower Cholesky factor `L`.
pub(crate) fn solve(l: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut y = vec![0.0; n];
    for i in 0..n {
        let s: f64 = (0..i).map(|k| l[i * n + k] * y[k]).sum();
        y[i] = (b[i] - s) / l[i * n + i];
    }
    let mut x = vec![0.0; n];
    for i in (0..n).rev() {
        let s: f64 = (i + 1..n).map(|k| l[k * n + i] * x[k]).sum();
        x[i] = (y[i] - s) / l[i * n + i];
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(mean: Vec<f64>, cov: Vec<f64>) -> FullGaussian {
        FullGaussian::new(mean, cov)
    }

    #[test]
    fn decay_matches_natural_parameter_interpolation_on_a_diagonal() {
        let prior = g(vec![0.5, 0.0], vec![2.0, 0.0, 0.0, 1.0]);
        let mut post = g(vec![3.0, 1.0], vec![0.1, 0.0, 0.0, 0.5]);
        post.decay_toward(&prior, 0.7);
        let precision = 1.0 / 2.0 + 0.7 * (1.0 / 0.1 - 1.0 / 2.0);
        let natural = 0.5 / 2.0 + 0.7 * (3.0 / 0.1 - 0.5 / 2.0);
        assert!((post.variance(0) - 1.0 / precision).abs() < 1e-9);
        assert!((post.mean[0] - natural / precision).abs() < 1e-9);
        post.decay_toward(&prior, 0.0);
        assert!((post.mean[0] - 0.5).abs() < 1e-9 && (post.variance(1) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_zero_prior_variance_fixes_the_coordinate() {
        let prior = g(vec![1.0, 0.0], vec![0.0, 0.0, 0.0, 1.0]);
        let mut post = prior.clone();
        post.decay_toward(&prior, 0.9);
        assert_eq!(post.mean[0], 1.0);
        assert_eq!(post.variance(0), 0.0);
    }

    #[test]
    fn cholesky_solves() {
        let l = cholesky(&[4.0, 2.0, 2.0, 3.0], 2).expect("positive definite");
        let x = solve(&l, &[2.0, 1.0], 2);
        assert!((4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-12);
        assert!(cholesky(&[0.0], 1).is_none());
    }
}
