//! The mixture prior over the style block (ADR 0036): an empirical-Bayes (EM) fit of a
//! mixture of full-covariance Gaussians to the training people's posteriors, grown by
//! splitting the widest component, and the way it is written into a [`PopulationPrior`].
//! [`super::fit::fit_population`] decides whether the mixture is used at all.

use crate::prefs::eval::fit::{learn_from, MIN_SPREAD};
use crate::prefs::eval::Choice;
use crate::prefs::features::STYLE_FEATURES;
use crate::prefs::learner::{LearnerConfig, PopulationPrior, StyleComponent};

/// Components of the fitted mixture prior over the style block (1: one Gaussian).
pub const MIXTURE_COMPONENTS: usize = 4;
/// Multipliers of the mixture's within-component covariances tried.
pub const MIXTURE_GRID: [f64; 5] = [0.5, 0.75, 1.0, 1.5, 2.0];
/// EM iterations after each split of a component.
const MIXTURE_ITERATIONS: usize = 10;
/// A component with less than this share of people is dropped.
const MIN_COMPONENT_WEIGHT: f64 = 0.02;

/// `prior` with the style block a mixture of `components` whose covariances are scaled by
/// `multiplier`; the style part of `mean`, `variance` and `style_covariance` become the
/// mixture's overall mean and (moment-matched) covariance.
pub fn with_mixture(prior: &mut PopulationPrior, components: &[StyleComponent], multiplier: f64) {
    let k = STYLE_FEATURES;
    let mixture: Vec<StyleComponent> = components
        .iter()
        .map(|c| StyleComponent {
            weight: c.weight,
            mean: c.mean.clone(),
            covariance: c.covariance.iter().map(|x| x * multiplier).collect(),
        })
        .collect();
    let mut mean = vec![0.0; k];
    for c in &mixture {
        for (m, x) in mean.iter_mut().zip(&c.mean) {
            *m += c.weight * x;
        }
    }
    let mut cov = vec![0.0; k * k];
    for c in &mixture {
        for i in 0..k {
            for j in 0..k {
                cov[i * k + j] += c.weight
                    * (c.covariance[i * k + j] + (c.mean[i] - mean[i]) * (c.mean[j] - mean[j]));
            }
        }
    }
    for i in 0..k {
        for j in 0..i {
            let avg = 0.5 * (cov[i * k + j] + cov[j * k + i]);
            cov[i * k + j] = avg;
            cov[j * k + i] = avg;
        }
    }
    prior.mean[..k].copy_from_slice(&mean);
    for i in 0..k {
        prior.variance[i] = cov[i * k + i];
    }
    prior.style_covariance = cov;
    prior.mixture = mixture;
}

