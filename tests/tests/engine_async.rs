//! The engine's async face: a generation is a `futures::Stream` on tokio, and dropping it
//! inside a task cancels the generation.

use futures::StreamExt;
use keel::engine::{ChatMessage, FinishReason, GenerationParams, StreamEvent};
use keel_tests::load_engine;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_streams_chunks_then_a_report() {
    let engine = load_engine(512);
    let mut stream = engine
        .generate(
            vec![ChatMessage::user("Name two planets.")],
            GenerationParams::greedy(24),
        )
        .expect("start");
    let mut text = String::new();
    let mut report = None;
    while let Some(event) = stream.next().await {
        match event {
            StreamEvent::Chunk(c) => text.push_str(&c),
            StreamEvent::Done(r) => report = Some(r),
            StreamEvent::Failed(e) => panic!("failed: {e}"),
        }
    }
    let report = report.expect("a final report");
    assert!(!text.is_empty());
    assert!(report.generated_tokens > 0);
    assert!(stream.is_finished());

    // The same answer through the blocking API, from a blocking thread.
    let engine = std::sync::Arc::new(engine);
    let e2 = engine.clone();
    let blocking = tokio::task::spawn_blocking(move || {
        e2.reset_cache().expect("reset");
        e2.generate(
            vec![ChatMessage::user("Name two planets.")],
            GenerationParams::greedy(24),
        )
        .expect("start")
        .collect_blocking()
        .expect("answer")
        .0
    })
    .await
    .expect("join");
    assert_eq!(blocking, text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_stream_in_a_task_cancels_it() {
    let engine = load_engine(512);
    let mut stream = engine
        .generate(
            vec![ChatMessage::user("Write a long story about a fox.")],
            GenerationParams::greedy(400),
        )
        .expect("start");
    let first = stream.next().await;
    assert!(matches!(first, Some(StreamEvent::Chunk(_))));
    let cancel = stream.cancel_handle();
    drop(stream);
    assert!(cancel.is_cancelled());
    // The worker moves on: the next request is answered, and was not stuck behind 400 tokens.
    let mut next = engine
        .generate(
            vec![ChatMessage::user("Say hi.")],
            GenerationParams::greedy(4),
        )
        .expect("start");
    let mut finish = None;
    while let Some(event) = next.next().await {
        if let StreamEvent::Done(r) = event {
            finish = Some(r.finish);
        }
    }
    assert!(matches!(
        finish,
        Some(FinishReason::MaxTokens | FinishReason::EndOfText)
    ));
}
