//! Cancellation end to end on the real default model: cancelling or dropping a stream stops
//! it within a few tokens, cancelling during a long prompt (or while queued) returns before
//! the prompt is evaluated, and the engine still answers afterwards.
//!
//! Each test loads its own engine; the llama.cpp backend, which can be initialised only once
//! per process, is shared by all of them through `keel::engine::shared_backend`.

use std::time::Duration;

use keel::engine::{
    ChatMessage, Engine, EngineConfig, FinishReason, GenerationParams, StreamEvent,
};
use keel_tests::{load_engine, model_path, test_config};

/// After a cancellation the engine still answers a short request.
fn assert_still_answers(engine: &Engine) {
    let (text, _) = engine
        .generate(
            vec![ChatMessage::user("Say hello.")],
            GenerationParams::greedy(8),
        )
        .expect("start")
        .collect_blocking()
        .expect("the engine still works");
    assert!(!text.is_empty());
}

#[test]
fn cancellation_stops_the_stream_within_a_few_tokens() {
    let engine = load_engine(1024);
    let prompt = vec![ChatMessage::user(
        "Write a very long essay about the history of the sea.",
    )];
    let mut generation = engine
        .generate(prompt.clone(), GenerationParams::greedy(400))
        .expect("start");
    let mut chunks_before = 0;
    while chunks_before < 3 {
        match generation.next_blocking() {
            Some(StreamEvent::Chunk(_)) => chunks_before += 1,
            other => panic!("expected chunks, got {other:?}"),
        }
    }
    generation.cancel();
    let mut chunks_after = 0;
    let report = loop {
        match generation.next_blocking() {
            Some(StreamEvent::Chunk(_)) => chunks_after += 1,
            Some(StreamEvent::Done(report)) => break report,
            other => panic!("expected the end, got {other:?}"),
        }
    };
    assert_eq!(report.finish, FinishReason::Cancelled);
    assert!(chunks_after <= 3, "{chunks_after} chunks after cancel");
    assert!(
        report.generated_tokens < 20,
        "{} tokens generated",
        report.generated_tokens
    );

    // Dropping a stream cancels it too, and the engine serves the next request.
    let generation = engine
        .generate(prompt, GenerationParams::greedy(400))
        .expect("start");
    std::thread::sleep(Duration::from_millis(50));
    drop(generation);
    assert_still_answers(&engine);
}

#[test]
fn cancelling_during_a_long_prompt_returns_before_it_is_evaluated() {
    // Small batches: the prompt takes many llama.cpp calls, and the cancel flag is checked
    // between them.
    let config = EngineConfig {
        n_batch: 32,
        ..test_config(2048)
    };
    let engine = Engine::load(&model_path(), config).expect("load");
    let long = vec![ChatMessage::user(
        "Summarise this text. ".to_owned() + &"The sea was calm and grey that day. ".repeat(150),
    )];

    // Cancelled right after submitting: the worker stops between prompt batches.
    let generation = engine
        .generate(long.clone(), GenerationParams::greedy(64))
        .expect("start");
    generation.cancel();
    let (text, report) = generation.collect_blocking().expect("a report");
    assert_eq!(report.finish, FinishReason::Cancelled);
    assert!(text.is_empty(), "{text:?}");
    assert_eq!(report.generated_tokens, 0);
    assert!(report.prompt_tokens > 1000, "{report:?}");
    assert!(
        report.evaluated_tokens < report.prompt_tokens / 2,
        "evaluated {} of {} prompt tokens after cancelling",
        report.evaluated_tokens,
        report.prompt_tokens
    );

    // Cancelled while still queued behind another request: nothing of it is evaluated.
    engine.reset_cache().expect("reset");
    let ahead = engine
        .generate(
            vec![ChatMessage::user("Name three colours.")],
            GenerationParams::greedy(32),
        )
        .expect("start");
    let queued = engine
        .generate(long, GenerationParams::greedy(64))
        .expect("start");
    queued.cancel();
    let (_, first) = ahead.collect_blocking().expect("the first answer");
    assert!(first.generated_tokens > 0);
    let (_, report) = queued.collect_blocking().expect("a report");
    assert_eq!(report.finish, FinishReason::Cancelled);
    assert_eq!(report.evaluated_tokens, 0, "{report:?}");
    assert_eq!(report.generated_tokens, 0);

    // The engine still answers, reusing whatever prefix is cached.
    assert_still_answers(&engine);
}
