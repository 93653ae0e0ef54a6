//! The Bayes-ideal ceiling of the simulated evaluation: how well *any* learner could predict a
//! person's held-out choices from their first k choices, if it knew exactly how the simulated
//! population is generated (the distribution of tastes, the context rule, the choice noise)
//! and saw the latent style each person judged rather than features of the text. It is the
//! posterior predictive under the true prior, computed by importance sampling: many people
//! drawn from the generator, each weighted by the likelihood of the observed choices. No
//! learner that sees only text features and starts without the generator can beat it (up to
//! Monte-Carlo error), so it bounds what the personal learners can reach at k events.

use crate::prefs::eval::credit;
use crate::prefs::eval::population::{SimChoice, SimPerson, CHOICE_TEMPERATURE, CONTEXTS};
use crate::prefs::eval::rng::SplitMix64;
use crate::prefs::gaussian::sigmoid;

/// People drawn from the generator, with their weights in each context.
pub struct GeneratorSample {
    /// Per drawn person, the weights in each of [`CONTEXTS`].
    weights: Vec<[[f64; 6]; 3]>,
}

impl GeneratorSample {
    /// Draw `n` people from the generator with `seed` (a stream of its own).
    pub fn draw(seed: u64, n: usize) -> Self {
        let mut rng = SplitMix64::new(seed, 0x1dea_1000);
        let weights = (0..n)
            .map(|_| {
                let p = SimPerson::draw(&mut rng);
                CONTEXTS.map(|c| p.weights_in(c))
            })
            .collect();
        Self { weights }
    }

    /// The ideal accuracy on each person's `test` choices after their first `k` of `train`,
    /// for every `k` of `checkpoints` (ascending); averaged over all test choices.
    pub fn accuracy(
        &self,
        people: &[(&[SimChoice], &[SimChoice])],
        checkpoints: &[usize],
    ) -> Vec<f64> {
        let mut right = vec![0.0; checkpoints.len()];
        let mut count = 0.0;
        for (train, test) in people {
            let mut log_weight = vec![0.0; self.weights.len()];
            let mut seen = 0;
            for (slot, &k) in checkpoints.iter().enumerate() {
                for c in &train[seen..k.min(train.len())] {
                    for (lw, w) in log_weight.iter_mut().zip(&self.weights) {
                        *lw += log_sigmoid(margin(w, c));
                    }
                }
                seen = k.min(train.len());
                let top = log_weight.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let posterior: Vec<f64> = log_weight.iter().map(|lw| (lw - top).exp()).collect();
                let total: f64 = posterior.iter().sum();
                for c in test.iter() {
                    let p: f64 = posterior
                        .iter()
                        .zip(&self.weights)
                        .map(|(q, w)| q * sigmoid(margin(w, c)))
                        .sum();
                    right[slot] += credit(p / total);
                }
            }
            count += test.len() as f64;
        }
        right.iter().map(|r| r / count.max(1.0)).collect()
    }
}

impl GeneratorSample {
    /// After a change of taste: agreement of the ideal that starts afresh at the change (it
    /// is told when the taste changed, and keeps nothing from before) with each person's new
    /// taste on their `test` choices, after 0, 1, 2, ... of their `new` choices; computed up
    /// to the first count whose agreement reaches `threshold` (or all of `new`).
    pub fn recovery_curve(
        &self,
        flips: &[(&SimPerson, &[SimChoice], &[SimChoice])],
        threshold: f64,
    ) -> Vec<f64> {
        let most = flips.iter().map(|(_, new, _)| new.len()).min().unwrap_or(0);
        let mut log_weights = vec![vec![0.0; self.weights.len()]; flips.len()];
        let mut curve = Vec::new();
        for m in 0..=most {
            let (mut agree, mut count) = (0.0, 0.0);
            for ((after, new, test), lw) in flips.iter().zip(&mut log_weights) {
                if m > 0 {
                    for (l, w) in lw.iter_mut().zip(&self.weights) {
                        *l += log_sigmoid(margin(w, &new[m - 1]));
                    }
                }
                let top = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let posterior: Vec<f64> = lw.iter().map(|l| (l - top).exp()).collect();
                let total: f64 = posterior.iter().sum();
                for c in test.iter() {
                    let p = posterior
                        .iter()
                        .zip(&self.weights)
                        .map(|(q, w)| q * sigmoid(margin(w, c)))
                        .sum::<f64>()
                        / total;
                    let truth = margin(&CONTEXTS.map(|x| after.weights_in(x)), c);
                    agree += if truth == 0.0 {
                        0.5
                    } else if truth > 0.0 {
                        credit(p)
                    } else {
                        credit(1.0 - p)
                    };
                    count += 1.0;
                }
            }
            let share = agree / f64::max(count, 1.0);
            curve.push(share);
            if share >= threshold {
                break;
            }
        }
        curve
    }
}

