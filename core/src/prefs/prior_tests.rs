//! Tests of full-covariance and mixture population priors (ADR 0034, 0036): evidence
//! generalizes along the covariance, a mixture finds the side a person is on, statements and
//! deletions reach every component, validation, and bounds under any feedback.

use proptest::prelude::*;

use super::tests::{long_short, observation};
use crate::prefs::features::{FeatureVector, STYLE_FEATURES};
use crate::prefs::feedback::{ContextKey, Observation};
use crate::prefs::learner::{Learner, LearnerConfig, PopulationPrior, StyleComponent};
use crate::prefs::profile::{tests::envelope, Profile, Source};
use crate::safety::personalization::Dimension;

/// A prior whose style block has a full covariance: length and paragraphs vary together,
/// questions back and warm phrases too (the shape a fitted population prior has).
fn correlated_prior() -> PopulationPrior {
    let mut prior = PopulationPrior::neutral(0);
    let k = STYLE_FEATURES;
    let mut cov = vec![0.0; k * k];
    for i in 0..k {
        cov[i * k + i] = prior.variance[i];
    }
    for (a, b) in [(0, 1), (9, 10)] {
        cov[a * k + b] = 0.8 * prior.variance[a];
        cov[b * k + a] = 0.8 * prior.variance[a];
    }
    prior.style_covariance = cov;
    prior
}

/// A two-sided prior (ADR 0036): half the people like long answers, half short ones (length
/// and paragraphs together), each side a correlated Gaussian; the overall mean and covariance
/// moment-matched as a fitted mixture prior has them.
fn two_sided_prior() -> PopulationPrior {
    let mut prior = correlated_prior();
    let k = STYLE_FEATURES;
    let within: Vec<f64> = prior.style_covariance.iter().map(|c| c * 0.25).collect();
    let side = |sign: f64| {
        let mut mean = vec![0.0; k];
        mean[0] = 3.0 * sign;
        mean[1] = 2.0 * sign;
        StyleComponent {
            weight: 0.5,
            mean,
            covariance: within.clone(),
        }
    };
    let mixture = vec![side(1.0), side(-1.0)];
    crate::prefs::eval::mixture::with_mixture(&mut prior, &mixture, 1.0);
    prior
}

fn long_and_short() -> (FeatureVector, FeatureVector) {
    long_short(0.3, &[(1, 0.6)])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_mixture_stays_bounded_normalized_inside_the_envelope_and_rebuilds(events in prop::collection::vec(observation(), 0..80)) {
        let prior = two_sided_prior();
        let mut l = Learner::new(prior.clone(), LearnerConfig::default()).expect("valid prior");
        let e = envelope();
        for ev in &events {
            l.observe(ev).expect("generated observations are valid");
            let components = l.style_components();
            prop_assert_eq!(components.len(), 2);
            let total: f64 = components.iter().map(|c| c.weight).sum();
            prop_assert!((total - 1.0).abs() < 1e-9 && components.iter().all(|c| c.weight > 0.0));
            let cap = l.config().mean_cap;
            for c in &components {
                prop_assert!(c.mean.iter().all(|m| m.abs() <= cap));
            }
            let w = l.weights(None);
            prop_assert!(w.variance.iter().all(|v| *v > 0.0 && v.is_finite()));
            for ctx in [None, ContextKey::new("work").ok()] {
                let p = Profile::compile(&l, &e, ctx.as_ref());
                for pref in &p.preferences {
                    let r = e.range(pref.dimension);
                    prop_assert!(pref.value >= r.min && pref.value <= r.max, "{:?}", pref);
                }
            }
        }
        let rebuilt = Learner::rebuild(prior, LearnerConfig::default(), &events).expect("valid events");
        prop_assert_eq!(&l, &rebuilt);
    }

    #[test]
    fn a_full_covariance_stays_bounded_symmetric_and_positive_and_rebuilds(events in prop::collection::vec(observation(), 0..80)) {
        let mut l = Learner::new(correlated_prior(), LearnerConfig::default()).expect("valid prior");
        let k = STYLE_FEATURES;
        for ev in &events {
            l.observe(ev).expect("generated observations are valid");
            let c = l.style_covariance();
            let cap = l.config().mean_cap;
            prop_assert!(l.weights(None).mean.iter().all(|m| m.abs() <= cap));
            for i in 0..k {
                prop_assert!(c[i * k + i] > 0.0 && c[i * k + i].is_finite());
                for j in 0..i {
                    prop_assert!((c[i * k + j] - c[j * k + i]).abs() < 1e-9);
                    // Positive semi-definite 2 × 2 minors (a necessary condition).
                    prop_assert!(c[i * k + j].powi(2) <= c[i * k + i] * c[j * k + j] * (1.0 + 1e-9) + 1e-12);
                }
            }
        }
        let rebuilt = Learner::rebuild(correlated_prior(), LearnerConfig::default(), &events)
            .expect("valid events");
        prop_assert_eq!(&l, &rebuilt);
    }
}

