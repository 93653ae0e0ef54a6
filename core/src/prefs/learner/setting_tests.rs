//! Tests of the setting learner (ADR 0047): a person whose taste a context sets is followed
//! there sooner and keeps their own taste elsewhere; a person it does not fit loses the
//! hypothesis; statements in a setting context mean what they say; validation, old states
//! and rebuilding.

use super::*;
use crate::prefs::features::{FeatureVector, StyleFeature};

/// A neutral prior where, for 40% of people, "work" sets short answers (the length weight
/// at −4).
fn work_sets_short() -> PopulationPrior {
    let mut prior = PopulationPrior::neutral(0);
    let mut direction = vec![0.0; STYLE_FEATURES];
    direction[StyleFeature::Length as usize] = 1.0;
    prior
        .context_mean
        .insert("work".to_string(), vec![0.0; STYLE_FEATURES]);
    prior.context_setting = Some(ContextSetting {
        share: 0.4,
        direction,
        value: [("work".to_string(), -4.0)].into(),
    });
    prior
}

fn key(name: &str) -> Option<ContextKey> {
    ContextKey::new(name).ok()
}

/// A long and a short answer that differ in length only.
fn long_and_short() -> (FeatureVector, FeatureVector) {
    let vector = |length: f64| FeatureVector {
        style: std::array::from_fn(|i| if i == 0 { length } else { 0.5 }),
        embedding: Vec::new(),
    };
    (vector(0.9), vector(0.1))
}

fn choose(learner: &mut Learner, context: &str, winner: &FeatureVector, loser: &FeatureVector) {
    learner
        .observe(&Observation::Compare {
            context: key(context),
            winner: winner.clone(),
            loser: loser.clone(),
            weight: 1.0,
        })
        .expect("valid observation");
}

/// A person who likes long answers: ten choices in general, then `work_choices` at work.
fn long_lover(prior: PopulationPrior, short_at_work: bool, work_choices: usize) -> Learner {
    let mut learner = Learner::new(prior, LearnerConfig::default()).expect("valid");
    let (long, short) = long_and_short();
    for _ in 0..10 {
        choose(&mut learner, "general", &long, &short);
    }
    for _ in 0..work_choices {
        if short_at_work {
            choose(&mut learner, "work", &short, &long);
        } else {
            choose(&mut learner, "work", &long, &short);
        }
    }
    learner
}

#[test]
fn a_person_whose_taste_work_sets_is_followed_there_sooner_and_keeps_their_own_elsewhere() {
    let (long, short) = long_and_short();
    let with = long_lover(work_sets_short(), true, 2);
    let without = long_lover(
        PopulationPrior {
            context_setting: None,
            ..work_sets_short()
        },
        true,
        2,
    );
    assert!(with.setting_share() > 0.4, "{}", with.setting_share());
    let short_at_work = |l: &Learner| {
        l.prefer_probability(&short, &long, key("work").as_ref())
            .expect("valid")
    };
    assert!(
        short_at_work(&with) > short_at_work(&without) + 0.05,
        "with {} without {}",
        short_at_work(&with),
        short_at_work(&without)
    );
    assert!(short_at_work(&with) > 0.5);
    let long_in_general = with
        .prefer_probability(&long, &short, key("general").as_ref())
        .expect("valid");
    assert!(long_in_general > 0.8, "{long_in_general}");
}

#[test]
fn a_person_the_setting_does_not_fit_loses_the_hypothesis() {
    let learner = long_lover(work_sets_short(), false, 6);
    assert!(learner.setting_share() < 0.1, "{}", learner.setting_share());
    let (long, short) = long_and_short();
    let long_at_work = learner
        .prefer_probability(&long, &short, key("work").as_ref())
        .expect("valid");
    assert!(long_at_work > 0.8, "{long_at_work}");
}

#[test]
fn a_statement_in_a_setting_context_means_what_it_says_under_both_hypotheses() {
    let mut learner = long_lover(work_sets_short(), true, 2);
    learner
        .observe(&Observation::SetLean {
            context: key("work"),
            dimension: Dimension::Verbosity,
            lean: 1.5,
            source: Source::Stated,
        })
        .expect("valid");
    let setting = learner.setting.as_deref().expect("a setting prior");
    for (name, l) in [("shifting", &learner), ("setting", setting)] {
        let lean = report::lean_of(&l.own_weights(key("work").as_ref()), Dimension::Verbosity).0;
        assert!((lean - 1.5).abs() < 1e-9, "{name}: {lean}");
    }
}

#[test]
fn without_a_setting_there_is_no_setting_learner_and_states_serialize_as_before() {
    let learner = long_lover(PopulationPrior::neutral(0), true, 3);
    assert!(learner.setting.is_none());
    assert_eq!(learner.setting_share(), 0.0);
    let json = serde_json::to_value(&learner).expect("serializes");
    let object = json.as_object().expect("an object");
    for field in ["setting", "sets"] {
        assert!(!object.contains_key(field), "{field}");
    }
    let prior = serde_json::to_value(PopulationPrior::neutral(0)).expect("serializes");
    assert!(!prior
        .as_object()
        .expect("an object")
        .contains_key("context_setting"));
}

