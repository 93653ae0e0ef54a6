//! Cross-cutting tests of the learner: envelope bounds under any feedback, determinism,
//! rebuild-equals-incremental, the sealed state, lock-in, context offsets and bad input.
//! Full-covariance and mixture priors are tested in `prior_tests.rs`, the evaluation in
//! `eval/tests.rs`.

use proptest::prelude::*;

use crate::prefs::features::{FeatureVector, STYLE_FEATURES};
use crate::prefs::feedback::{ContextKey, Observation};
use crate::prefs::learner::{Learner, LearnerConfig, PopulationPrior};
use crate::prefs::profile::{tests::envelope, Profile, Source};
use crate::safety::personalization::Dimension;

fn features() -> impl Strategy<Value = FeatureVector> {
    prop::array::uniform12(0.0f64..=1.0).prop_map(|style| FeatureVector {
        style,
        embedding: Vec::new(),
    })
}

fn context() -> impl Strategy<Value = Option<ContextKey>> {
    prop::option::of(prop::sample::select(vec!["work", "cooking"]))
        .prop_map(|c| c.map(|k| ContextKey::new(k).expect("valid key")))
}

fn dimension() -> impl Strategy<Value = Dimension> {
    prop::sample::select(Dimension::ALL.to_vec())
}

pub(super) fn observation() -> impl Strategy<Value = Observation> {
    prop_oneof![
        4 => (context(), features(), features(), 0.1f64..=4.0).prop_map(|(context, winner, loser, weight)| {
            Observation::Compare { context, winner, loser, weight }
        }),
        2 => (context(), features(), any::<bool>(), 0.1f64..=1.0).prop_map(|(context, answer, up, weight)| {
            Observation::Rate { context, answer, up, weight }
        }),
        1 => (context(), dimension(), -1e6f64..1e6, any::<bool>()).prop_map(|(context, dimension, lean, stated)| {
            let source = if stated { Source::Stated } else { Source::Edited };
            Observation::SetLean { context, dimension, lean, source }
        }),
        1 => (context(), dimension()).prop_map(|(context, dimension)| Observation::Clear { context, dimension }),
    ]
}

fn learner() -> Learner {
    Learner::new(PopulationPrior::neutral(0), LearnerConfig::default()).expect("valid learner")
}

/// The neutral prior, and one where "work" sets short answers and "cooking" long ones for
/// some people (ADR 0047), so the properties hold with a setting learner too.
fn priors() -> [PopulationPrior; 2] {
    let mut setting = PopulationPrior::neutral(0);
    let mut direction = vec![0.0; STYLE_FEATURES];
    direction[0] = 0.6;
    direction[1] = 0.8;
    setting.context_setting = Some(crate::prefs::ContextSetting {
        share: 0.4,
        direction,
        value: [("work".to_string(), -4.0), ("cooking".to_string(), 4.0)].into(),
    });
    [PopulationPrior::neutral(0), setting]
}

/// A long answer (feature 0 at 0.9, and `more` set) and a short one, every other style
/// feature at `base`.
pub(super) fn long_short(base: f64, more: &[(usize, f64)]) -> (FeatureVector, FeatureVector) {
    let mut style = [base; STYLE_FEATURES];
    style[0] = 0.9;
    for &(i, v) in more {
        style[i] = v;
    }
    let long = FeatureVector {
        style,
        embedding: Vec::new(),
    };
    let short = FeatureVector {
        style: [base; STYLE_FEATURES],
        embedding: Vec::new(),
    };
    (long, short)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_feedback_moves_a_dimension_outside_the_envelope(events in prop::collection::vec(observation(), 0..120)) {
        let e = envelope();
        let fixed = crate::prefs::profile::tests::envelope_with_fixed_humour();
        let contexts = [None, ContextKey::new("work").ok(), ContextKey::new("cooking").ok()];
        for prior in priors() {
        let mut l = Learner::new(prior, LearnerConfig::default()).expect("valid learner");
        for ev in &events {
            l.observe(ev).expect("generated observations are valid");
            for envelope in [&e, &fixed] {
                for c in &contexts {
                    let p = Profile::compile(&l, envelope, c.as_ref());
                    for pref in &p.preferences {
                        let r = envelope.range(pref.dimension);
                        prop_assert!(pref.value >= r.min && pref.value <= r.max, "{:?}", pref);
                        prop_assert!((0.0..=1.0).contains(&pref.confidence));
                    }
                }
            }
            let cap = l.config().mean_cap;
            for c in &contexts {
                let w = l.weights(c.as_ref());
                prop_assert!(w.variance.iter().all(|v| *v > 0.0 && v.is_finite()));
                if c.is_none() {
                    prop_assert!(w.mean.iter().all(|m| m.abs() <= cap));
                }
            }
        }
        }
    }

    #[test]
    fn learning_is_deterministic_and_rebuild_equals_incremental(events in prop::collection::vec(observation(), 0..80)) {
        for prior in priors() {
            let mut incremental = Learner::new(prior.clone(), LearnerConfig::default()).expect("valid");
            for ev in &events {
                incremental.observe(ev).expect("generated observations are valid");
            }
            let rebuilt = Learner::rebuild(prior.clone(), LearnerConfig::default(), &events)
                .expect("valid events");
            let again = Learner::rebuild(prior, LearnerConfig::default(), &events)
                .expect("valid events");
            prop_assert_eq!(&incremental, &rebuilt);
            prop_assert_eq!(&rebuilt, &again);
        }
    }
}

