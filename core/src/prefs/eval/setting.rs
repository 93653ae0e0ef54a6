//! Fitting the context setting of a population prior (ADR 0047): whether, for a share of
//! people, some contexts set a taste rather than shift their own, which taste (a direction of
//! the style block) and to what value per context. Empirical Bayes by EM over the people's
//! choices: the direction is the one along which context offsets vary most; each context's
//! value starts at the mean of the people whose taste in that context lies on the side the
//! population's offset points to; then each person's posterior odds of the hypothesis
//! (computed by the learner itself) weigh the setting learner's offsets into the next values
//! and share. Which contexts set a taste is chosen by held-out log-likelihood, as every other
//! part of the prior is ([`super::fit::fit_population`]); none, when none helps.

use std::collections::BTreeMap;

use crate::prefs::eval::fit::{held_out_score, learn_from};
use crate::prefs::eval::Choice;
use crate::prefs::features::STYLE_FEATURES;
use crate::prefs::feedback::ContextKey;
use crate::prefs::learner::{ContextSetting, LearnerConfig, PopulationPrior};

/// EM iterations of the share and the values.
const SETTING_ITERATIONS: usize = 4;
/// At most this many contexts (the most used) are tried as setting contexts.
const MAX_CANDIDATE_CONTEXTS: usize = 8;
/// The share stays within these bounds while it is fitted.
const SHARE_BOUNDS: (f64, f64) = (0.02, 0.98);

/// Choose the setting contexts by the log-likelihood of `split`'s held-out parts, learning
/// from its learning parts, against `baseline` (the score of `prior` without a setting): each
/// context people used alone, then forward selection from the best. Returns the chosen
/// contexts, or `None` when no candidate scores better.
pub fn choose_contexts(
    prior: &PopulationPrior,
    split: &[(&[Choice], &[Choice])],
    config: &LearnerConfig,
    baseline: f64,
) -> Option<Vec<String>> {
    let learn: Vec<&[Choice]> = split.iter().map(|(l, _)| *l).collect();
    let score = |contexts: &[String]| -> Option<f64> {
        let setting = fit_setting(prior, &learn, config, contexts)?;
        let candidate = PopulationPrior {
            context_setting: Some(setting),
            ..prior.clone()
        };
        Some(held_out_score(&candidate, split, config))
    };
    // Penalized like AIC: a context's value and the share are parameters fitted to the data,
    // so a candidate has to gain more than one nat of held-out log-likelihood for each.
    let penalized = |score: f64, contexts: usize| score - (1 + contexts) as f64;
    let mut alone: Vec<(f64, String)> = candidate_contexts(prior, &learn)
        .into_iter()
        .filter_map(|c| Some((penalized(score(std::slice::from_ref(&c))?, 1), c)))
        .collect();
    alone.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let mut rest = alone.into_iter();
    let (first_score, first) = rest.next().filter(|(s, _)| *s > baseline + 1e-9)?;
    let mut best = (first_score, vec![first]);
    // Forward selection: add the next most helpful context while the whole set scores better.
    for (_, context) in rest {
        let mut contexts = best.1.clone();
        contexts.push(context);
        if let Some(s) = score(&contexts) {
            let s = penalized(s, contexts.len());
            if s > best.0 + 1e-9 {
                best = (s, contexts);
            }
        }
    }
    Some(best.1)
}

