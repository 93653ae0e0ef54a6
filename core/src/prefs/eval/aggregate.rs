//! The aggregated baseline: one Bradley–Terry model for everybody (global weights and
//! per-context offsets), fitted to convergence by Newton's method — the best an "average
//! user" model can do with these features and contexts — and the dense-vector
//! helpers it shares with the population fit ([`super::fit`]); Newton steps are solved with
//! the Cholesky factor of [`crate::prefs::full_gaussian`].

use std::collections::BTreeMap;

use crate::prefs::eval::{credit, Choice};
use crate::prefs::features::FeatureVector;
use crate::prefs::feedback::ContextKey;
use crate::prefs::full_gaussian;
use crate::prefs::gaussian::sigmoid;

/// Prior variance of the aggregated model's global weights.
const GLOBAL_VARIANCE: f64 = 4.0;
/// Prior variance of the aggregated model's context offsets.
const CONTEXT_VARIANCE: f64 = 2.0;
/// A context needs this many choices to get its own offset in the aggregated model.
const MIN_CONTEXT_CHOICES: usize = 20;
/// At most this many contexts (the most frequent) get offsets.
const MAX_CONTEXTS: usize = 16;
/// Newton iterations at most.
const ITERATIONS: usize = 30;

/// One Bradley–Terry model for everybody: global weights and per-context offsets.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// Global weights.
    pub global: Vec<f64>,
    /// Offsets per context key.
    pub contexts: BTreeMap<String, Vec<f64>>,
}

impl Aggregate {
    /// The maximum a-posteriori fit to `choices` (features per answer: `n`).
    pub fn fit(choices: &[&Choice], n: usize) -> Self {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for c in choices {
            if let Some(k) = &c.context {
                *counts.entry(k.as_str()).or_default() += 1;
            }
        }
        let mut frequent: Vec<(&str, usize)> = counts
            .into_iter()
            .filter(|&(_, count)| count >= MIN_CONTEXT_CHOICES)
            .collect();
        frequent.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        frequent.truncate(MAX_CONTEXTS);
        let mut keys: Vec<&str> = frequent.into_iter().map(|(k, _)| k).collect();
        keys.sort_unstable();
        let p = n * (1 + keys.len());
        let rows: Vec<(Vec<f64>, Option<usize>)> = choices
            .iter()
            .map(|c| {
                let d = difference(&c.winner, &c.loser, n);
                let block = c
                    .context
                    .as_ref()
                    .and_then(|k| keys.binary_search(&k.as_str()).ok());
                (d, block)
            })
            .collect();
        let precision: Vec<f64> = (0..p)
            .map(|i| {
                if i < n {
                    1.0 / GLOBAL_VARIANCE
                } else {
                    1.0 / CONTEXT_VARIANCE
                }
            })
            .collect();
        let mut theta = vec![0.0; p];
        for _ in 0..ITERATIONS {
            let mut gradient: Vec<f64> =
                theta.iter().zip(&precision).map(|(t, l)| -t * l).collect();
            let mut hessian = vec![0.0; p * p];
            for i in 0..p {
                hessian[i * p + i] = precision[i];
            }
            let mut index = Vec::with_capacity(2 * n);
            let mut value = Vec::with_capacity(2 * n);
            for (d, block) in &rows {
                index.clear();
                value.clear();
                for (i, &di) in d.iter().enumerate() {
                    if di != 0.0 {
                        index.push(i);
                        value.push(di);
                        if let Some(b) = block {
                            index.push(n * (1 + b) + i);
                            value.push(di);
                        }
                    }
                }
                let z: f64 = index.iter().zip(&value).map(|(&i, v)| theta[i] * v).sum();
                let prob = sigmoid(z);
                let (g, h) = (1.0 - prob, prob * (1.0 - prob));
                for (a, (&ia, &va)) in index.iter().zip(&value).enumerate() {
                    gradient[ia] += g * va;
                    for (&ib, &vb) in index[a..].iter().zip(&value[a..]) {
                        let (r, c) = (ia.min(ib), ia.max(ib));
                        hessian[r * p + c] += h * va * vb;
                    }
                }
            }
            for i in 0..p {
                for j in 0..i {
                    hessian[i * p + j] = hessian[j * p + i];
                }
            }
            let Some(step) = solve_spd(&hessian, &gradient, p) else {
                break;
            };
            let largest = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
            for (t, s) in theta.iter_mut().zip(&step) {
                *t += s;
            }
            if largest < 1e-7 {
                break;
            }
        }
        let contexts = keys
            .iter()
            .enumerate()
            .map(|(b, k)| (k.to_string(), theta[n * (1 + b)..n * (2 + b)].to_vec()))
            .collect();
        theta.truncate(n);
        Self {
            global: theta,
            contexts,
        }
    }

    /// The weights used in `context`.
    pub fn weights(&self, context: Option<&ContextKey>) -> Vec<f64> {
        let mut w = self.global.clone();
        if let Some(offset) = context.and_then(|k| self.contexts.get(k.as_str())) {
            for (a, b) in w.iter_mut().zip(offset) {
                *a += b;
            }
        }
        w
    }

    /// Prediction credit on one choice (see [`credit`]).
    pub fn credit(&self, c: &Choice) -> f64 {
        let w = self.weights(c.context.as_ref());
        let d = difference(&c.winner, &c.loser, w.len());
        credit(sigmoid(w.iter().zip(&d).map(|(a, b)| a * b).sum()))
    }
}

pub(super) fn dense(x: &FeatureVector, n: usize) -> Vec<f64> {
    let mut v: Vec<f64> = x.style.to_vec();
    v.extend(x.embedding.iter().map(|&e| f64::from(e)));
    v.resize(n, 0.0);
    v
}

pub(super) fn difference(a: &FeatureVector, b: &FeatureVector, n: usize) -> Vec<f64> {
    dense(a, n)
        .iter()
        .zip(dense(b, n))
        .map(|(x, y)| x - y)
        .collect()
}

/// Solve `H x = g` for a symmetric positive-definite `H` (row-major, `p × p`) by Cholesky;
/// `None` if `H` is not positive definite.
pub(super) fn solve_spd(h: &[f64], g: &[f64], p: usize) -> Option<Vec<f64>> {
    let l = full_gaussian::cholesky(h, p)?;
    Some(full_gaussian::solve(&l, g, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        let h = vec![4.0, 2.0, 2.0, 3.0];
        let x = solve_spd(&h, &[2.0, 1.0], 2).expect("positive definite");
        assert!((4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-12);
        assert!((2.0 * x[0] + 3.0 * x[1] - 1.0).abs() < 1e-12);
        assert!(solve_spd(&[0.0], &[1.0], 1).is_none());
    }
}