#[test]
fn rebuilding_with_a_setting_equals_the_incremental_state_and_a_sealed_state_predicts_alike() {
    let incremental = long_lover(work_sets_short(), true, 4);
    let (long, short) = long_and_short();
    let mut observations = Vec::new();
    for i in 0..14 {
        let (context, winner, loser) = if i < 10 {
            ("general", &long, &short)
        } else {
            ("work", &short, &long)
        };
        observations.push(Observation::Compare {
            context: key(context),
            winner: winner.clone(),
            loser: loser.clone(),
            weight: 1.0,
        });
    }
    let rebuilt = Learner::rebuild(work_sets_short(), LearnerConfig::default(), &observations)
        .expect("valid");
    assert_eq!(rebuilt, incremental);
    let json = serde_json::to_string(&rebuilt).expect("serializes");
    let back: Learner = serde_json::from_str(&json).expect("parses");
    assert!(back.setting.as_deref().is_some_and(|s| s.sets));
    assert!((back.setting_share() - rebuilt.setting_share()).abs() < 1e-9);
    let (long, short) = long_and_short();
    for context in ["work", "general"] {
        let p = |l: &Learner| {
            l.prefer_probability(&short, &long, key(context).as_ref())
                .expect("valid")
        };
        assert!((p(&back) - p(&rebuilt)).abs() < 1e-9, "{context}");
    }
}

#[test]
fn a_rejected_observation_changes_no_learner() {
    let mut learner = long_lover(work_sets_short(), true, 2);
    let before = learner.clone();
    let (long, _) = long_and_short();
    let bad = Observation::Compare {
        context: key("work"),
        winner: long.clone(),
        loser: FeatureVector {
            style: [f64::NAN; STYLE_FEATURES],
            embedding: Vec::new(),
        },
        weight: 1.0,
    };
    assert!(learner.observe(&bad).is_err());
    assert_eq!(learner, before);
}

#[test]
fn context_settings_are_validated() {
    let valid = work_sets_short();
    let setting = valid.context_setting.clone().expect("set");
    let mut not_unit = setting.direction.clone();
    not_unit[1] = 0.5;
    let bad = [
        ContextSetting {
            share: 0.0,
            ..setting.clone()
        },
        ContextSetting {
            share: 1.0,
            ..setting.clone()
        },
        ContextSetting {
            share: f64::NAN,
            ..setting.clone()
        },
        ContextSetting {
            direction: not_unit,
            ..setting.clone()
        },
        ContextSetting {
            direction: vec![1.0],
            ..setting.clone()
        },
        ContextSetting {
            value: BTreeMap::new(),
            ..setting.clone()
        },
        ContextSetting {
            value: [("work".to_string(), 9.0)].into(),
            ..setting.clone()
        },
        ContextSetting {
            value: [("work".to_string(), f64::INFINITY)].into(),
            ..setting.clone()
        },
    ];
    for b in bad {
        let prior = PopulationPrior {
            context_setting: Some(b.clone()),
            ..valid.clone()
        };
        assert!(
            matches!(
                Learner::new(prior, LearnerConfig::default()),
                Err(PrefsError::InvalidPrior(_))
            ),
            "{b:?}"
        );
    }
    assert!(Learner::new(valid, LearnerConfig::default()).is_ok());
}

#[test]
fn under_the_setting_hypothesis_the_set_taste_at_work_is_the_same_whatever_the_own_taste() {
    let (long, short) = long_and_short();
    let person = |likes_long: bool| {
        let mut learner = Learner::new(work_sets_short(), LearnerConfig::default()).expect("valid");
        for _ in 0..20 {
            if likes_long {
                choose(&mut learner, "general", &long, &short);
            } else {
                choose(&mut learner, "general", &short, &long);
            }
        }
        learner
    };
    let (lover, hater) = (person(true), person(false));
    let length = StyleFeature::Length as usize;
    let at_work = |l: &Learner| l.own_weights(key("work").as_ref()).mean[length];
    let setting = |l: &Learner| at_work(l.setting.as_deref().expect("a setting prior"));
    // The context's value, whatever the person likes elsewhere ...
    assert!(
        (setting(&lover) - (-4.0)).abs() < 1e-9,
        "{}",
        setting(&lover)
    );
    assert!(
        (setting(&hater) - (-4.0)).abs() < 1e-9,
        "{}",
        setting(&hater)
    );
    // ... while the shifting hypothesis carries the person's own taste to work.
    assert!(at_work(&lover) > at_work(&hater) + 2.0);
}
