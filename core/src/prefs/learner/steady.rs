//! The steady learner beside each learner (ADR 0046). Forgetting lets a learner follow a person
//! whose taste changes, but costs accuracy for everybody whose taste does not. So a second
//! learner, from the same prior and the same events, keeps all its evidence (it forgets only
//! when a change is very clear), and predictions mix the two by how well each predicted the
//! person's own events (trust, a Bayesian mixture of the two) with a fixed share of the trust
//! returning toward even after every event, so that after a change the forgetful learner takes
//! over within a few events, and the steady one takes back over once the person is steady.
//! This module owns the trust and the pair's mixed views, which [`super::setting`] mixes with
//! the setting learner's into [`Learner::weights`] and [`Learner::prefer_probability`].

use crate::prefs::features::FeatureVector;
use crate::prefs::feedback::ContextKey;
use crate::prefs::PrefsError;

use super::{Learner, Weights};

impl Learner {
    /// The weights in `context` (global plus the context's offset), with pending forgetting
    /// applied: this learner's and the steady learner's mixed by trust (mean and variance of
    /// the mixture).
    pub(super) fn pair_weights(&self, context: Option<&ContextKey>) -> Weights {
        let own = self.own_weights(context);
        let Some(steady) = self.steady.as_deref() else {
            return own;
        };
        let other = steady.own_weights(context);
        mix_weights(&own, &other, self.trust_in_self())
    }

    /// P(the person prefers `a` to `b`) in `context`, with uncertainty (including the
    /// covariance between style weights) folded in: this learner's and the steady learner's
    /// probabilities mixed by trust.
    pub(super) fn pair_prefer_probability(
        &self,
        a: &FeatureVector,
        b: &FeatureVector,
        context: Option<&ContextKey>,
    ) -> Result<f64, PrefsError> {
        let own = self.own_prefer_probability(a, b, context)?;
        let Some(steady) = self.steady.as_deref() else {
            return Ok(own);
        };
        let other = steady.own_prefer_probability(a, b, context)?;
        let t = self.trust_in_self();
        Ok(t * own + (1.0 - t) * other)
    }

    /// The share of trust in this learner rather than the steady one (1 without one).
    pub fn trust_in_self(&self) -> f64 {
        if self.steady.is_none() {
            return 1.0;
        }
        let top = self.trust[0].max(self.trust[1]);
        let (a, b) = ((self.trust[0] - top).exp(), (self.trust[1] - top).exp());
        a / (a + b)
    }

    /// After a learning event that this learner gave probability `own` and the steady one
    /// `steady` (of what happened), weighted `weight`: each one's trust is multiplied by its
    /// probability (to the power of the weight), then `steady_share` of it returns toward even.
    pub(super) fn update_trust(&mut self, own: f64, steady: f64, weight: f64) {
        self.trust[0] += weight * own.max(1e-12).ln();
        self.trust[1] += weight * steady.max(1e-12).ln();
        let share = self.config.steady_share;
        let t = (1.0 - share) * self.trust_in_self() + share * 0.5;
        self.trust = [t.ln(), (1.0 - t).ln()];
    }
}

