//! The simulated evaluation: learning curves of the personal learners against the aggregated
//! model and the oracle (the true simulated utility) on held-out choices, and how many events a
//! learner needs to follow a person whose taste flips (ADR 0032).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::prefs::eval::fit::{fit_population, personal_credit};
use crate::prefs::eval::ideal::GeneratorSample;
use crate::prefs::eval::population::{draw_choices, SimChoice, SimPerson};
use crate::prefs::eval::rng::SplitMix64;
use crate::prefs::eval::Choice;
use crate::prefs::learner::{Learner, LearnerConfig, PopulationPrior};

/// Sizes and seed of a simulated evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Seed of every random draw.
    pub seed: u64,
    /// People in the population.
    pub people: usize,
    /// Held-out choices per person.
    pub test_choices: usize,
    /// Events per person at which accuracy is measured.
    pub checkpoints: Vec<usize>,
    /// People whose taste flips, for recovery.
    pub flip_people: usize,
    /// Events before the flip.
    pub flip_before: usize,
    /// Events after the flip, at most.
    pub flip_after: usize,
    /// Accuracy on the new taste that counts as recovered.
    pub recovery_threshold: f64,
    /// The learner configuration evaluated.
    pub learner: LearnerConfig,
    /// People drawn from the generator for the Bayes-ideal ceiling (0: not computed).
    pub ideal_samples: usize,
}

impl SimConfig {
    /// The size `keel eval prefs` reports.
    pub fn standard(seed: u64) -> Self {
        Self {
            seed,
            people: 200,
            test_choices: 100,
            checkpoints: vec![5, 10, 20, 50],
            flip_people: 100,
            flip_before: 30,
            flip_after: 30,
            recovery_threshold: 0.8,
            learner: LearnerConfig::default(),
            ideal_samples: 0,
        }
    }

    /// A smaller run for tests.
    pub fn small(seed: u64) -> Self {
        Self {
            people: 80,
            test_choices: 50,
            flip_people: 40,
            ..Self::standard(seed)
        }
    }
}

/// What the simulated evaluation reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimReport {
    /// Personal learners' accuracy on held-out choices, per events per person.
    pub personalized_acc: BTreeMap<String, f64>,
    /// The aggregated model's accuracy on the same choices.
    pub aggregated_acc: BTreeMap<String, f64>,
    /// The true utility's accuracy on the same choices (the ceiling under choice noise).
    pub oracle_acc: BTreeMap<String, f64>,
    /// The Bayes-ideal accuracy from k events (the generator known, latent styles seen):
    /// what no learner can beat at k events; empty unless asked for (`ideal_samples`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ideal_acc: BTreeMap<String, f64>,
    /// Events after a flip of taste until accuracy on the new taste reaches the threshold
    /// (`None`: not within `flip_after`).
    pub recovery_events: Option<usize>,
    /// Agreement with the new taste (which of two answers the person's true new utility
    /// prefers) after 0, 1, 2, ... events since the flip.
    pub recovery_curve: Vec<f64>,
    /// The oracle's accuracy on the noisy choices of the new taste, for scale.
    pub recovery_oracle: f64,
    /// Events the Bayes-ideal needs after a change of taste when it is told when the change
    /// happened and starts afresh (a bound on recovery from fresh evidence); `None` unless
    /// asked for (`ideal_samples`) or not within `flip_after`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ideal_recovery_events: Option<usize>,
    /// The per-person prior variance chosen at each checkpoint.
    pub prior_variance: BTreeMap<String, f64>,
    /// People in the population.
    pub people: usize,
    /// Held-out choices per person.
    pub test_choices: usize,
}

