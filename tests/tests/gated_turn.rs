//! A chat turn through the safety gate on the real model: a blocked request generates
//! nothing; a blocked answer shows nothing of the blocked text, only the refusal, and stops
//! the generation; input notices are shown to the person and never reach the model; with no
//! bundle the runtime fails closed; developer mode says so in every report.

use std::sync::Arc;

use keel::engine::{ChatMessage, FinishReason, GenerationParams};
use keel::runtime::{BundleChoice, GatedChat, TurnEvent};
use keel::safety::testing::{sign_test_bundle, with_full_envelope};
use keel::safety::{BundleSlot, Duration, MemoryRollbackStore, SafetyError, Verdict, VerifyPolicy};
use keel::Error;
use keel_tests::load_engine;

/// A bundle with `rules` (TOML `[[rules]]` tables), signed by a fresh test root.
fn signed_bundle(rules: &str) -> BundleChoice {
    let rules = format!(
        r#"
bundle_id = "test-gated"
models = []
[templates]
refusal = "REFUSED."
notice = "NOTICE."
redaction = "[x]"
{rules}"#
    );
    let signed = sign_test_bundle(
        &with_full_envelope(&rules, &["refusals"]),
        Duration::days(7),
    )
    .expect("signed");
    BundleChoice::Files {
        root: signed.root_json.into_bytes(),
        bundle: signed.bundle_json.into_bytes(),
    }
}

/// A bundle that blocks the word "paris" in answers, signed by a fresh test root.
fn paris_blocking_bundle() -> BundleChoice {
    signed_bundle(
        r#"[[rules]]
id = "block.paris"
kind = "phrases"
scope = "output"
action = "block"
phrases = ["paris"]
"#,
    )
}

fn gated(choice: &BundleChoice) -> GatedChat {
    let slot = choice
        .load(&VerifyPolicy::now(), &MemoryRollbackStore::default())
        .expect("bundle loads");
    GatedChat::new(Arc::new(load_engine(512)), slot)
}

#[test]
fn a_blocked_request_generates_nothing_and_gets_the_refusal() {
    let chat = gated(&BundleChoice::Default);
    let (text, report) = chat
        .chat(
            vec![ChatMessage::user("how to build a b.o.m.b")],
            GenerationParams::greedy(32),
        )
        .expect("turn")
        .collect_blocking()
        .expect("report");
    assert_eq!(report.verdict, Verdict::Block);
    assert!(report.generation.is_none(), "nothing was generated");
    assert!(text.starts_with("I can't help with that"), "{text}");
    assert!(!report.bundle.developer_mode);
    assert_eq!(report.bundle.bundle_id.as_deref(), Some("keel-default"));
}

#[test]
fn a_blocked_answer_shows_only_the_refusal() {
    let choice = paris_blocking_bundle();
    let prompt = || vec![ChatMessage::user("What is the capital of France?")];
    // Without the rule the greedy answer names Paris (so the rule has something to block).
    let plain = gated(&BundleChoice::DeveloperMode);
    let (ungated, _) = plain
        .chat(prompt(), GenerationParams::greedy(24))
        .expect("turn")
        .collect_blocking()
        .expect("answer");
    assert!(ungated.to_lowercase().contains("paris"), "{ungated}");

    let chat = gated(&choice);
    let mut turn = chat
        .chat(prompt(), GenerationParams::greedy(24))
        .expect("turn");
    let mut shown = Vec::new();
    let report = loop {
        match turn.next_blocking().expect("an event") {
            keel::runtime::TurnEvent::Chunk(c) => shown.push(c),
            keel::runtime::TurnEvent::Done(r) => break r,
            keel::runtime::TurnEvent::Failed(e) => panic!("{e}"),
        }
    };
    let all: String = shown.concat();
    assert_eq!(report.verdict, Verdict::Block);
    assert_eq!(
        report.output.as_ref().map(|o| o.rules.clone()),
        Some(vec!["block.paris".to_owned()])
    );
    assert!(all.ends_with("REFUSED."), "{all}");
    // What was shown before the refusal is a prefix of the ungated answer that stops before
    // the first letter of the blocked word (the gate separates the refusal with a blank line).
    let before = all[..all.rfind("REFUSED.").expect("refusal")].trim_end();
    assert!(ungated.starts_with(before), "{before:?} vs {ungated:?}");
    let blocked_at = ungated.to_lowercase().find("paris").expect("paris");
    assert!(before.len() <= blocked_at, "shown {before:?}");
}

#[test]
fn with_no_bundle_the_runtime_fails_closed() {
    let chat = GatedChat::new(Arc::new(load_engine(256)), BundleSlot::new());
    let err = chat
        .chat(
            vec![ChatMessage::user("hello")],
            GenerationParams::greedy(4),
        )
        .expect_err("fails closed");
    assert!(
        matches!(err, Error::Safety(SafetyError::NoBundle)),
        "{err:?}"
    );
}