/// `(u(chosen) − u(other)) / T` for a drawn person with per-context weights `w`.
fn margin(w: &[[f64; 6]; 3], c: &SimChoice) -> f64 {
    let context = c.choice.context.as_ref().map_or("general", |k| k.as_str());
    let slot = CONTEXTS.iter().position(|&x| x == context).unwrap_or(2);
    w[slot]
        .iter()
        .zip(&c.seen_difference)
        .map(|(a, b)| a * b)
        .sum::<f64>()
        / CHOICE_TEMPERATURE
}

fn log_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prefs::eval::population::draw_choices;

    #[test]
    fn the_ideal_learns_from_choices_and_stays_below_the_oracle() {
        let sample = GeneratorSample::draw(11, 4000);
        let data: Vec<(Vec<SimChoice>, Vec<SimChoice>)> = (0..40)
            .map(|i| {
                let mut rng = SplitMix64::new(5, i);
                let p = SimPerson::draw(&mut rng);
                (
                    draw_choices(&p, 50, &mut rng),
                    draw_choices(&p, 40, &mut rng),
                )
            })
            .collect();
        let people: Vec<(&[SimChoice], &[SimChoice])> = data
            .iter()
            .map(|(a, b)| (a.as_slice(), b.as_slice()))
            .collect();
        let acc = sample.accuracy(&people, &[0, 5, 50]);
        let oracle: f64 = data
            .iter()
            .flat_map(|(_, t)| t.iter().map(|c| c.oracle_right))
            .sum::<f64>()
            / (40.0 * 40.0);
        assert!(acc[0] < acc[1] && acc[1] < acc[2], "{acc:?}");
        assert!(acc[2] <= oracle + 0.02, "{acc:?} vs oracle {oracle}");
        // Deterministic.
        assert_eq!(acc, sample.accuracy(&people, &[0, 5, 50]));
    }

    #[test]
    fn after_a_change_the_ideal_follows_the_new_taste_as_evidence_arrives() {
        let sample = GeneratorSample::draw(13, 3000);
        let data: Vec<(SimPerson, Vec<SimChoice>, Vec<SimChoice>)> = (0..30)
            .map(|i| {
                let mut rng = SplitMix64::new(6, i);
                let after = SimPerson::draw(&mut rng).flipped();
                let new = draw_choices(&after, 20, &mut rng);
                let test = draw_choices(&after, 30, &mut rng);
                (after, new, test)
            })
            .collect();
        let flips: Vec<(&SimPerson, &[SimChoice], &[SimChoice])> = data
            .iter()
            .map(|(p, n, t)| (p, n.as_slice(), t.as_slice()))
            .collect();
        // Unreachable threshold: the whole curve.
        let curve = sample.recovery_curve(&flips, 2.0);
        assert_eq!(curve.len(), 21);
        assert!(curve[20] > curve[0] + 0.15, "{curve:?}");
        // A reachable one stops at the first count that reaches it.
        let short = sample.recovery_curve(&flips, curve[5]);
        assert!(short.len() <= 6 && short.last() >= Some(&curve[5]));
    }

    #[test]
    fn log_sigmoid_is_stable() {
        assert!((log_sigmoid(0.0) - 0.5f64.ln()).abs() < 1e-12);
        assert!(log_sigmoid(-800.0).is_finite() && log_sigmoid(800.0) == 0.0);
    }
}