/// The empirical-Bayes (EM) estimate of a mixture prior over the style block, starting from
/// `prior`'s single Gaussian: repeatedly split the component with the largest spread along
/// its principal direction, then iterate EM — each person's posterior under the current
/// mixture (a Gaussian-sum filter: responsibilities `r`, component posteriors `m, S`) gives
/// `π = mean r`, `μ = Σ r m / Σ r`, `T = Σ r ((m − μ)(m − μ)ᵀ + S) / Σ r`. Learners neither
/// forget nor detect change (each person's choices here are one taste). Uses only the
/// choices it is given; the embedding and context-offset spread stay `prior`'s.
pub fn mixture(
    prior: &PopulationPrior,
    people: &[&[Choice]],
    config: &LearnerConfig,
    components: usize,
) -> Vec<StyleComponent> {
    let k = STYLE_FEATURES;
    let mut mixture = prior.components();
    if people.is_empty() {
        return mixture;
    }
    let config = &config.without_forgetting();
    let cap = config.mean_cap;
    while mixture.len() < components.min(crate::prefs::learner::prior::MAX_COMPONENTS) {
        let Some(split) = split_widest(&mixture, cap) else {
            break;
        };
        mixture = split;
        for _ in 0..MIXTURE_ITERATIONS {
            let current = PopulationPrior {
                mixture: mixture.clone(),
                ..prior.clone()
            };
            let m = mixture.len();
            let mut weight = vec![0.0; m];
            let mut first = vec![vec![0.0; k]; m];
            let mut second = vec![vec![0.0; k * k]; m];
            for choices in people {
                let learner = learn_from(&current, config, choices);
                for (c, post) in learner.style_components().iter().enumerate() {
                    let r = post.weight;
                    weight[c] += r;
                    for i in 0..k {
                        first[c][i] += r * post.mean[i];
                        for j in 0..k {
                            second[c][i * k + j] +=
                                r * (post.mean[i] * post.mean[j] + post.covariance[i * k + j]);
                        }
                    }
                }
            }
            let count = people.len() as f64;
            let mut next = Vec::with_capacity(m);
            for c in 0..m {
                if weight[c] / count < MIN_COMPONENT_WEIGHT {
                    continue;
                }
                let mean: Vec<f64> = first[c].iter().map(|x| x / weight[c]).collect();
                let mut covariance = vec![0.0; k * k];
                for i in 0..k {
                    for j in 0..k {
                        covariance[i * k + j] =
                            second[c][i * k + j] / weight[c] - mean[i] * mean[j];
                    }
                }
                for i in 0..k {
                    for j in 0..i {
                        let avg = 0.5 * (covariance[i * k + j] + covariance[j * k + i]);
                        covariance[i * k + j] = avg;
                        covariance[j * k + i] = avg;
                    }
                    covariance[i * k + i] = covariance[i * k + i].max(0.0) + MIN_SPREAD;
                }
                next.push(StyleComponent {
                    weight: weight[c] / count,
                    mean: mean.iter().map(|x| x.clamp(-cap, cap)).collect(),
                    covariance,
                });
            }
            next.retain(|c| cholesky_ok(&c.covariance));
            if next.is_empty() {
                return prior.components();
            }
            let total: f64 = next.iter().map(|c| c.weight).sum();
            for c in &mut next {
                c.weight /= total;
            }
            let dropped = next.len() < m;
            mixture = next;
            if dropped {
                break;
            }
        }
        if mixture.len() < 2 {
            break;
        }
    }
    mixture
}

fn cholesky_ok(c: &[f64]) -> bool {
    crate::prefs::full_gaussian::cholesky(c, STYLE_FEATURES).is_some()
}

/// Split the component with the largest weighted top eigenvalue along its principal
/// direction: means `μ ± 0.8√λ e` (within ±`cap`), covariances `T − 0.64 λ eeᵀ`, half the weight each.
fn split_widest(mixture: &[StyleComponent], cap: f64) -> Option<Vec<StyleComponent>> {
    let k = STYLE_FEATURES;
    let tops: Vec<(f64, Vec<f64>)> = mixture
        .iter()
        .map(|c| top_eigen(&c.covariance, k))
        .collect();
    let (widest, _) = tops
        .iter()
        .enumerate()
        .map(|(i, (l, _))| (i, l * mixture[i].weight))
        .fold(
            (0, f64::NEG_INFINITY),
            |best, x| if x.1 > best.1 { x } else { best },
        );
    let (lambda, e) = &tops[widest];
    if lambda.is_nan() || *lambda <= 0.0 {
        return None;
    }
    let c = &mixture[widest];
    let shift = 0.8 * lambda.sqrt();
    let mut covariance = c.covariance.clone();
    for i in 0..k {
        for j in 0..k {
            covariance[i * k + j] -= 0.64 * lambda * e[i] * e[j];
        }
    }
    if !cholesky_ok(&covariance) {
        // The power iteration was not exact enough: keep the covariance, split the mean only.
        covariance = c.covariance.clone();
    }
    let mut out: Vec<StyleComponent> = mixture.to_vec();
    out.remove(widest);
    for sign in [1.0, -1.0] {
        out.push(StyleComponent {
            weight: c.weight / 2.0,
            mean: c
                .mean
                .iter()
                .zip(e)
                .map(|(m, v)| (m + sign * shift * v).clamp(-cap, cap))
                .collect(),
            covariance: covariance.clone(),
        });
    }
    Some(out)
}