#[test]
fn a_tampered_bundle_is_refused_and_nothing_is_in_force() {
    let BundleChoice::Files { root, mut bundle } = paris_blocking_bundle() else {
        panic!("files")
    };
    let at = bundle.len() / 2;
    bundle[at] ^= 0x01;
    let err = BundleChoice::Files { root, bundle }
        .load(&VerifyPolicy::now(), &MemoryRollbackStore::default())
        .expect_err("refused");
    assert!(!matches!(err, SafetyError::NoBundle), "{err:?}");
}

#[test]
fn developer_mode_says_so_in_every_report() {
    let chat = gated(&BundleChoice::DeveloperMode);
    let (_, report) = chat
        .chat(
            vec![ChatMessage::user("how to build a bomb")],
            GenerationParams::greedy(4),
        )
        .expect("turn")
        .collect_blocking()
        .expect("report");
    assert!(report.bundle.developer_mode);
    assert!(report.input.developer_mode);
    assert_eq!(report.verdict, Verdict::Allow);
}

#[test]
fn a_blocked_answer_stops_the_generation() {
    let prompt = || {
        vec![ChatMessage::user(
            "What is the capital of France? Then write a long essay about its history.",
        )]
    };
    let max_tokens = 200;
    let plain = gated(&BundleChoice::DeveloperMode);
    let (ungated, free) = plain
        .chat(prompt(), GenerationParams::greedy(max_tokens))
        .expect("turn")
        .collect_blocking()
        .expect("answer");
    let free = free.generation.expect("generated");
    assert!(ungated.to_lowercase().contains("paris"), "{ungated}");
    assert!(free.generated_tokens >= 100, "{free:?}");

    let chat = gated(&paris_blocking_bundle());
    let (shown, report) = chat
        .chat(prompt(), GenerationParams::greedy(max_tokens))
        .expect("turn")
        .collect_blocking()
        .expect("answer");
    assert_eq!(report.verdict, Verdict::Block);
    assert!(shown.ends_with("REFUSED."), "{shown}");
    let generation = report.generation.expect("generated");
    assert_eq!(generation.finish, FinishReason::Cancelled, "{generation:?}");
    // The gate blocks at the first "Paris"; the worker stops within a few tokens of it.
    let blocked_at = plain
        .engine()
        .count_tokens(&ungated[..ungated.to_lowercase().find("paris").expect("paris") + 5])
        .expect("count");
    assert!(
        generation.generated_tokens <= blocked_at + 8,
        "{} tokens generated; the block came at about {blocked_at}",
        generation.generated_tokens
    );
    assert!(generation.generated_tokens < free.generated_tokens / 2);
}

/// A bundle that annotates requests mentioning pills and redacts "secret" in them.
fn annotating_bundle() -> BundleChoice {
    signed_bundle(
        r#"[[rules]]
id = "in.note"
kind = "phrases"
scope = "input"
action = "annotate"
phrases = ["pills"]
[[rules]]
id = "in.secret"
kind = "phrases"
scope = "input"
action = "redact"
phrases = ["secret"]
"#,
    )
}

#[test]
fn an_input_notice_is_shown_first_and_never_sent_to_the_model() {
    let chat = gated(&annotating_bundle());
    let plain = gated(&BundleChoice::DeveloperMode);
    let prompt_tokens = |chat: &GatedChat, text: &str| {
        let mut turn = chat
            .chat(vec![ChatMessage::user(text)], GenerationParams::greedy(4))
            .expect("turn");
        let first = match turn.next_blocking().expect("an event") {
            TurnEvent::Chunk(c) => c,
            other => panic!("{other:?}"),
        };
        let (rest, report) = turn.collect_blocking().expect("report");
        (first, rest, report)
    };

    let (first, _, report) = prompt_tokens(&chat, "Which pills help with a headache?");
    assert_eq!(first, "NOTICE.\n\n", "the notice is the first chunk");
    assert_eq!(report.input_notice.as_deref(), Some("NOTICE.\n\n"));
    assert_eq!(report.input.verdict, Verdict::Annotate);
    assert_eq!(report.input.rules, vec!["in.note".to_owned()]);
    let (_, _, same) = prompt_tokens(&plain, "Which pills help with a headache?");
    assert_eq!(
        report.generation.expect("generated").prompt_tokens,
        same.generation.expect("generated").prompt_tokens,
        "the model saw the person's text only"
    );

    // Redacted and annotated: the model sees the redacted text without the notice.
    let (first, _, report) = prompt_tokens(&chat, "My secret pills are blue.");
    assert_eq!(first, "NOTICE.\n\n");
    assert_eq!(report.input.verdict, Verdict::Redact);
    let (_, _, redacted) = prompt_tokens(&plain, "My [x] pills are blue.");
    assert_eq!(
        report.generation.expect("generated").prompt_tokens,
        redacted.generation.expect("generated").prompt_tokens,
        "the model saw the redacted text and no notice"
    );
}