/// The mixture of two weight beliefs with share `t` of the first: its mean and variance.
pub(super) fn mix_weights(first: &Weights, second: &Weights, t: f64) -> Weights {
    let mut mixed = Weights {
        mean: Vec::with_capacity(first.mean.len()),
        variance: Vec::with_capacity(first.mean.len()),
    };
    for i in 0..first.mean.len() {
        let (m1, m2) = (first.mean[i], second.mean[i]);
        let mean = t * m1 + (1.0 - t) * m2;
        let moment = t * (first.variance[i] + m1 * m1) + (1.0 - t) * (second.variance[i] + m2 * m2);
        mixed.mean.push(mean);
        mixed.variance.push((moment - mean * mean).max(0.0));
    }
    mixed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prefs::features::STYLE_FEATURES;
    use crate::prefs::feedback::Observation;
    use crate::prefs::learner::{LearnerConfig, PopulationPrior};

    fn answers() -> (FeatureVector, FeatureVector) {
        let mut long = [0.5; STYLE_FEATURES];
        long[0] = 0.9;
        long[1] = 0.8;
        let mut short = [0.5; STYLE_FEATURES];
        short[0] = 0.1;
        short[1] = 0.2;
        let vector = |style| FeatureVector {
            style,
            embedding: Vec::new(),
        };
        (vector(long), vector(short))
    }

    fn choose(learner: &mut Learner, winner: &FeatureVector, loser: &FeatureVector) {
        learner
            .observe(&Observation::Compare {
                context: None,
                winner: winner.clone(),
                loser: loser.clone(),
                weight: 1.0,
            })
            .expect("valid observation");
    }

    #[test]
    fn trust_goes_to_the_steady_learner_while_the_taste_holds_and_the_mix_follows_a_change() {
        let mut learner =
            Learner::new(PopulationPrior::neutral(0), LearnerConfig::default()).expect("valid");
        assert!(learner.steady.is_some());
        assert!((learner.trust_in_self() - 0.5).abs() < 1e-12);
        let (long, short) = answers();
        // Mostly long answers, with the odd short one (choices are noisy).
        for i in 0..60 {
            if i % 6 == 5 {
                choose(&mut learner, &short, &long);
            } else {
                choose(&mut learner, &long, &short);
            }
        }
        let steady_phase = learner.trust_in_self();
        assert!(
            steady_phase < 0.5,
            "trust in the forgetful learner {steady_phase}"
        );
        // After a change both learners turn (the steady one detects a change this clear), and
        // the mix follows within a few events.
        let mut turned_after = None;
        for i in 1..=12 {
            choose(&mut learner, &short, &long);
            let p = learner
                .prefer_probability(&short, &long, None)
                .expect("valid");
            if p > 0.5 && turned_after.is_none() {
                turned_after = Some(i);
            }
        }
        assert!(matches!(turned_after, Some(1..=5)), "{turned_after:?}");
        let changed = learner.trust_in_self();
        // The share keeps either learner within reach.
        assert!(changed < 1.0 - 0.05 / 2.0 + 1e-9 && steady_phase > 0.05 / 2.0 - 1e-9);
    }

    #[test]
    fn without_a_share_there_is_no_steady_learner_and_full_trust_in_the_one() {
        let config = LearnerConfig {
            steady_share: 0.0,
            ..LearnerConfig::default()
        };
        let mut learner = Learner::new(PopulationPrior::neutral(0), config).expect("valid");
        let (long, short) = answers();
        choose(&mut learner, &long, &short);
        assert!(learner.steady.is_none());
        assert_eq!(learner.trust_in_self(), 1.0);
        assert_eq!(learner.weights(None), learner.own_weights(None));
    }

    #[test]
    fn mixed_weights_lie_between_the_two_learners() {
        let mut learner =
            Learner::new(PopulationPrior::neutral(0), LearnerConfig::default()).expect("valid");
        let (long, short) = answers();
        for _ in 0..20 {
            choose(&mut learner, &long, &short);
        }
        for _ in 0..4 {
            choose(&mut learner, &short, &long);
        }
        let steady = learner.steady.as_deref().expect("on by default");
        let (own, other, mixed) = (
            learner.own_weights(None),
            steady.own_weights(None),
            learner.weights(None),
        );
        for i in 0..STYLE_FEATURES {
            let (low, high) = (
                own.mean[i].min(other.mean[i]),
                own.mean[i].max(other.mean[i]),
            );
            assert!(mixed.mean[i] >= low - 1e-12 && mixed.mean[i] <= high + 1e-12);
            assert!(mixed.variance[i] >= own.variance[i].min(other.variance[i]) - 1e-12);
        }
    }

    #[test]
    fn steady_settings_are_validated_and_old_configs_still_load() {
        for (share, threshold) in [(-0.1, 3.0), (1.5, 3.0), (f64::NAN, 3.0), (0.05, -1.0)] {
            let config = LearnerConfig {
                steady_share: share,
                steady_change_threshold: threshold,
                ..LearnerConfig::default()
            };
            assert!(matches!(
                Learner::new(PopulationPrior::neutral(0), config),
                Err(PrefsError::InvalidConfig(_))
            ));
        }
        let mut old = serde_json::to_value(LearnerConfig::default()).expect("serializes");
        let object = old.as_object_mut().expect("object");
        object.remove("steady_share");
        object.remove("steady_change_threshold");
        let back: LearnerConfig = serde_json::from_value(old).expect("parses");
        assert_eq!(back, LearnerConfig::default());
    }
}
