//! Cross-cutting tests of the learner: envelope bounds under any feedback, determinism,
//! rebuild-equals-incremental, and the evaluation targets at a small size.

use proptest::prelude::*;

use crate::prefs::eval::simulated::{evaluate, SimConfig};
use crate::prefs::features::{FeatureVector, STYLE_FEATURES};
use crate::prefs::feedback::{ContextKey, Observation};
use crate::prefs::learner::{Learner, LearnerConfig, PopulationPrior, StyleComponent};
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

fn observation() -> impl Strategy<Value = Observation> {
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_feedback_moves_a_dimension_outside_the_envelope(events in prop::collection::vec(observation(), 0..120)) {
        let e = envelope();
        let fixed = crate::prefs::profile::tests::envelope_with_fixed_humour();
        let mut l = learner();
        let contexts = [None, ContextKey::new("work").ok(), ContextKey::new("cooking").ok()];
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
            let w = l.weights(None);
            let cap = l.config().mean_cap;
            prop_assert!(w.mean.iter().all(|m| m.abs() <= cap));
            prop_assert!(w.variance.iter().all(|v| *v > 0.0 && v.is_finite()));
        }
    }

    #[test]
    fn learning_is_deterministic_and_rebuild_equals_incremental(events in prop::collection::vec(observation(), 0..80)) {
        let mut incremental = learner();
        for ev in &events {
            incremental.observe(ev).expect("generated observations are valid");
        }
        let rebuilt = Learner::rebuild(PopulationPrior::neutral(0), LearnerConfig::default(), &events)
            .expect("valid events");
        let again = Learner::rebuild(PopulationPrior::neutral(0), LearnerConfig::default(), &events)
            .expect("valid events");
        prop_assert_eq!(&incremental, &rebuilt);
        prop_assert_eq!(&rebuilt, &again);
    }
}

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

/// A long answer (feature 0 at 0.9, and `more` set) and a short one, every other style
/// feature at `base`.
fn long_short(base: f64, more: &[(usize, f64)]) -> (FeatureVector, FeatureVector) {
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

#[test]
fn personalized_beats_aggregated_on_the_small_simulated_population() {
    let r = evaluate(&SimConfig::small(11));
    let (p, a) = (r.personalized_acc["20"], r.aggregated_acc["20"]);
    assert!(
        p >= a + 0.10,
        "personalized {p:.3} vs aggregated {a:.3} at 20 events: {r:?}"
    );
    for k in ["5", "10", "20", "50"] {
        assert!(r.personalized_acc[k] >= r.aggregated_acc[k], "{k}: {r:?}");
        assert!(r.oracle_acc[k] > r.personalized_acc[k], "{k}: {r:?}");
    }
    assert!(
        r.personalized_acc["50"] > r.personalized_acc["5"] + 0.03,
        "{r:?}"
    );
    let curve = &r.recovery_curve;
    assert!(
        curve[30] > curve[0] + 0.3,
        "the learner follows a flipped taste: {curve:?}"
    );
}

#[test]
fn external_pairs_are_split_per_person_with_ties_and_bad_lines_counted() {
    use crate::prefs::eval::external::evaluate_jsonl;
    use crate::prefs::eval::population::{draw_choices, SimPerson};
    use crate::prefs::eval::rng::SplitMix64;
    let mut jsonl = String::new();
    for user in 0..40u64 {
        let mut rng = SplitMix64::new(5, user);
        let person = SimPerson::draw(&mut rng);
        for (i, c) in draw_choices(&person, 30, &mut rng).iter().enumerate() {
            let text = |f: &FeatureVector| synthetic_text(f);
            let (a, b, winner) = if i % 2 == 0 {
                (text(&c.choice.winner), text(&c.choice.loser), "a")
            } else {
                (text(&c.choice.loser), text(&c.choice.winner), "b")
            };
            let line = serde_json::json!({"user": format!("u{user}"), "prompt": "p", "a": a, "b": b, "winner": winner});
            jsonl.push_str(&line.to_string());
            jsonl.push('\n');
        }
    }
    jsonl.push_str(
        "{\"user\":\"u1\",\"prompt\":\"p\",\"a\":\"x\",\"b\":\"y\",\"winner\":\"tie\"}\n",
    );
    jsonl.push_str(
        "not json\n{\"user\":\"u1\",\"prompt\":\"p\",\"a\":\"x\",\"b\":\"y\",\"winner\":\"c\"}\n",
    );
    jsonl
        .push_str("{\"user\":\"u1\",\"prompt\":\"p\",\"a\":\"\",\"b\":\"y\",\"winner\":\"a\"}\n\n");
    let r = evaluate_jsonl(jsonl.as_bytes(), &LearnerConfig::default()).expect("reads");
    assert_eq!(
        (r.users, r.pairs, r.ties, r.bad_lines, r.test_pairs),
        (40, 1200, 1, 3, 600)
    );
    assert!(r.personalized_acc >= r.aggregated_acc, "{r:?}");
}

#[test]
fn on_a_population_that_agrees_personalizing_costs_nothing() {
    use crate::prefs::eval::external::evaluate_jsonl;
    use crate::prefs::eval::population::{draw_choices, SimPerson};
    use crate::prefs::eval::rng::SplitMix64;
    let everyone = SimPerson::draw(&mut SplitMix64::new(9, 0));
    let mut jsonl = String::new();
    for user in 0..40u64 {
        let mut rng = SplitMix64::new(9, user + 1);
        for c in draw_choices(&everyone, 20, &mut rng) {
            let line = serde_json::json!({"user": format!("u{user}"), "prompt": "p",
                "a": synthetic_text(&c.choice.winner), "b": synthetic_text(&c.choice.loser), "winner": "a"});
            jsonl.push_str(&line.to_string());
            jsonl.push('\n');
        }
    }
    let r = evaluate_jsonl(jsonl.as_bytes(), &LearnerConfig::default()).expect("reads");
    assert!(r.personalized_acc >= r.aggregated_acc - 0.005, "{r:?}");
}

/// Text whose extracted features approximate `f` well enough for the external-format tests:
/// sentences of a length and count following the length features, list lines, emoji.
fn synthetic_text(f: &FeatureVector) -> String {
    use crate::prefs::features::StyleFeature as F;
    let sentences = 1 + (f.get(F::Length) * 10.0) as usize;
    let words = 4 + (f.get(F::SentenceLength) * 20.0) as usize;
    let list = f.get(F::ListShare) > 0.5;
    let mut out = String::new();
    for i in 0..sentences {
        if list {
            out.push_str("- ");
        }
        let opener = if f.get(F::Formality) > 0.5 {
            "However "
        } else {
            "Okay "
        };
        out.push_str(opener);
        out.push_str(&vec!["word"; words].join(" "));
        out.push('.');
        if f.get(F::Emoji) > 0.3 && i % 2 == 0 {
            out.push_str(" 🙂");
        }
        out.push(if list { '\n' } else { ' ' });
    }
    out
}
