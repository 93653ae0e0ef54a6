//! The anti-repetition and length-floor sampling options on the real default model: DRY
//! breaks the greedy loops the small model falls into, and `min_tokens` keeps an answer
//! going past where it would have ended (the token budget still ends it).

use keel::bench::steer::repeated_trigram_share;
use keel::engine::{ChatMessage, FinishReason, GenerationParams, SamplingParams};
use keel_tests::load_engine;

#[test]
fn dry_breaks_a_greedy_loop() {
    let engine = load_engine(1024);
    let ask = |sampling: SamplingParams| {
        engine.reset_cache().expect("reset");
        let params = GenerationParams {
            max_tokens: 200,
            stop: vec![],
            sampling,
        };
        engine
            .generate(
                vec![ChatMessage::user("Explain how a bicycle works.")],
                params,
            )
            .expect("start")
            .collect_blocking()
            .expect("answer")
    };
    let (plain, _) = ask(SamplingParams::greedy());
    let (dry, _) = ask(SamplingParams {
        dry_multiplier: 0.8,
        ..SamplingParams::greedy()
    });
    let (before, after) = (repeated_trigram_share(&plain), repeated_trigram_share(&dry));
    assert!(
        before > 0.2,
        "the plain greedy answer loops: {before}\n{plain}"
    );
    assert!(
        after < before / 2.0,
        "DRY halves the repetition: {before} -> {after}\n{dry}"
    );
}

#[test]
fn min_tokens_bars_the_end_until_the_floor() {
    let engine = load_engine(1024);
    let ask = |min_tokens: u32| {
        engine.reset_cache().expect("reset");
        let params = GenerationParams {
            max_tokens: 120,
            stop: vec![],
            sampling: SamplingParams {
                min_tokens,
                dry_multiplier: 0.8,
                ..SamplingParams::greedy()
            },
        };
        engine
            .generate(
                vec![ChatMessage::user(
                    "What is the capital of France? One word.",
                )],
                params,
            )
            .expect("start")
            .collect_blocking()
            .expect("answer")
            .1
    };
    let free = ask(0);
    assert_eq!(free.finish, FinishReason::EndOfText);
    assert!(free.generated_tokens < 20, "{}", free.generated_tokens);
    let floored = ask(40);
    assert!(
        floored.generated_tokens >= 40,
        "{} tokens",
        floored.generated_tokens
    );
    let capped = ask(500);
    assert_eq!(capped.finish, FinishReason::MaxTokens);
    assert_eq!(capped.generated_tokens, 120);
}
