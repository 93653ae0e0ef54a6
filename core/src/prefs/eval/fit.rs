//! Fitting from many people's choices: the aggregated baseline (one Bradley–Terry model for
//! everybody, fitted to convergence by Newton's method — the best an "average user" model can
//! do with these features and contexts) and the population prior the personal learners start
//! from and shrink toward (ADR 0031, 0034): how far and in which directions people differ
//! from the population (a full style covariance and context-offset variances, estimated by
//! empirical Bayes from the training choices), scaled by a multiplier chosen on held-back
//! training choices, never on test choices; a multiplier of 0 is among the candidates, so when
//! personalizing does not pay, the learners fall back to the aggregated model exactly. Since
//! ADR 0036 the style block's prior may instead be a mixture of full-covariance Gaussians
//! ([`super::mixture`], EM over the training people's posteriors), when that scores better on the
//! held-back training choices.

use std::collections::BTreeMap;

use crate::prefs::eval::mixture::{mixture, with_mixture, MIXTURE_COMPONENTS, MIXTURE_GRID};
use crate::prefs::eval::{credit, Choice};
use crate::prefs::features::{FeatureVector, STYLE_FEATURES};
use crate::prefs::feedback::ContextKey;
use crate::prefs::gaussian::sigmoid;
use crate::prefs::learner::{Learner, LearnerConfig, PopulationPrior};

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
            let Some(step) = solve_spd(&mut hessian, &gradient, p) else {
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

/// The population the personal learners start from, and how it was chosen.
#[derive(Debug, Clone)]
pub struct FittedPopulation {
    /// The aggregated model fitted to all the given choices.
    pub aggregate: Aggregate,
    /// The prior for personal learners: the aggregate's weights with the chosen variance.
    pub prior: PopulationPrior,
    /// The chosen per-person prior variance, averaged over features.
    pub prior_variance: f64,
}

/// Fit the aggregate to every person's choices, estimate how far and in which directions
/// people spread around it ([`spread`], empirical Bayes: a full covariance over the style
/// block, a variance per embedding feature and per context-offset feature), and choose a
/// multiplier of that spread from [`SPREAD_GRID`] by the log-likelihood of each person's last
/// quarter of choices, learning from the earlier ones (ties go to the smaller multiplier,
/// closer to the population; 0 is the aggregated model itself). A mixture prior over the style
/// block ([`mixture`], [`MIXTURE_COMPONENTS`]) at each multiplier of [`MIXTURE_GRID`] is a
/// candidate too, chosen only when it scores better (ADR 0036). Only the given choices are
/// used.
pub fn fit_population(people: &[&[Choice]], config: &LearnerConfig) -> FittedPopulation {
    let n = people
        .iter()
        .flat_map(|p| p.iter())
        .next()
        .map_or(crate::prefs::STYLE_FEATURES, |c| {
            c.winner.style.len() + c.winner.embedding.len()
        });
    let split: Vec<(&[Choice], &[Choice])> = people
        .iter()
        .map(|p| p.split_at(p.len() - p.len() / 4))
        .collect();
    let learn: Vec<&Choice> = split.iter().flat_map(|(l, _)| l.iter()).collect();
    let learn_people: Vec<&[Choice]> = split.iter().map(|(l, _)| *l).collect();
    let held_back = Aggregate::fit(&learn, n);
    let reference = mean_features(&learn, n);
    let base = prior_from(
        &held_back,
        &Spread::unit(n, config.context_variance),
        1.0,
        &reference,
        config,
    );
    let tau = spread(&base, &learn_people, config);
    let single = prior_from(&held_back, &tau, 1.0, &reference, config);
    let components = MIXTURE_COMPONENTS;
    let held_back_mixture = if components > 1 {
        mixture(&single, &learn_people, config, components)
    } else {
        Vec::new()
    };
    // Candidates: one Gaussian at every multiplier (0 is the aggregate itself), then the
    // mixture at every multiplier of its within-component covariances.
    let mut candidates: Vec<(f64, bool)> = SPREAD_GRID.iter().map(|&m| (m, false)).collect();
    if held_back_mixture.len() > 1 {
        candidates.extend(MIXTURE_GRID.iter().map(|&m| (m, true)));
    }
    let mut best = (f64::NEG_INFINITY, (0.0, false));
    for &(multiplier, mixed) in &candidates {
        let mut prior = prior_from(&held_back, &tau, multiplier, &reference, config);
        if mixed {
            with_mixture(&mut prior, &held_back_mixture, multiplier);
        }
        let mut score = 0.0;
        for (learn, check) in &split {
            let learner = learn_from(&prior, config, learn);
            score += check
                .iter()
                .map(|c| personal_log_likelihood(&learner, c))
                .sum::<f64>();
        }
        if score > best.0 + 1e-9 {
            best = (score, (multiplier, mixed));
        }
    }
    let (multiplier, mixed) = best.1;
    let all: Vec<&Choice> = people.iter().flat_map(|p| p.iter()).collect();
    let aggregate = Aggregate::fit(&all, n);
    let reference = mean_features(&all, n);
    let base = prior_from(
        &aggregate,
        &Spread::unit(n, config.context_variance),
        1.0,
        &reference,
        config,
    );
    let tau = spread(&base, people, config);
    let mut prior = prior_from(&aggregate, &tau, multiplier, &reference, config);
    if mixed {
        let single = prior_from(&aggregate, &tau, 1.0, &reference, config);
        let fitted = mixture(&single, people, config, components);
        if fitted.len() > 1 {
            with_mixture(&mut prior, &fitted, multiplier);
        }
    }
    FittedPopulation {
        prior_variance: prior.variance.iter().sum::<f64>() / n as f64,
        prior,
        aggregate,
    }
}

/// Multipliers of the estimated spread tried, from "no personalization" upward.
pub const SPREAD_GRID: [f64; 10] = [0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0];
/// EM iterations of the spread estimate at most (EM for variance components moves slowly
/// when each person has few choices; it stops earlier once no variance moves by 0.1%).
const SPREAD_ITERATIONS: usize = 60;
/// Smallest spread estimate (so a feature can always be re-estimated upward).
pub(super) const MIN_SPREAD: f64 = 1e-3;

/// How far people differ from the population: a variance per feature and, over the style
/// block, a full covariance (the directions in which people differ together).
#[derive(Debug, Clone, PartialEq)]
pub struct Spread {
    /// Variance per feature.
    pub variance: Vec<f64>,
    /// Covariance of the style block (row-major, 12 × 12); its diagonal is `variance[..12]`.
    pub style_covariance: Vec<f64>,
    /// Variance per feature of a person's context offsets around the population's.
    pub context_variance: Vec<f64>,
}

impl Spread {
    /// Unit variance, no covariance, context offsets with `context_share` of the variance.
    pub fn unit(n: usize, context_share: f64) -> Self {
        let k = STYLE_FEATURES;
        let mut style_covariance = vec![0.0; k * k];
        for i in 0..k {
            style_covariance[i * k + i] = 1.0;
        }
        Self {
            variance: vec![1.0; n],
            style_covariance,
            context_variance: vec![context_share; n],
        }
    }
}

/// The empirical-Bayes (EM) estimate of how far people differ from the population, under the
/// prior `N(μ, T)`: `T = mean over people of ((m − μ)(m − μ)ᵀ + S)` over the style block (full)
/// and per embedding feature (diagonal), where `m, S` is each person's posterior; iterated
/// from `prior`'s covariance. Uses only the choices it is given.
pub fn spread(prior: &PopulationPrior, people: &[&[Choice]], config: &LearnerConfig) -> Spread {
    let k = STYLE_FEATURES;
    let mut tau = Spread {
        variance: prior.variance.clone(),
        style_covariance: prior.style_cov(),
        context_variance: if prior.context_variance.is_empty() {
            prior
                .variance
                .iter()
                .map(|v| v * config.context_variance)
                .collect()
        } else {
            prior.context_variance.clone()
        },
    };
    if people.is_empty() {
        return tau;
    }
    // Each person's choices here are one taste: estimate the spread without forgetting or
    // change detection, which would inflate the posterior variances and bias the estimate.
    let config = &config.without_forgetting();
    for _ in 0..SPREAD_ITERATIONS {
        let current = PopulationPrior {
            variance: tau.variance.clone(),
            style_covariance: tau.style_covariance.clone(),
            context_variance: tau.context_variance.clone(),
            ..prior.clone()
        };
        let mut ctx_sum = vec![0.0; tau.variance.len()];
        let mut ctx_count = 0.0;
        let mut sum = vec![0.0; tau.variance.len()];
        let mut cov = vec![0.0; k * k];
        for choices in people {
            let learner = learn_from(&current, config, choices);
            let w = learner.weights(None);
            let s = learner.style_covariance();
            for (i, total) in sum.iter_mut().enumerate() {
                *total += (w.mean[i] - prior.mean[i]).powi(2) + w.variance[i];
            }
            let keys: std::collections::BTreeSet<&ContextKey> =
                choices.iter().filter_map(|c| c.context.as_ref()).collect();
            for key in keys {
                if let Some(o) = learner.context_offset(key) {
                    let base = prior.context_mean.get(key.as_str());
                    for (i, total) in ctx_sum.iter_mut().enumerate() {
                        let m0 = base.map_or(0.0, |b| b[i]);
                        *total += (o.mean[i] - m0).powi(2) + o.variance[i];
                    }
                    ctx_count += 1.0;
                }
            }
            for i in 0..k {
                for j in 0..k {
                    cov[i * k + j] +=
                        (w.mean[i] - prior.mean[i]) * (w.mean[j] - prior.mean[j]) + s[i * k + j];
                }
            }
        }
        let count = people.len() as f64;
        let before = tau.variance.clone();
        if ctx_count > 0.0 {
            tau.context_variance = ctx_sum
                .iter()
                .map(|s| (s / ctx_count).max(MIN_SPREAD))
                .collect();
        }
        tau.variance = sum.iter().map(|s| (s / count).max(MIN_SPREAD)).collect();
        for i in 0..k {
            for j in 0..k {
                tau.style_covariance[i * k + j] = cov[i * k + j] / count;
            }
        }
        for i in 0..k {
            tau.style_covariance[i * k + i] = tau.variance[i];
        }
        let settled = before
            .iter()
            .zip(&tau.variance)
            .all(|(a, b)| (a - b).abs() <= 1e-3 * a.abs().max(b.abs()));
        if settled {
            break;
        }
    }
    tau
}

pub(super) fn learn_from(
    prior: &PopulationPrior,
    config: &LearnerConfig,
    choices: &[Choice],
) -> Learner {
    let observations: Vec<_> = choices.iter().map(Choice::observation).collect();
    Learner::rebuild(prior.clone(), config.clone(), &observations)
        .expect("choices built by the evaluation are valid observations")
}

/// Log-probability a personal learner gives the observed winner (the score by which the
/// spread multiplier is chosen: a proper score, smoother than 0/1 credit on few choices).
fn personal_log_likelihood(learner: &Learner, c: &Choice) -> f64 {
    learner
        .prefer_probability(&c.winner, &c.loser, c.context.as_ref())
        .expect("choices built by the evaluation fit the learner")
        .max(1e-12)
        .ln()
}

/// Prediction credit of a personal learner on one choice.
pub fn personal_credit(learner: &Learner, c: &Choice) -> f64 {
    let p = learner
        .prefer_probability(&c.winner, &c.loser, c.context.as_ref())
        .expect("choices built by the evaluation fit the learner");
    credit(p)
}

fn prior_from(
    aggregate: &Aggregate,
    spread: &Spread,
    multiplier: f64,
    reference: &[f64],
    config: &LearnerConfig,
) -> PopulationPrior {
    let cap = config.mean_cap;
    let clamp = |v: &[f64]| v.iter().map(|x| x.clamp(-cap, cap)).collect::<Vec<f64>>();
    let scale = |v: &[f64]| v.iter().map(|x| x * multiplier).collect::<Vec<f64>>();
    PopulationPrior {
        mean: clamp(&aggregate.global),
        variance: scale(&spread.variance),
        style_covariance: scale(&spread.style_covariance),
        context_variance: scale(&spread.context_variance),
        reference: reference.to_vec(),
        context_mean: aggregate
            .contexts
            .iter()
            .map(|(k, v)| (k.clone(), clamp(v)))
            .collect(),
        mixture: Vec::new(),
    }
}

fn mean_features(choices: &[&Choice], n: usize) -> Vec<f64> {
    let mut sum = vec![0.0; n];
    for c in choices {
        for x in [&c.winner, &c.loser] {
            for (s, v) in sum.iter_mut().zip(dense(x, n)) {
                *s += v;
            }
        }
    }
    let count = (2 * choices.len()).max(1) as f64;
    sum.iter().map(|s| s / count).collect()
}

fn dense(x: &FeatureVector, n: usize) -> Vec<f64> {
    let mut v: Vec<f64> = x.style.to_vec();
    v.extend(x.embedding.iter().map(|&e| f64::from(e)));
    v.resize(n, 0.0);
    v
}

fn difference(a: &FeatureVector, b: &FeatureVector, n: usize) -> Vec<f64> {
    dense(a, n)
        .iter()
        .zip(dense(b, n))
        .map(|(x, y)| x - y)
        .collect()
}

/// Solve `H x = g` for a symmetric positive-definite `H` (row-major, `p × p`) by Cholesky;
/// `None` if `H` is not positive definite. `H` is overwritten.
fn solve_spd(h: &mut [f64], g: &[f64], p: usize) -> Option<Vec<f64>> {
    for j in 0..p {
        let mut d = h[j * p + j];
        for k in 0..j {
            d -= h[j * p + k] * h[j * p + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        h[j * p + j] = d;
        for i in j + 1..p {
            let mut s = h[i * p + j];
            for k in 0..j {
                s -= h[i * p + k] * h[j * p + k];
            }
            h[i * p + j] = s / d;
        }
    }
    let mut y = vec![0.0; p];
    for i in 0..p {
        let s: f64 = (0..i).map(|k| h[i * p + k] * y[k]).sum();
        y[i] = (g[i] - s) / h[i * p + i];
    }
    let mut x = vec![0.0; p];
    for i in (0..p).rev() {
        let s: f64 = (i + 1..p).map(|k| h[k * p + i] * x[k]).sum();
        x[i] = (y[i] - s) / h[i * p + i];
    }
    Some(x)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cholesky_solves_a_small_system() {
        let mut h = vec![4.0, 2.0, 2.0, 3.0];
        let x = solve_spd(&mut h, &[2.0, 1.0], 2).expect("positive definite");
        assert!((4.0 * x[0] + 2.0 * x[1] - 2.0).abs() < 1e-12);
        assert!((2.0 * x[0] + 3.0 * x[1] - 1.0).abs() < 1e-12);
        assert!(solve_spd(&mut [0.0], &[1.0], 1).is_none());
    }
}
