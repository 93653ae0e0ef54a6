//! The engine's answers end to end on the real default model: a non-empty answer,
//! reproducible greedy and seeded answers, whole characters across token boundaries, stop
//! sequences, and embeddings.
//!
//! Each test loads its own engine; the llama.cpp backend, which can be initialised only once
//! per process, is shared by all of them through `keel::engine::shared_backend`.

use keel::engine::{ChatMessage, FinishReason, GenerationParams, SamplingParams, Utf8Stream};
use keel_tests::load_engine;

#[test]
fn a_prompt_gets_a_non_empty_answer() {
    let engine = load_engine(1024);
    let (text, report) = engine
        .generate(
            vec![ChatMessage::user("What is the capital of France?")],
            GenerationParams::greedy(32),
        )
        .expect("start")
        .collect_blocking()
        .expect("answer");
    assert!(!text.trim().is_empty());
    assert!(report.generated_tokens > 0);
    assert!(report.prompt_tokens > 5);
}

#[test]
fn greedy_answers_are_reproducible() {
    let engine = load_engine(1024);
    let ask = || {
        engine.reset_cache().expect("reset");
        engine
            .generate(
                vec![ChatMessage::user("Name three colours.")],
                GenerationParams::greedy(40),
            )
            .expect("start")
            .collect_blocking()
            .expect("answer")
            .0
    };
    let first = ask();
    assert!(!first.is_empty());
    assert_eq!(first, ask());
    // Seeded sampling is reproducible too.
    let sampled = |seed| {
        engine.reset_cache().expect("reset");
        let params = GenerationParams {
            max_tokens: 24,
            stop: vec![],
            sampling: SamplingParams {
                temperature: 0.9,
                seed,
                ..SamplingParams::default()
            },
        };
        engine
            .generate(vec![ChatMessage::user("Tell me a short story.")], params)
            .expect("start")
            .collect_blocking()
            .expect("answer")
            .0
    };
    assert_eq!(sampled(7), sampled(7));
}

#[test]
fn multi_byte_characters_split_across_tokens_come_out_whole() {
    let engine = load_engine(512);
    let text = "Crabs 🦀, 日本語, café, naïve — ok";
    let pieces = engine.token_pieces(text).expect("pieces");
    let split = pieces
        .iter()
        .filter(|p| std::str::from_utf8(p).is_err())
        .count();
    assert!(
        split > 0,
        "the test text should split a character across tokens"
    );
    let mut decoder = Utf8Stream::new();
    let mut out = String::new();
    for piece in &pieces {
        out.push_str(&decoder.push(piece));
    }
    out.push_str(&decoder.finish());
    assert_eq!(out.trim_start(), text);

    let (answer, _) = engine
        .generate(
            vec![ChatMessage::user("Repeat exactly: 🦀🦀 日本語")],
            GenerationParams::greedy(24),
        )
        .expect("start")
        .collect_blocking()
        .expect("answer");
    assert!(!answer.contains('\u{fffd}'), "a character was broken");
}

#[test]
fn stop_sequences_end_the_answer_before_the_stop_text() {
    let engine = load_engine(512);
    let prompt = vec![ChatMessage::user("Give me three tips for sleeping better.")];
    let (full, _) = engine
        .generate(prompt.clone(), GenerationParams::greedy(64))
        .expect("start")
        .collect_blocking()
        .expect("answer");
    // Stop at a piece of text the greedy answer is known to contain, past its start.
    let cut = full
        .char_indices()
        .nth(full.chars().count() / 2)
        .map_or(0, |(i, _)| i);
    let stop: String = full[cut..].chars().take(4).collect();
    let expected = &full[..full.find(&stop).expect("the stop text is in the answer")];
    let mut params = GenerationParams::greedy(64);
    params.stop = vec![stop.clone()];
    let (text, report) = engine
        .generate(prompt, params)
        .expect("start")
        .collect_blocking()
        .expect("answer");
    assert_eq!(report.finish, FinishReason::StopSequence);
    assert_eq!(text, expected);
    assert!(!text.contains(&stop));
}

#[test]
fn embeddings_are_normalised_and_put_similar_texts_closer() {
    let engine = load_engine(512);
    let a = engine.embed("How do I bake bread at home?").expect("embed");
    let b = engine
        .embed("What is a good recipe for homemade bread?")
        .expect("embed");
    let c = engine
        .embed("The stock market fell sharply on Tuesday.")
        .expect("embed");
    assert_eq!(a.len(), engine.info().n_embd);
    let dot = |x: &[f32], y: &[f32]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f32>();
    assert!((dot(&a, &a) - 1.0).abs() < 1e-3);
    assert!(
        dot(&a, &b) > dot(&a, &c),
        "similar {} vs unrelated {}",
        dot(&a, &b),
        dot(&a, &c)
    );
    assert_eq!(
        a,
        engine.embed("How do I bake bread at home?").expect("embed")
    );
}