/// Fit the share and the values of a setting over `contexts` to `people`'s choices, starting
/// from `prior` (which has no setting). `None` when the prior's context offsets do not vary
/// or no person's taste in any of the contexts gives a starting value.
pub fn fit_setting(
    prior: &PopulationPrior,
    people: &[&[Choice]],
    config: &LearnerConfig,
    contexts: &[String],
) -> Option<ContextSetting> {
    let k = STYLE_FEATURES;
    let cov = prior.context_style_cov(|i| {
        prior
            .context_variance
            .get(i)
            .copied()
            .unwrap_or(prior.variance[i] * config.context_variance)
    });
    let direction = top_eigenvector(&cov)?;
    // The people's own posteriors, without forgetting: the population's evidence as it is.
    let fit_config = LearnerConfig {
        decay_per_event: 1.0,
        change_threshold: 0.0,
        steady_share: 0.0,
        ..config.clone()
    };
    let u = direction.clone();
    let along = |w: &[f64]| -> f64 { u.iter().zip(w).map(|(u, w)| u * w).sum() };
    let shifted: Vec<_> = people
        .iter()
        .map(|p| learn_from(prior, &fit_config, p))
        .collect();
    let mut value = BTreeMap::new();
    for context in contexts {
        let Ok(key) = ContextKey::new(context) else {
            continue;
        };
        let side = prior.context_mean.get(context).map_or(0.0, |m| along(m));
        let taste: Vec<f64> = shifted
            .iter()
            .map(|l| along(&l.weights(Some(&key)).mean[..k]))
            .filter(|t| t * side > 0.0)
            .collect();
        if !taste.is_empty() {
            let mean = taste.iter().sum::<f64>() / taste.len() as f64;
            value.insert(
                context.clone(),
                mean.clamp(-config.mean_cap, config.mean_cap),
            );
        }
    }
    if value.is_empty() {
        return None;
    }
    let cap = config.mean_cap;
    let mut setting = ContextSetting {
        share: 0.5,
        direction,
        value,
    };
    for _ in 0..SETTING_ITERATIONS {
        let current = PopulationPrior {
            context_setting: Some(setting.clone()),
            ..prior.clone()
        };
        let mut share = 0.0;
        let mut sums: BTreeMap<&String, (f64, f64)> = BTreeMap::new();
        for p in people {
            let learner = learn_from(&current, &fit_config, p);
            let r = learner.setting_share();
            share += r;
            for context in setting.value.keys() {
                if let Some(offset) = learner.setting_offset_style(context) {
                    let e = sums.entry(context).or_insert((0.0, 0.0));
                    e.0 += r * along(&offset);
                    e.1 += r;
                }
            }
        }
        let mut next = setting.clone();
        next.share = (share / people.len().max(1) as f64).clamp(SHARE_BOUNDS.0, SHARE_BOUNDS.1);
        for (context, (sum, weight)) in sums {
            if weight > 1e-9 {
                next.value
                    .insert(context.clone(), (sum / weight).clamp(-cap, cap));
            }
        }
        setting = next;
    }
    setting.validate(cap).is_ok().then_some(setting)
}

/// The contexts people used, most used first (ties by name), at most
/// [`MAX_CANDIDATE_CONTEXTS`], that the prior has an offset for.
fn candidate_contexts(prior: &PopulationPrior, people: &[&[Choice]]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for c in people.iter().flat_map(|p| p.iter()) {
        if let Some(key) = &c.context {
            *counts.entry(key.as_str()).or_insert(0) += 1;
        }
    }
    let mut used: Vec<(&str, usize)> = counts
        .into_iter()
        .filter(|(c, _)| prior.context_mean.contains_key(*c))
        .collect();
    used.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    used.into_iter()
        .take(MAX_CANDIDATE_CONTEXTS)
        .map(|(c, _)| c.to_string())
        .collect()
}

/// The unit eigenvector of the largest eigenvalue of a symmetric positive semi-definite
/// 12 × 12 matrix (power iteration), its largest coordinate made positive; `None` for a zero
/// matrix.
fn top_eigenvector(m: &[f64]) -> Option<Vec<f64>> {
    let k = STYLE_FEATURES;
    let mut v = vec![1.0 / (k as f64).sqrt(); k];
    for _ in 0..500 {
        let w: Vec<f64> = (0..k)
            .map(|i| (0..k).map(|j| m[i * k + j] * v[j]).sum())
            .collect();
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if !norm.is_finite() || norm <= 1e-12 {
            return None;
        }
        v = w.into_iter().map(|x| x / norm).collect();
    }
    let largest = v
        .iter()
        .copied()
        .fold(0.0f64, |a, x| if x.abs() > a.abs() { x } else { a });
    if largest < 0.0 {
        v.iter_mut().for_each(|x| *x = -*x);
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_eigenvector_is_found_with_a_fixed_sign() {
        let k = STYLE_FEATURES;
        let mut m = vec![0.0; k * k];
        for i in 0..k {
            m[i * k + i] = 0.1;
        }
        // A strong direction over the first two coordinates, negative in the first.
        let u = [-0.6, 0.8];
        for i in 0..2 {
            for j in 0..2 {
                m[i * k + j] += 5.0 * u[i] * u[j];
            }
        }
        let v = top_eigenvector(&m).expect("non-zero");
        assert!(
            (v[0] - (-0.6)).abs() < 1e-6 && (v[1] - 0.8).abs() < 1e-6,
            "{v:?}"
        );
        assert!(top_eigenvector(&vec![0.0; k * k]).is_none());
    }
}