/// Run the simulated evaluation.
pub fn evaluate(config: &SimConfig) -> SimReport {
    let most = config.checkpoints.iter().copied().max().unwrap_or(0);
    let people: Vec<(SimPerson, Vec<SimChoice>, Vec<SimChoice>)> = (0..config.people)
        .map(|i| {
            let mut rng = SplitMix64::new(config.seed, i as u64);
            let person = SimPerson::draw(&mut rng);
            let train = draw_choices(&person, most, &mut rng);
            let test = draw_choices(&person, config.test_choices, &mut rng);
            (person, train, test)
        })
        .collect();
    let mut report = SimReport {
        personalized_acc: BTreeMap::new(),
        aggregated_acc: BTreeMap::new(),
        oracle_acc: BTreeMap::new(),
        ideal_acc: BTreeMap::new(),
        recovery_events: None,
        recovery_curve: Vec::new(),
        recovery_oracle: 0.0,
        ideal_recovery_events: None,
        prior_variance: BTreeMap::new(),
        people: config.people,
        test_choices: config.test_choices,
    };
    if config.ideal_samples > 0 {
        let sample = GeneratorSample::draw(config.seed, config.ideal_samples);
        let slices: Vec<(&[SimChoice], &[SimChoice])> = people
            .iter()
            .map(|(_, train, test)| (train.as_slice(), test.as_slice()))
            .collect();
        let mut checkpoints = config.checkpoints.clone();
        checkpoints.sort_unstable();
        for (k, acc) in checkpoints
            .iter()
            .zip(sample.accuracy(&slices, &checkpoints))
        {
            report.ideal_acc.insert(k.to_string(), acc);
        }
    }
    let mut last_prior = None;
    for &k in &config.checkpoints {
        let train: Vec<Vec<Choice>> = people
            .iter()
            .map(|(_, t, _)| t[..k].iter().map(|c| c.choice.clone()).collect())
            .collect();
        let slices: Vec<&[Choice]> = train.iter().map(Vec::as_slice).collect();
        let population = fit_population(&slices, &config.learner);
        let (mut personal, mut aggregated, mut oracle, mut count) = (0.0, 0.0, 0.0, 0.0);
        for ((_, _, test), learn) in people.iter().zip(&train) {
            let learner = learn_from(&population.prior, &config.learner, learn);
            for c in test {
                personal += personal_credit(&learner, &c.choice);
                aggregated += population.aggregate.credit(&c.choice);
                oracle += c.oracle_right;
                count += 1.0;
            }
        }
        let key = k.to_string();
        report
            .personalized_acc
            .insert(key.clone(), personal / count);
        report
            .aggregated_acc
            .insert(key.clone(), aggregated / count);
        report.oracle_acc.insert(key.clone(), oracle / count);
        report.prior_variance.insert(key, population.prior_variance);
        last_prior = Some(population.prior);
    }
    if let Some(prior) = last_prior {
        recovery(config, &prior, &mut report);
    }
    report
}

fn learn_from(prior: &PopulationPrior, config: &LearnerConfig, choices: &[Choice]) -> Learner {
    let observations: Vec<_> = choices.iter().map(Choice::observation).collect();
    Learner::rebuild(prior.clone(), config.clone(), &observations)
        .expect("choices built by the evaluation are valid observations")
}

