//! Tests of context offsets with a full style covariance (ADR 0045): evidence in a context
//! carries to the features that vary together there, statements and deletions in a context,
//! and validation of the prior's context covariance.

use super::*;
use crate::prefs::features::{FeatureVector, StyleFeature};

/// A neutral prior whose context offsets move length and paragraphs (features 0 and 1)
/// together, with a population offset for "work".
fn context_correlated_prior() -> PopulationPrior {
    let mut prior = PopulationPrior::neutral(0);
    let k = STYLE_FEATURES;
    prior.context_variance = vec![1.0; k];
    let mut cov = vec![0.0; k * k];
    for i in 0..k {
        cov[i * k + i] = 1.0;
    }
    cov[1] = 0.9;
    cov[k] = 0.9;
    prior.context_style_covariance = cov;
    prior.context_mean.insert("work".to_string(), vec![0.0; k]);
    prior
}

fn work() -> Option<ContextKey> {
    ContextKey::new("work").ok()
}

/// Two answers that differ in feature 0 only.
fn longer_on_length_only() -> (FeatureVector, FeatureVector) {
    let mut long = [0.5; STYLE_FEATURES];
    long[0] = 0.9;
    let mut short = [0.5; STYLE_FEATURES];
    short[0] = 0.1;
    (
        FeatureVector {
            style: long,
            embedding: Vec::new(),
        },
        FeatureVector {
            style: short,
            embedding: Vec::new(),
        },
    )
}

#[test]
fn evidence_in_a_context_moves_the_features_that_vary_with_it_there() {
    let mut learner =
        Learner::new(context_correlated_prior(), LearnerConfig::default()).expect("valid");
    let (long, short) = longer_on_length_only();
    for _ in 0..5 {
        learner
            .observe(&Observation::Compare {
                context: work(),
                winner: long.clone(),
                loser: short.clone(),
                weight: 1.0,
            })
            .expect("valid observation");
    }
    let ctx = work().expect("valid key");
    let offset = learner.context_offset(&ctx).expect("the context was used");
    assert!(offset.mean[0] > 0.0);
    assert!(
        offset.mean[1] > 0.5 * offset.mean[0],
        "paragraphs follow length in the offset: {:?}",
        &offset.mean[..2]
    );
    assert_eq!(offset.mean[2], 0.0);
    let covariance = learner
        .context_offset_style_covariance(&ctx)
        .expect("the context was used");
    let k = STYLE_FEATURES;
    assert!((covariance[1] - covariance[k]).abs() < 1e-12);
    assert!(covariance[0] < 1.0);
}

#[test]
fn a_context_statement_then_its_deletion_gives_back_the_population_offset() {
    let prior = context_correlated_prior();
    let fresh = Learner::new(prior.clone(), LearnerConfig::default()).expect("valid");
    let mut learner = fresh.clone();
    for (dimension, lean) in [(Dimension::Verbosity, 2.0), (Dimension::Emoji, -3.0)] {
        learner
            .observe(&Observation::SetLean {
                context: work(),
                dimension,
                lean,
                source: Source::Stated,
            })
            .expect("valid statement");
    }
    let (stated, _) = learner.lean(Dimension::Verbosity, work().as_ref());
    assert!((stated - 2.0).abs() < 1e-9, "stated lean {stated}");
    learner
        .observe(&Observation::Clear {
            context: work(),
            dimension: Dimension::Verbosity,
        })
        .expect("valid deletion");
    // Length is the population's again; emoji stays as stated.
    let k = STYLE_FEATURES;
    let (now, before) = (
        learner.weights(work().as_ref()),
        fresh.weights(work().as_ref()),
    );
    for i in StyleFeature::indices_of(Dimension::Verbosity) {
        assert!((now.mean[i] - before.mean[i]).abs() < 1e-12);
        assert!((now.variance[i] - before.variance[i]).abs() < 1e-12);
    }
    let (emoji, _) = learner.lean(Dimension::Emoji, work().as_ref());
    assert!((emoji + 3.0).abs() < 1e-9, "emoji lean {emoji}");
    assert_eq!(
        learner.source(Dimension::Emoji, work().as_ref()),
        Source::Stated
    );
    let state = &learner.contexts["work"];
    let cov = state.prior.style_covariance();
    assert!((cov[1] - 0.9).abs() < 1e-12 && (cov[k] - 0.9).abs() < 1e-12);
}

#[test]
fn context_style_covariances_are_validated_and_priors_without_one_still_load() {
    let good = context_correlated_prior();
    assert!(Learner::new(good.clone(), LearnerConfig::default()).is_ok());
    let k = STYLE_FEATURES;
    let mut short = good.clone();
    short.context_style_covariance.pop();
    let mut asymmetric = good.clone();
    asymmetric.context_style_covariance[1] = 0.5;
    let mut mismatched = good.clone();
    mismatched.context_style_covariance[0] = 2.0;
    let mut indefinite = good.clone();
    indefinite.context_style_covariance[1] = 3.0;
    indefinite.context_style_covariance[k] = 3.0;
    let mut without_variances = good.clone();
    without_variances.context_variance.clear();
    let mut not_finite = good.clone();
    not_finite.context_style_covariance[5] = f64::NAN;
    for bad in [
        short,
        asymmetric,
        mismatched,
        indefinite,
        without_variances,
        not_finite,
    ] {
        assert!(matches!(
            Learner::new(bad, LearnerConfig::default()),
            Err(PrefsError::InvalidPrior(_))
        ));
    }
    // A prior sealed before context covariances existed loads with independent offsets.
    let mut old = serde_json::to_value(&good).expect("serializes");
    old.as_object_mut()
        .expect("object")
        .remove("context_style_covariance");
    let back: PopulationPrior = serde_json::from_value(old).expect("parses");
    assert!(back.context_style_covariance.is_empty());
    assert!(Learner::new(back, LearnerConfig::default()).is_ok());
    let json = serde_json::to_string(&good).expect("serializes");
    let again: PopulationPrior = serde_json::from_str(&json).expect("parses");
    assert_eq!(again, good);
}
