//! Fitting from many people's choices: the aggregated baseline (one Bradley–Terry model for
//! everybody, [`super::aggregate`]) and the population prior the personal learners start
//! from and shrink toward (ADR 0031, 0034): how far and in which directions people differ
//! from the population (a full style covariance and context-offset variances, estimated by
//! empirical Bayes from the training choices), scaled by a multiplier chosen on held-back
//! training choices, never on test choices; a multiplier of 0 is among the candidates, so when
//! personalizing does not pay, the learners fall back to the aggregated model exactly. Since
//! ADR 0036 the style block's prior may instead be a mixture of full-covariance Gaussians
//! ([`super::mixture`], EM over the training people's posteriors), when that scores better on the
//! held-back training choices.

use crate::prefs::eval::aggregate::dense;
pub use crate::prefs::eval::aggregate::Aggregate;
use crate::prefs::eval::mixture::{mixture, with_mixture, MIXTURE_COMPONENTS, MIXTURE_GRID};
use crate::prefs::eval::setting;
use crate::prefs::eval::{credit, Choice};
use crate::prefs::features::STYLE_FEATURES;
use crate::prefs::feedback::ContextKey;
use crate::prefs::learner::{Learner, LearnerConfig, PopulationPrior};

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
    let mut best_prior = None;
    for &(multiplier, mixed) in &candidates {
        let mut prior = prior_from(&held_back, &tau, multiplier, &reference, config);
        if mixed {
            with_mixture(&mut prior, &held_back_mixture, multiplier);
        }
        let score = held_out_score(&prior, &split, config);
        if score > best.0 + 1e-9 {
            best = (score, (multiplier, mixed));
            best_prior = Some(prior);
        }
    }
    // Whether some contexts set a taste (ADR 0047), chosen on the same held-out choices.
    let setting_contexts = best_prior
        .and_then(|held_prior| setting::choose_contexts(&held_prior, &split, config, best.0));
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
    if let Some(contexts) = setting_contexts {
        prior.context_setting = setting::fit_setting(&prior, people, config, &contexts);
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
    /// Covariance of the style block of a person's context offsets (row-major, 12 × 12); its
    /// diagonal is `context_variance[..12]` (ADR 0045).
    pub context_style_covariance: Vec<f64>,
}

impl Spread {
    /// Unit variance, no covariance, context offsets with `context_share` of the variance.
    pub fn unit(n: usize, context_share: f64) -> Self {
        let k = STYLE_FEATURES;
        let mut style_covariance = vec![0.0; k * k];
        for i in 0..k {
            style_covariance[i * k + i] = 1.0;
        }
        let context_style_covariance = style_covariance.iter().map(|v| v * context_share).collect();
        Self {
            variance: vec![1.0; n],
            style_covariance,
            context_variance: vec![context_share; n],
            context_style_covariance,
        }
    }
}

/// The empirical-Bayes (EM) estimate of how far people differ from the population, under the
/// prior `N(μ, T)`: `T = mean over people of ((m − μ)(m − μ)ᵀ + S)` over the style block (full)
/// and per embedding feature (diagonal), where `m, S` is each person's posterior, and the same
/// for their context offsets (full over the style block, ADR 0045); iterated from `prior`'s
/// covariance. Uses only the choices it is given.
pub fn spread(prior: &PopulationPrior, people: &[&[Choice]], config: &LearnerConfig) -> Spread {
    let context_variance: Vec<f64> = if prior.context_variance.is_empty() {
        prior
            .variance
            .iter()
            .map(|v| v * config.context_variance)
            .collect()
    } else {
        prior.context_variance.clone()
    };
    let tau = Spread {
        variance: prior.variance.clone(),
        style_covariance: prior.style_cov(),
        context_style_covariance: prior.context_style_cov(|i| context_variance[i]),
        context_variance,
    };
    if people.is_empty() {
        return tau;
    }
    // Each person's choices here are one taste: estimate the spread without forgetting or
    // change detection, which would inflate the posterior variances and bias the estimate.
    let config = &config.without_forgetting();
    refine(prior, people, config, tau)
}

/// EM iterations of [`spread`] from `tau` until neither the variances nor the context
/// variances move by 0.1% (at most [`SPREAD_ITERATIONS`]).
fn refine(
    prior: &PopulationPrior,
    people: &[&[Choice]],
    config: &LearnerConfig,
    mut tau: Spread,
) -> Spread {
    let k = STYLE_FEATURES;
    for _ in 0..SPREAD_ITERATIONS {
        let current = PopulationPrior {
            variance: tau.variance.clone(),
            style_covariance: tau.style_covariance.clone(),
            context_variance: tau.context_variance.clone(),
            context_style_covariance: tau.context_style_covariance.clone(),
            ..prior.clone()
        };
        let mut ctx_sum = vec![0.0; tau.variance.len()];
        let mut ctx_cov = vec![0.0; k * k];
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
                if let (Some(o), Some(c)) = (
                    learner.context_offset(key),
                    learner.context_offset_style_covariance(key),
                ) {
                    let base = prior.context_mean.get(key.as_str());
                    let delta: Vec<f64> = (0..o.mean.len())
                        .map(|i| o.mean[i] - base.map_or(0.0, |b| b[i]))
                        .collect();
                    for (i, total) in ctx_sum.iter_mut().enumerate() {
                        *total += delta[i].powi(2) + o.variance[i];
                    }
                    for i in 0..k {
                        for j in 0..k {
                            ctx_cov[i * k + j] += delta[i] * delta[j] + c[i * k + j];
                        }
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
        let before_ctx = tau.context_variance.clone();
        if ctx_count > 0.0 {
            tau.context_variance = ctx_sum
                .iter()
                .map(|s| (s / ctx_count).max(MIN_SPREAD))
                .collect();
            for (slot, total) in tau.context_style_covariance.iter_mut().zip(&ctx_cov) {
                *slot = total / ctx_count;
            }
            for i in 0..k {
                tau.context_style_covariance[i * k + i] = tau.context_variance[i];
            }
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
            .chain(before_ctx.iter().zip(&tau.context_variance))
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

/// The log-likelihood of each person's held-out choices (`split`'s second parts) under a
/// learner from `prior` that learned from their first parts: how candidate priors are compared.
pub(super) fn held_out_score(
    prior: &PopulationPrior,
    split: &[(&[Choice], &[Choice])],
    config: &LearnerConfig,
) -> f64 {
    split
        .iter()
        .map(|(learn, check)| {
            let learner = learn_from(prior, config, learn);
            check
                .iter()
                .map(|c| personal_log_likelihood(&learner, c))
                .sum::<f64>()
        })
        .sum()
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
        context_style_covariance: scale(&spread.context_style_covariance),
        reference: reference.to_vec(),
        context_mean: aggregate
            .contexts
            .iter()
            .map(|(k, v)| (k.clone(), clamp(v)))
            .collect(),
        mixture: Vec::new(),
        context_setting: None,
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