#[test]
fn the_sealed_state_round_trips_and_keeps_learning_alike() {
    let mut l = learner();
    let ctx = ContextKey::new("work").ok();
    let (long, short) = long_short(0.2, &[]);
    let obs = Observation::Compare {
        context: ctx.clone(),
        winner: short.clone(),
        loser: long.clone(),
        weight: 1.0,
    };
    l.observe(&obs).expect("valid");
    let pin = Observation::SetLean {
        context: ctx.clone(),
        dimension: Dimension::Emoji,
        lean: -2.0,
        source: Source::Stated,
    };
    l.observe(&pin).expect("valid");
    let bytes = serde_json::to_vec(&l).expect("serializes");
    let back: Learner = serde_json::from_slice(&bytes).expect("parses");
    let p = |x: &Learner| {
        x.prefer_probability(&short, &long, ctx.as_ref())
            .expect("fits")
    };
    assert!((p(&l) - p(&back)).abs() < 1e-12);
    assert!(p(&l) > 0.5);
    assert_eq!(back.source(Dimension::Emoji, ctx.as_ref()), Source::Stated);
    let profile = Profile::compile(&back, &envelope(), ctx.as_ref());
    let sealed = serde_json::to_vec(&profile).expect("profile serializes");
    let opened: Profile = serde_json::from_slice(&sealed).expect("profile parses");
    assert_eq!(opened.preferences.len(), 7);
}

#[test]
fn no_lock_in_a_long_held_taste_still_turns_around() {
    let mut l = learner();
    let (long, short) = long_short(0.3, &[]);
    let prefer = |w: &FeatureVector, lo: &FeatureVector| Observation::Compare {
        context: None,
        winner: w.clone(),
        loser: lo.clone(),
        weight: 1.0,
    };
    for _ in 0..2000 {
        l.observe(&prefer(&long, &short)).expect("valid");
    }
    let mut turned = None;
    for i in 1..=40 {
        l.observe(&prefer(&short, &long)).expect("valid");
        if l.prefer_probability(&short, &long, None).expect("fits") > 0.5 {
            turned = Some(i);
            break;
        }
    }
    assert!(turned.is_some_and(|i| i <= 20), "{turned:?}");
}

#[test]
fn context_offsets_learn_opposite_tastes_per_context() {
    let mut l = learner();
    let (long, short) = long_short(0.3, &[]);
    let (work, cooking) = (
        ContextKey::new("work").ok(),
        ContextKey::new("cooking").ok(),
    );
    for _ in 0..15 {
        for (c, w, lo) in [(&work, &short, &long), (&cooking, &long, &short)] {
            l.observe(&Observation::Compare {
                context: c.clone(),
                winner: w.clone(),
                loser: lo.clone(),
                weight: 1.0,
            })
            .expect("valid");
        }
    }
    assert!(
        l.prefer_probability(&short, &long, work.as_ref())
            .expect("fits")
            > 0.7
    );
    assert!(
        l.prefer_probability(&long, &short, cooking.as_ref())
            .expect("fits")
            > 0.7
    );
    let e = envelope();
    let at_work = Profile::compile(&l, &e, work.as_ref());
    let cooking_p = Profile::compile(&l, &e, cooking.as_ref());
    assert!(at_work.get(Dimension::Verbosity).value < 0.4);
    assert!(cooking_p.get(Dimension::Verbosity).value > 0.6);
}

#[test]
fn bad_priors_and_configs_are_rejected() {
    let mut prior = PopulationPrior::neutral(0);
    prior.variance.pop();
    assert!(Learner::new(prior, LearnerConfig::default()).is_err());
    let config = LearnerConfig {
        decay_per_event: 0.0,
        ..LearnerConfig::default()
    };
    assert!(Learner::new(PopulationPrior::neutral(0), config).is_err());
    let mut l = learner();
    let bad = FeatureVector {
        style: [0.0; STYLE_FEATURES],
        embedding: vec![1.0, 2.0],
    };
    let obs = Observation::Rate {
        context: None,
        answer: bad,
        up: true,
        weight: 0.5,
    };
    assert!(matches!(
        l.observe(&obs),
        Err(crate::prefs::PrefsError::EmbeddingLength {
            expected: 0,
            got: 2
        })
    ));
    assert_eq!(l, learner(), "a rejected event leaves the state unchanged");
}