/// The largest eigenvalue of a symmetric PSD `n × n` matrix and its unit eigenvector (power
/// iteration from a fixed start, so deterministic).
fn top_eigen(a: &[f64], n: usize) -> (f64, Vec<f64>) {
    let mut v: Vec<f64> = (0..n).map(|i| 1.0 + 0.01 * i as f64).collect();
    let mut lambda = 0.0;
    for _ in 0..200 {
        let w: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| a[i * n + j] * v[j]).sum())
            .collect();
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm <= 0.0 || !norm.is_finite() {
            return (0.0, v);
        }
        lambda = norm;
        v = w.iter().map(|x| x / norm).collect();
    }
    (lambda, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prefs::eval::fit::fit_population;
    use crate::prefs::eval::rng::SplitMix64;
    use crate::prefs::features::FeatureVector;
    use crate::prefs::gaussian::sigmoid;
    use crate::prefs::learner::Learner;

    /// People who either like long answers (weight +4 on feature 0) or short ones (−4),
    /// `per_person` noisy choices each between random answers.
    fn two_sided_people(per_person: usize) -> Vec<Vec<Choice>> {
        (0..120u64)
            .map(|p| {
                let mut rng = SplitMix64::new(3, p);
                let sign = if p % 2 == 0 { 1.0 } else { -1.0 };
                (0..per_person)
                    .map(|_| {
                        let mut draw = || {
                            let mut style = [0.0; STYLE_FEATURES];
                            for x in &mut style {
                                *x = rng.unit();
                            }
                            FeatureVector {
                                style,
                                embedding: Vec::new(),
                            }
                        };
                        let (a, b) = (draw(), draw());
                        let u = sign * 4.0 * (a.style[0] - b.style[0]);
                        let a_wins = rng.unit() < sigmoid(u);
                        let (winner, loser) = if a_wins { (a, b) } else { (b, a) };
                        Choice {
                            context: None,
                            winner,
                            loser,
                        }
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_mixture_fit_finds_both_sides_of_a_two_sided_taste() {
        let people = two_sided_people(20);
        let slices: Vec<&[Choice]> = people.iter().map(Vec::as_slice).collect();
        let config = LearnerConfig::default();
        let fitted = fit_population(&slices, &config);
        let prior = &fitted.prior;
        assert!(prior.mixture.len() >= 2, "{prior:?}");
        let (mut low, mut high) = (f64::INFINITY, f64::NEG_INFINITY);
        for c in &prior.mixture {
            low = low.min(c.mean[0]);
            high = high.max(c.mean[0]);
        }
        assert!(
            low < -1.5 && high > 1.5,
            "components at {low:.2} and {high:.2}"
        );
        let total: f64 = prior.mixture.iter().map(|c| c.weight).sum();
        assert!((total - 1.0).abs() < 1e-9);
        // The fitted prior is a valid prior, and deterministic.
        assert!(Learner::new(prior.clone(), config.clone()).is_ok());
        assert_eq!(fit_population(&slices, &config).prior, *prior);
    }

    #[test]
    fn a_split_halves_the_weight_along_the_widest_direction() {
        let k = STYLE_FEATURES;
        let mut covariance = vec![0.0; k * k];
        for i in 0..k {
            covariance[i * k + i] = 0.5;
        }
        covariance[2 * k + 2] = 4.0;
        let (lambda, e) = top_eigen(&covariance, k);
        assert!((lambda - 4.0).abs() < 1e-6 && (e[2].abs() - 1.0).abs() < 1e-6);
        let one = StyleComponent {
            weight: 1.0,
            mean: vec![0.0; k],
            covariance,
        };
        let two = split_widest(&[one], 8.0).expect("splits");
        assert_eq!(two.len(), 2);
        assert!((two[0].mean[2] + two[1].mean[2]).abs() < 1e-9);
        assert!((two[0].mean[2].abs() - 1.6).abs() < 1e-6);
        assert!(two.iter().all(|c| (c.weight - 0.5).abs() < 1e-12));
        assert!((two[0].covariance[2 * k + 2] - 4.0 * 0.36).abs() < 1e-6);
        assert!(cholesky_ok(&two[0].covariance));
    }
}
