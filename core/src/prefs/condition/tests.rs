//! Unit tests of conditioning: a neutral profile changes nothing, concise and detailed
//! profiles shape the budget, the floor and the preamble, a turn's own length instruction is
//! recognised, the preamble is stable, and ranking follows the person's model.

use super::*;
use crate::prefs::features::extract;
use crate::prefs::learner::{LearnerConfig, PopulationPrior};
use crate::prefs::profile::{edit_preference, tests::envelope};

fn learner_with(edits: &[(Dimension, f64)]) -> Learner {
    let e = envelope();
    let mut l =
        Learner::new(PopulationPrior::neutral(0), LearnerConfig::default()).expect("valid learner");
    for &(d, v) in edits {
        l.observe(&edit_preference(d, v, None, &e).expect("allowed"))
            .expect("applies");
    }
    l
}

fn conditioning(edits: &[(Dimension, f64)]) -> Conditioning {
    let e = envelope();
    let profile = Profile::compile(&learner_with(edits), &e, None);
    compile(&profile, &e, &ConditioningBase::default())
}

#[test]
fn a_neutral_profile_changes_nothing() {
    let c = conditioning(&[]);
    assert_eq!(c.preamble, "");
    assert_eq!(c.max_tokens, ConditioningBase::default().max_tokens);
    assert!(c.shaped_by.is_empty());
}

#[test]
fn concise_asks_for_brevity_with_a_short_budget_and_detailed_for_substance() {
    let concise = conditioning(&[(Dimension::Verbosity, 0.15)]);
    assert!(concise.preamble.contains("Answer briefly"));
    assert!(concise.preamble.contains("ends on a full sentence"));
    // The length is in words, not digits (a small model starts counting at digits).
    assert!(!concise.preamble.chars().any(|c| c.is_ascii_digit()));
    assert!(concise.max_tokens <= 120, "{}", concise.max_tokens);
    let words = concise.target_words.expect("target");
    assert!(f64::from(concise.max_tokens) >= f64::from(words) * 1.3 * 1.5);
    let detailed = conditioning(&[(Dimension::Verbosity, 0.9)]);
    assert!(detailed.preamble.contains("never repeat yourself"));
    assert!(detailed.max_tokens >= 512);
    assert!(detailed.repeat_penalty > concise.repeat_penalty);
}

#[test]
fn every_profile_gets_the_anti_loop_floor_and_a_caller_may_ask_for_more() {
    for edits in [
        vec![],
        vec![(Dimension::Verbosity, 0.15)],
        vec![(Dimension::Verbosity, 0.9)],
    ] {
        assert_eq!(conditioning(&edits).dry_multiplier, ANTI_LOOP_DRY);
    }
    let e = envelope();
    let profile = Profile::compile(&learner_with(&[]), &e, None);
    let strong = ConditioningBase {
        dry_multiplier: 2.0,
        ..ConditioningBase::default()
    };
    assert_eq!(compile(&profile, &e, &strong).dry_multiplier, 2.0);
}

#[test]
fn only_a_detailed_answer_has_a_length_floor_at_its_target_within_its_budget() {
    assert_eq!(conditioning(&[]).min_tokens, 0);
    assert_eq!(conditioning(&[(Dimension::Verbosity, 0.15)]).min_tokens, 0);
    let detailed = conditioning(&[(Dimension::Verbosity, 0.9)]);
    let words = detailed.target_words.expect("target");
    assert_eq!(detailed.min_tokens, (f64::from(words) * 1.3).floor() as u32);
    assert!(detailed.min_tokens > 300, "{}", detailed.min_tokens);
    assert!(detailed.min_tokens < detailed.max_tokens);
    assert!(detailed
        .preamble
        .contains(&format!("at least {words} words")));
}

#[test]
fn a_turn_that_states_a_length_is_recognised() {
    let e = envelope();
    assert!(states_a_length("Answer in one short sentence.", &e));
    assert!(states_a_length(
        "Answer thoroughly, in several detailed paragraphs with examples.",
        &e
    ));
    assert!(!states_a_length("You are a helpful cooking assistant.", &e));
    assert!(!states_a_length("Use bullet points.", &e));
}

#[test]
fn the_preamble_is_stable_and_ordered() {
    let a = conditioning(&[(Dimension::Emoji, 0.0), (Dimension::Formality, 0.9)]);
    let b = conditioning(&[(Dimension::Formality, 0.9), (Dimension::Emoji, 0.0)]);
    assert_eq!(a.preamble, b.preamble);
    let formal = a.preamble.find("formal").expect("formality named");
    assert_eq!(a.shaped_by.len(), 1, "emoji at its default 0 is no shift");
    assert!(formal > 0);
}

#[test]
fn ranking_follows_the_model_and_explains_itself() {
    let l = learner_with(&[(Dimension::Verbosity, 0.1)]);
    let long = extract(&"Bread rises because yeast makes gas in the dough. ".repeat(20));
    let short = extract("Yeast makes gas, so bread rises.");
    let ranked = rank(&l, None, &[long, short]).expect("ranks");
    assert_eq!(ranked[0].index, 1);
    let (d, amount) = ranked[0].contributions[0];
    assert_eq!(d, Dimension::Verbosity);
    assert!(amount > 0.0);
}
