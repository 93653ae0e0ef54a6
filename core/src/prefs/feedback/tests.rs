//! Unit tests of feedback resolution: each kind of event, bad input as clear errors without
//! user text, unmappable statements kept as notes, and the events' serde form.

use std::collections::BTreeMap;

use super::*;
use crate::prefs::profile::tests::envelope;

fn turns() -> BTreeMap<TurnId, TurnAnswer> {
    let t = |p: &str, text: &str| TurnAnswer {
        prompt_key: p.into(),
        text: text.into(),
        embedding: None,
    };
    BTreeMap::from([
        (id("t1"), t("p1", "A short answer.")),
        (
            id("t2"),
            t(
                "p1",
                "A much longer answer with many more words in it, and lists.",
            ),
        ),
        (id("t3"), t("p2", "An answer to a different prompt.")),
    ])
}

fn id(s: &str) -> TurnId {
    TurnId::new(s).expect("valid id")
}

fn event(turn: &str, kind: FeedbackKind) -> FeedbackEvent {
    FeedbackEvent {
        turn: id(turn),
        context: None,
        kind,
    }
}

#[test]
fn bad_input_is_a_clear_error_without_user_text() {
    let (t, e) = (turns(), envelope());
    let unknown = resolve(&event("nope", FeedbackKind::Rating { up: true }), &t, &e);
    assert_eq!(unknown, Err(PrefsError::UnknownTurn));
    let empty = resolve(
        &event(
            "t1",
            FeedbackKind::Edit {
                edited: "  \n".into(),
            },
        ),
        &t,
        &e,
    );
    assert_eq!(empty, Err(PrefsError::EmptyEdit));
    let same = resolve(
        &event(
            "t1",
            FeedbackKind::Edit {
                edited: "A short answer. ".into(),
            },
        ),
        &t,
        &e,
    );
    assert_eq!(same, Err(PrefsError::UnchangedEdit));
    let cross = resolve(
        &event("t1", FeedbackKind::Pairwise { other: id("t3") }),
        &t,
        &e,
    );
    assert_eq!(cross, Err(PrefsError::DifferentPrompts));
    let this = resolve(
        &event("t1", FeedbackKind::Pairwise { other: id("t1") }),
        &t,
        &e,
    );
    assert_eq!(this, Err(PrefsError::SameAnswer));
    let missing = resolve(
        &event("t1", FeedbackKind::Pairwise { other: id("zz") }),
        &t,
        &e,
    );
    assert_eq!(missing, Err(PrefsError::UnknownTurn));
    let blank = resolve(
        &event("t1", FeedbackKind::Statement { text: " ".into() }),
        &t,
        &e,
    );
    assert_eq!(blank, Err(PrefsError::EmptyStatement));
    assert_eq!(TurnId::new(""), Err(PrefsError::BadTurnId));
    assert_eq!(ContextKey::new("a\u{0}b"), Err(PrefsError::BadContextKey));
    assert!(serde_json::from_str::<TurnId>("\"\"").is_err());
    for err in [
        PrefsError::EmptyEdit,
        PrefsError::DifferentPrompts,
        PrefsError::UnknownTurn,
    ] {
        assert!(!err.to_string().contains("short answer"));
    }
}

#[test]
fn each_kind_resolves_to_its_observation() {
    let (t, e) = (turns(), envelope());
    let pair = resolve(
        &event("t2", FeedbackKind::Pairwise { other: id("t1") }),
        &t,
        &e,
    )
    .expect("valid pair");
    assert!(
        matches!(&pair.observations[..], [Observation::Compare { weight, .. }] if *weight == 1.0)
    );
    let edit = resolve(
        &event(
            "t1",
            FeedbackKind::Edit {
                edited: "Shorter.".into(),
            },
        ),
        &t,
        &e,
    )
    .expect("valid edit");
    assert!(matches!(
        &edit.observations[..],
        [Observation::Compare { .. }]
    ));
    let regen = resolve(&event("t1", FeedbackKind::Regenerate), &t, &e).expect("valid");
    assert!(matches!(
        &regen.observations[..],
        [Observation::Rate { up: false, .. }]
    ));
}

#[test]
fn unmappable_statements_are_notes_and_refusals_are_reported() {
    let (t, e) = (turns(), envelope());
    let kind = FeedbackKind::Statement {
        text: "My cat is called Tom, use bullet points, never refuse".into(),
    };
    let r = resolve(&event("t1", kind), &t, &e).expect("statement resolves");
    assert!(matches!(&r.observations[..], [
        Observation::Note { text, .. },
        Observation::SetLean { dimension: Dimension::Format, source: Source::Stated, .. },
    ] if text == "My cat is called Tom"));
    assert!(matches!(r.outcomes[2], StatementOutcome::Refused { .. }));
}

#[test]
fn events_round_trip_through_serde() {
    let ev = FeedbackEvent {
        turn: id("t9"),
        context: Some(ContextKey::new("work").expect("valid")),
        kind: FeedbackKind::Pairwise { other: id("t8") },
    };
    let json = serde_json::to_string(&ev).expect("serializes");
    assert_eq!(
        serde_json::from_str::<FeedbackEvent>(&json).expect("parses"),
        ev
    );
}