#[test]
fn a_covariance_that_is_not_positive_semi_definite_is_rejected() {
    let mut prior = correlated_prior();
    let k = STYLE_FEATURES;
    prior.style_covariance[1] = 10.0 * prior.variance[0];
    prior.style_covariance[k] = 10.0 * prior.variance[0];
    assert!(Learner::new(prior, LearnerConfig::default()).is_err());
    let mut asymmetric = correlated_prior();
    asymmetric.style_covariance[2] = 0.1;
    assert!(Learner::new(asymmetric, LearnerConfig::default()).is_err());
}

#[test]
fn a_correlated_prior_generalizes_evidence_to_the_related_feature() {
    let mut l = Learner::new(correlated_prior(), LearnerConfig::default()).expect("valid prior");
    let (long, short) = long_short(0.2, &[]);
    for _ in 0..5 {
        l.observe(&Observation::Compare {
            context: None,
            winner: short.clone(),
            loser: long.clone(),
            weight: 1.0,
        })
        .expect("valid");
    }
    let w = l.weights(None);
    assert!(
        w.mean[0] < 0.0 && w.mean[1] < 0.0,
        "length evidence moves paragraphs too: {:?}",
        w.mean
    );
    assert_eq!(
        w.mean[5], 0.0,
        "an uncorrelated feature the answers do not differ on stays put"
    );
}

#[test]
fn a_mixture_finds_the_side_a_person_is_on_in_a_few_events() {
    let (long, short) = long_and_short();
    let mut l = Learner::new(two_sided_prior(), LearnerConfig::default()).expect("valid prior");
    let before = l.style_components();
    assert!((before[0].weight - 0.5).abs() < 1e-12);
    assert!(
        (l.prefer_probability(&long, &short, None).expect("fits") - 0.5).abs() < 1e-9,
        "a new person is undecided between the sides"
    );
    for _ in 0..3 {
        l.observe(&Observation::Compare {
            context: None,
            winner: short.clone(),
            loser: long.clone(),
            weight: 1.0,
        })
        .expect("valid");
    }
    let after = l.style_components();
    assert!(after[1].mean[0] < 0.0 && after[1].weight > 0.9, "{after:?}");
    let p = l.prefer_probability(&short, &long, None).expect("fits");
    // One Gaussian with the same overall mean and covariance is less sure after 3 events.
    let mut single = two_sided_prior();
    single.mixture.clear();
    let s = Learner::rebuild(
        single,
        LearnerConfig::default(),
        &vec![
            Observation::Compare {
                context: None,
                winner: short.clone(),
                loser: long.clone(),
                weight: 1.0,
            };
            3
        ],
    )
    .expect("valid");
    let q = s.prefer_probability(&short, &long, None).expect("fits");
    assert!(p > q && p > 0.8, "mixture {p:.3} vs one Gaussian {q:.3}");
}

#[test]
fn statements_set_every_component_and_deletion_restores_the_mixture() {
    let prior = two_sided_prior();
    let mut l = Learner::new(prior.clone(), LearnerConfig::default()).expect("valid prior");
    l.observe(&Observation::SetLean {
        context: None,
        dimension: Dimension::Verbosity,
        lean: -2.5,
        source: Source::Stated,
    })
    .expect("valid");
    for c in l.style_components() {
        let lean = (c.mean[0] + c.mean[1]) / 2.0;
        assert!((lean + 2.5).abs() < 1e-9, "{c:?}");
    }
    assert!((l.lean(Dimension::Verbosity, None).0 + 2.5).abs() < 1e-9);
    assert_eq!(l.source(Dimension::Verbosity, None), Source::Stated);
    l.observe(&Observation::Clear {
        context: None,
        dimension: Dimension::Verbosity,
    })
    .expect("valid");
    assert_eq!(
        l,
        Learner::new(prior, LearnerConfig::default()).expect("valid")
    );
}

#[test]
fn mixture_priors_are_validated_and_priors_without_one_still_load() {
    let good = two_sided_prior();
    assert!(Learner::new(good.clone(), LearnerConfig::default()).is_ok());
    let mut heavy = good.clone();
    heavy.mixture[0].weight = 0.9;
    let mut outside = good.clone();
    outside.mixture[1].mean[0] = 100.0;
    let mut indefinite = good.clone();
    indefinite.mixture[0].covariance[0] = -1.0;
    let mut short = good.clone();
    short.mixture[1].mean.pop();
    for bad in [heavy, outside, indefinite, short] {
        assert!(Learner::new(bad, LearnerConfig::default()).is_err());
    }
    // A prior sealed before mixtures existed (no `mixture` key) loads as one Gaussian.
    let mut old = serde_json::to_value(correlated_prior()).expect("serializes");
    old.as_object_mut().expect("object").remove("mixture");
    let back: PopulationPrior = serde_json::from_value(old).expect("parses");
    assert!(back.mixture.is_empty());
    assert_eq!(back.components().len(), 1);
    let json = serde_json::to_string(&good).expect("serializes");
    let again: PopulationPrior = serde_json::from_str(&json).expect("parses");
    assert_eq!(again, good);
}
