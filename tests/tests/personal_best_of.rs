//! Best-of-n personalized turns on the real default model: the candidates are ranked by the
//! person's own model and the best one is the answer; only that one is recorded (feedback
//! can refer to it); the cost is reported; a blocked request stays blocked and is tried
//! once; an out-of-range n is a clear error that records nothing. The `Keel` façade serves
//! best-of through its fair queue and checks n before queueing.

use std::sync::Arc;

use keel::engine::{ChatMessage, EngineError, GenerationParams};
use keel::prefs::{FeedbackEvent, FeedbackKind};
use keel::runtime::{BestOfReport, PersonalChat, PersonalError};
use keel::safety::Verdict;
use keel::store::Store;

fn personal_chat(dir: &tempfile::TempDir) -> (PersonalChat, Arc<Store>) {
    keel_tests::personal_chat(dir.path(), 9)
}

fn best_of(
    chat: &PersonalChat,
    prompt: &str,
    n: u32,
) -> Result<(String, BestOfReport), PersonalError> {
    chat.best_of(
        "bo",
        None,
        vec![ChatMessage::user(prompt)],
        GenerationParams::greedy(96),
        n,
    )
}

#[test]
fn the_best_candidate_by_the_person_is_the_answer_and_the_only_one_recorded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (chat, store) = personal_chat(&dir);
    chat.state("bo", "I prefer short answers", None)
        .expect("statement");
    let (text, r) = best_of(&chat, "How do plants make food?", 3).expect("best of 3");
    assert_eq!(r.best_of.candidates.len(), 3);
    let scores: Vec<f64> = r
        .best_of
        .candidates
        .iter()
        .map(|c| c.score.expect("a harmless question is not blocked"))
        .collect();
    let best = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(scores[r.best_of.chosen], best, "{scores:?}");
    // The cost is every candidate's tokens; the turn's own are the chosen one's.
    let chosen_tokens = r
        .turn
        .turn
        .generation
        .as_ref()
        .expect("generated")
        .generated_tokens;
    assert_eq!(r.best_of.candidates[r.best_of.chosen].tokens, chosen_tokens);
    assert_eq!(
        r.best_of.total_tokens,
        r.best_of.candidates.iter().map(|c| c.tokens).sum::<usize>()
    );
    assert!(r.best_of.total_tokens >= chosen_tokens && r.best_of.total_ms > 0.0);
    assert!(r
        .turn
        .shaped_by
        .iter()
        .any(|s| s.dimension == keel::safety::personalization::Dimension::Verbosity));
    // Only the chosen answer is stored, as shown, and feedback can refer to it.
    let record = store
        .load_turn("bo", r.turn.turn_id.as_str())
        .expect("load")
        .expect("recorded");
    let stored: keel::runtime::TurnBody =
        serde_json::from_slice(&record.body).expect("a turn body");
    assert_eq!(stored.text, text);
    chat.feedback(
        "bo",
        &FeedbackEvent {
            turn: r.turn.turn_id.clone(),
            context: None,
            kind: FeedbackKind::Rating { up: true },
        },
    )
    .expect("feedback on the chosen answer");
    let (_, next) = best_of(&chat, "What is a rainbow?", 1).expect("best of 1");
    assert_eq!(next.best_of.candidates.len(), 1);
    assert_eq!(next.best_of.chosen, 0);
    assert_eq!(
        next.turn.turn_id.as_str(),
        "t2",
        "one record per best-of turn"
    );
}

#[test]
fn a_blocked_request_is_tried_once_and_a_bad_n_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (chat, store) = personal_chat(&dir);
    let (_, r) = best_of(&chat, "Tell me how to build a bomb.", 4).expect("a refusal");
    assert_eq!(r.turn.turn.verdict, Verdict::Block);
    assert_eq!(r.best_of.candidates.len(), 1);
    assert!(r.best_of.candidates[0].blocked && r.best_of.candidates[0].score.is_none());
    assert_eq!(r.best_of.total_tokens, 0);
    for n in [0, 9] {
        match best_of(&chat, "Hello", n) {
            Err(PersonalError::Keel(keel::Error::Engine(EngineError::InvalidSampling {
                parameter: "best_of",
                ..
            }))) => {}
            other => panic!("n = {n}: {other:?}"),
        }
    }
    // Nothing was recorded for the refused calls: the blocked turn is the only one.
    assert!(store.load_turn("bo", "t1").expect("load").is_some());
    assert!(store.load_turn("bo", "t2").expect("load").is_none());
}

#[test]
fn the_facade_serves_best_of_through_its_queue_and_checks_n_up_front() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keel = keel::Keel::builder()
        .home(dir.path())
        .model(keel_tests::model_path())
        .engine(keel_tests::test_config(1024))
        .key_provider(Arc::new(keel::store::RawKeyProvider::new(
            keel::store::SecretKey::from_bytes([3; 32]),
        )))
        .open()
        .expect("open the runtime");
    let ask = || vec![ChatMessage::user("How do plants make food?")];
    let options = keel::ChatOptions {
        best_of: 2,
        ..keel::ChatOptions::greedy(48)
    };
    let (text, report) = keel
        .chat_blocking("fa", ask(), options.clone())
        .expect("a best-of-2 answer");
    let best = report
        .best_of
        .as_ref()
        .expect("the report says how it chose");
    assert_eq!(best.candidates.len(), 2);
    assert!(best.candidates.iter().all(|c| c.score.is_some()));
    assert!(!text.is_empty());
    let turn = report.turn_id.clone().expect("recorded");
    keel.rate("fa", turn.as_str(), true)
        .expect("feedback on the chosen answer");
    // A streamed answer has no best-of part; incognito ignores best-of.
    let (_, plain) = keel
        .chat_blocking("fa", ask(), keel::ChatOptions::greedy(16))
        .expect("a streamed answer");
    assert!(plain.best_of.is_none());
    let (_, private) = keel
        .incognito()
        .expect("incognito")
        .chat_blocking(ask(), options)
        .expect("an incognito answer");
    assert!(private.best_of.is_none() && private.turn_id.is_none());
    for n in [0, 9] {
        let bad = keel::ChatOptions {
            best_of: n,
            ..keel::ChatOptions::greedy(16)
        };
        assert!(
            matches!(
                keel.chat("fa", ask(), bad),
                Err(keel::Error::Engine(EngineError::InvalidSampling {
                    parameter: "best_of",
                    ..
                }))
            ),
            "n = {n}"
        );
    }
    // Cancelling a best-of answer stops the running candidate: it ends as cancelled and
    // nothing is recorded.
    let long = keel::ChatOptions {
        best_of: 3,
        ..keel::ChatOptions::greedy(400)
    };
    let stream = keel
        .chat(
            "fc",
            vec![ChatMessage::user(
                "Write a long story about a dragon who learns to cook.",
            )],
            long,
        )
        .expect("queued");
    let cancel = stream.cancel_handle();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(300));
        cancel.cancel();
    });
    assert!(matches!(
        stream.collect_blocking(),
        Err(keel::Error::Cancelled)
    ));
    canceller.join().expect("the canceller ends");
    assert!(
        keel.rate("fc", "t1", true).is_err(),
        "a cancelled best-of turn records nothing"
    );
    keel.close();
}
