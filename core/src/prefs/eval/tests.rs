//! Tests of the evaluation at a small size: personalized against aggregated on the simulated
//! population, and the external pairs format (splits, ties, bad lines, a population that
//! agrees).

use crate::prefs::eval::simulated::{evaluate, SimConfig};
use crate::prefs::features::FeatureVector;
use crate::prefs::learner::LearnerConfig;

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
    assert!(r.personalized_acc >= r.aggregated_acc, "{r:?}");
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

/// The simulated population's people at `events` choices each (the `keel eval prefs` draw).
fn simulated_people(seed: u64, people: usize, events: usize) -> Vec<Vec<super::Choice>> {
    use crate::prefs::eval::population::{draw_choices, SimPerson};
    use crate::prefs::eval::rng::SplitMix64;
    (0..people)
        .map(|i| {
            let mut rng = SplitMix64::new(seed, i as u64);
            let person = SimPerson::draw(&mut rng);
            draw_choices(&person, events, &mut rng)
                .into_iter()
                .map(|c| c.choice)
                .collect()
        })
        .collect()
}

#[test]
fn the_fit_finds_that_work_sets_short_answers_and_cooking_long_ones() {
    use crate::prefs::eval::fit::fit_population;
    use crate::prefs::features::StyleFeature;
    let people = simulated_people(11, 120, 50);
    let slices: Vec<&[super::Choice]> = people.iter().map(Vec::as_slice).collect();
    let prior = fit_population(&slices, &LearnerConfig::default()).prior;
    let setting = prior
        .context_setting
        .expect("the simulated contexts set length");
    // The direction is mostly the length features (length and paragraphs), signed to longer.
    let u = &setting.direction;
    let length =
        u[StyleFeature::Length as usize].powi(2) + u[StyleFeature::Paragraphs as usize].powi(2);
    assert!(length > 0.6, "{u:?}");
    assert!(u[StyleFeature::Paragraphs as usize] > 0.0, "{u:?}");
    let value = |c: &str| setting.value.get(c).copied();
    assert!(value("work").is_some_and(|v| v < -2.0), "{setting:?}");
    assert!(value("cooking").is_some_and(|v| v > 2.0), "{setting:?}");
    assert!(value("general").is_none(), "{setting:?}");
    assert!(setting.share > 0.1 && setting.share < 0.7, "{setting:?}");
}

#[test]
fn without_contexts_no_setting_is_fitted() {
    use crate::prefs::eval::fit::fit_population;
    let people: Vec<Vec<super::Choice>> = simulated_people(12, 60, 20)
        .into_iter()
        .map(|p| {
            p.into_iter()
                .map(|c| super::Choice { context: None, ..c })
                .collect()
        })
        .collect();
    let slices: Vec<&[super::Choice]> = people.iter().map(Vec::as_slice).collect();
    let prior = fit_population(&slices, &LearnerConfig::default()).prior;
    assert!(prior.context_setting.is_none());
}