/// People learn one taste for `flip_before` events, then their taste flips; agreement with the
/// new taste (its noise-free preference between two held-out answers) is measured after each
/// event since the flip.
fn recovery(config: &SimConfig, prior: &PopulationPrior, report: &mut SimReport) {
    let stream = 1 << 32;
    let mut curve = vec![0.0; config.flip_after + 1];
    let (mut oracle, mut count) = (0.0, 0.0);
    let mut flips = Vec::new();
    for i in 0..config.flip_people {
        let mut rng = SplitMix64::new(config.seed, stream + i as u64);
        let before = SimPerson::draw(&mut rng);
        let after = before.flipped();
        let old = draw_choices(&before, config.flip_before, &mut rng);
        let new = draw_choices(&after, config.flip_after, &mut rng);
        let test = draw_choices(&after, config.test_choices, &mut rng);
        let mut learner = learn_from(
            prior,
            &config.learner,
            &old.iter().map(|c| c.choice.clone()).collect::<Vec<_>>(),
        );
        for (j, slot) in curve.iter_mut().enumerate() {
            if j > 0 {
                learner
                    .observe(&new[j - 1].choice.observation())
                    .expect("choices built by the evaluation are valid observations");
            }
            *slot += test
                .iter()
                .map(|c| personal_credit(&learner, &c.by_taste))
                .sum::<f64>();
        }
        oracle += test.iter().map(|c| c.oracle_right).sum::<f64>();
        count += test.len() as f64;
        if config.ideal_samples > 0 {
            flips.push((after, new, test));
        }
    }
    if config.ideal_samples > 0 {
        let sample = GeneratorSample::draw(config.seed, config.ideal_samples);
        let views: Vec<(&SimPerson, &[SimChoice], &[SimChoice])> = flips
            .iter()
            .map(|(p, new, test)| (p, new.as_slice(), test.as_slice()))
            .collect();
        let ideal = sample.recovery_curve(&views, config.recovery_threshold);
        report.ideal_recovery_events = ideal.iter().position(|&a| a >= config.recovery_threshold);
    }
    if count > 0.0 {
        report.recovery_curve = curve.iter().map(|s| s / count).collect();
        report.recovery_oracle = oracle / count;
        report.recovery_events = report
            .recovery_curve
            .iter()
            .position(|&a| a >= config.recovery_threshold);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How much of a person's taste the text features can carry at all (ADR 0043): a learner
    /// from a wide neutral prior, without forgetting, given `n` choices per person, against the
    /// oracle on the same held-out choices. About 10 s in release (`make test`); run with
    /// `--nocapture` to see the curve.
    #[test]
    fn features_carry_the_taste_given_enough_choices() {
        let config = LearnerConfig::default().without_forgetting();
        let mut last_gap = 1.0;
        for n in [50usize, 200, 1000, 3000] {
            let (mut personal, mut oracle, mut count) = (0.0, 0.0, 0.0);
            for i in 0..40u64 {
                let mut rng = SplitMix64::new(99, i);
                let person = SimPerson::draw(&mut rng);
                let train = draw_choices(&person, n, &mut rng);
                let test = draw_choices(&person, 300, &mut rng);
                let choices: Vec<Choice> = train.iter().map(|c| c.choice.clone()).collect();
                let learner = learn_from(&PopulationPrior::neutral(0), &config, &choices);
                for c in &test {
                    personal += personal_credit(&learner, &c.choice);
                    oracle += c.oracle_right;
                    count += 1.0;
                }
            }
            let (personal, oracle) = (personal / count, oracle / count);
            eprintln!("{n} choices: learner {personal:.3}, oracle {oracle:.3}");
            last_gap = oracle - personal;
        }
        assert!(
            last_gap < 0.05,
            "gap to the oracle at 3000 choices: {last_gap:.3}"
        );
    }

    /// ADR 0045: 40% of simulated people want short answers at work and detailed ones when
    /// cooking; the fitted prior says a context moves length and paragraphs together, and
    /// moves length more than emoji.
    #[test]
    fn the_fitted_prior_learns_that_contexts_move_length_features_together() {
        let config = SimConfig::small(5);
        let people: Vec<Vec<Choice>> = (0..config.people)
            .map(|i| {
                let mut rng = SplitMix64::new(config.seed, i as u64);
                let person = SimPerson::draw(&mut rng);
                draw_choices(&person, 50, &mut rng)
                    .into_iter()
                    .map(|c| c.choice)
                    .collect()
            })
            .collect();
        let slices: Vec<&[Choice]> = people.iter().map(Vec::as_slice).collect();
        let prior = fit_population(&slices, &config.learner).prior;
        let k = crate::prefs::features::STYLE_FEATURES;
        let c = &prior.context_style_covariance;
        assert_eq!(c.len(), k * k);
        let correlation = c[1] / (c[0] * c[k + 1]).sqrt();
        eprintln!(
            "context variances {:?}, length-paragraphs correlation {correlation:.2}",
            prior.context_variance
        );
        assert!(correlation > 0.5, "correlation {correlation:.2}");
        let emoji = crate::prefs::features::StyleFeature::Emoji as usize;
        assert!(prior.context_variance[0] > 2.0 * prior.context_variance[emoji]);
    }
}
