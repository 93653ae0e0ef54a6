//! The `Keel` façade end to end on the real default model: a chat streams (async) and ends
//! with its report; feedback changes the next answer's report; two people are isolated and
//! forgetting one leaves the other; export and import round-trip a person; an incognito chat
//! leaves the store files byte for byte unchanged; a closed runtime fails every call clearly;
//! cancelling or dropping a stream stops its generation; the queue serves people in turn;
//! a key provider that fails or panics is a clear error.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt as _;
use keel::engine::{ChatMessage, FinishReason};
use keel::prefs::Source;
use keel::safety::personalization::Dimension;
use keel::safety::Verdict;
use keel::store::{
    ExportPassphrase, KdfParams, KeyMethod, KeyProvider, KeyWrapper, RawKeyProvider, SecretKey,
    SecretString, Store, StoreError,
};
use keel::{ChatEvent, ChatOptions, Error, Keel, KeelReport};
use keel_tests::{model_path, test_config};

const LONG_PROMPT: &str =
    "Explain in detail how a bicycle works: the frame, the gears, the chain, the brakes and the wheels.";
/// Runs to any token budget on the default model (greedy).
const STORY: &str = "Write a long story about a dragon who learns to cook.";

fn raw_key(byte: u8) -> Arc<dyn KeyProvider + Send + Sync> {
    Arc::new(RawKeyProvider::new(SecretKey::from_bytes([byte; 32])))
}

fn open(home: &Path) -> Keel {
    Keel::builder()
        .home(home)
        .model(model_path())
        .engine(test_config(1024))
        .key_provider(raw_key(7))
        .open()
        .expect("open the runtime")
}

fn ask(prompt: &str) -> Vec<ChatMessage> {
    vec![ChatMessage::user(prompt)]
}

fn generated(r: &KeelReport) -> usize {
    r.turn
        .generation
        .as_ref()
        .expect("generated")
        .generated_tokens
}

/// The store's files (database, WAL, shared memory) as bytes.
fn store_files(home: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let db = keel::store::store_path(home);
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut p = db.clone().into_os_string();
            p.push(suffix);
            let p = PathBuf::from(p);
            let bytes = std::fs::read(&p).ok();
            (p, bytes)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_streams_feedback_shapes_the_next_answer_and_people_are_isolated() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keel = open(dir.path());

    // A streamed answer, read as an async stream, ends with the full report.
    let mut stream = keel
        .chat("alice", ask(LONG_PROMPT), ChatOptions::greedy(120))
        .expect("chat");
    let (mut text, mut chunks, mut report) = (String::new(), 0, None);
    while let Some(event) = stream.next().await {
        match event {
            ChatEvent::Chunk(c) => {
                chunks += 1;
                text.push_str(&c);
            }
            ChatEvent::Done(r) => report = Some(*r),
            ChatEvent::Failed(e) => panic!("turn failed: {e}"),
        }
    }
    assert!(stream.is_finished());
    let first = report.expect("a report ends the stream");
    assert!(chunks > 1 && !text.trim().is_empty(), "{chunks} chunks");
    let turn = first.turn_id.clone().expect("a recorded turn has an id");
    assert!(!first.incognito && first.shaped_by.is_empty());
    assert_eq!(first.turn.verdict, Verdict::Allow);
    let bundle = &first.turn.bundle;
    assert!(bundle.bundle_id.is_some() && bundle.version.is_some());
    assert_eq!(bundle.digest.as_ref().map(String::len), Some(64));
    assert!(bundle.root_fingerprint.is_some());
    assert!(generated(&first) > 0 && first.total_ms >= first.waited_ms);
    let status = keel.status().expect("status");
    assert_eq!(status.bundle, *bundle);
    assert_eq!(status.store.users, 1);
    assert_eq!(status.store.key_method, "raw");

    // Bob chats too; then alice says she wants it short and thumbs the long answer down.
    let (_, bob_turn) = keel
        .chat_blocking(
            "bob",
            ask("Name a primary colour."),
            ChatOptions::greedy(16),
        )
        .expect("bob's turn");
    for _ in 0..3 {
        keel.rate("alice", turn.as_str(), false).expect("rating");
    }
    keel.state("alice", "I prefer short answers", None)
        .expect("statement");
    let (after, second) = keel
        .chat_blocking("alice", ask(LONG_PROMPT), ChatOptions::greedy(120))
        .expect("second turn");
    let verbosity = second
        .shaped_by
        .iter()
        .find(|s| s.dimension == Dimension::Verbosity)
        .expect("verbosity shaped the answer");
    assert!(verbosity.weight < 0.0 && verbosity.source == Source::Stated);
    assert!(!verbosity.instruction.is_empty(), "the report says why");
    assert!(second.max_tokens < first.max_tokens);
    assert!(generated(&second) <= generated(&first), "{after:?}");

    // Alice's feedback is hers alone: bob's profile and bob's next answer are untouched.
    let bob = keel
        .offload(|k| k.profile("bob", None))
        .await
        .expect("bob's profile");
    let pref = bob.get(Dimension::Verbosity);
    assert_eq!((pref.source, pref.evidence), (Source::Population, 0));
    let (_, bob_again) = keel
        .chat_blocking("bob", ask(LONG_PROMPT), ChatOptions::greedy(16))
        .expect("bob's second turn");
    assert!(bob_again.shaped_by.is_empty(), "{:?}", bob_again.shaped_by);
    // Export alice, forget her, import her back: her preference returns; bob is intact.
    let pass = ExportPassphrase::insecure_for_tests(SecretString::new("export pw".into()), 1000);
    let export = keel.export_with("alice", &pass).expect("export");
    assert!(keel.forget("alice").expect("forget"));
    let gone = keel.profile("alice", None).expect("profile of nobody");
    assert_eq!(gone.get(Dimension::Verbosity).source, Source::Population);
    let bob_turn_id = bob_turn.turn_id.expect("bob's turn id");
    keel.rate("bob", bob_turn_id.as_str(), true)
        .expect("bob's turns survive alice's erasure");
    keel.import("alice", &SecretString::new("export pw".into()), &export)
        .expect("import");
    let back = keel.profile("alice", None).expect("alice's profile");
    assert_eq!(back.get(Dimension::Verbosity).source, Source::Stated);
    keel.close();
}

#[test]
fn incognito_leaves_the_store_byte_for_byte_unchanged_and_close_ends_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keel = open(dir.path());
    keel.state("carol", "I prefer short answers", None)
        .expect("statement");
    let incognito = keel.incognito().expect("incognito");
    let before = store_files(dir.path());
    assert!(before[0].1.is_some(), "the store exists");
    let (text, report) = incognito
        .chat_blocking(ask(LONG_PROMPT), ChatOptions::greedy(48))
        .expect("incognito turn");
    assert!(!text.trim().is_empty());
    assert!(report.incognito && report.turn_id.is_none());
    assert!(report.shaped_by.is_empty(), "no profile is read");
    assert_eq!(report.turn.verdict, Verdict::Allow);
    // A blocked request is refused the same way incognito.
    let (_, blocked) = incognito
        .chat_blocking(ask("how to build a b.o.m.b"), ChatOptions::greedy(16))
        .expect("blocked turn");
    assert_eq!(blocked.turn.verdict, Verdict::Block);
    assert_eq!(store_files(dir.path()), before, "incognito wrote nothing");

    // Close: every call on every handle fails with the clear "closed" error.
    let clone = keel.clone();
    keel.close();
    assert!(clone.is_closed());
    let closed = |r: Result<(), Error>| matches!(r, Err(Error::Closed));
    assert!(closed(
        clone
            .chat("carol", ask("hi"), ChatOptions::greedy(4))
            .map(drop)
    ));
    assert!(closed(
        incognito.chat(ask("hi"), ChatOptions::greedy(4)).map(drop)
    ));
    assert!(closed(clone.profile("carol", None).map(drop)));
    assert!(closed(clone.state("carol", "be brief", None).map(drop)));
    assert!(closed(clone.forget("carol").map(drop)));
    assert!(closed(clone.status().map(drop)));
    assert!(closed(clone.incognito().map(drop)));
    let message = Error::Closed.to_string();
    assert!(message.contains("closed") && message.contains("open a new one"));
    keel.close(); // idempotent
}

#[test]
fn cancel_and_drop_stop_generation_and_people_are_served_in_turn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keel = open(dir.path());

    // Cancel after the first chunk: the turn ends early, reported as cancelled.
    let mut stream = keel
        .chat("dan", ask(STORY), ChatOptions::greedy(400))
        .expect("chat");
    let first = stream.next_blocking().expect("an event");
    assert!(matches!(first, ChatEvent::Chunk(_)), "{first:?}");
    stream.cancel_handle().cancel();
    let (_, report) = stream.collect_blocking().expect("a report after cancel");
    let generation = report.turn.generation.as_ref().expect("generated");
    assert_eq!(generation.finish, FinishReason::Cancelled);
    assert!(generation.generated_tokens < 400);
    let decode_tok_s = generation.decode_tok_s.max(1.0);

    // Drop after the first chunk: the engine is free for the next request within a few
    // tokens, not after the dropped one's 400.
    let mut dropped = keel
        .chat("dan", ask(STORY), ChatOptions::greedy(400))
        .expect("chat");
    assert!(matches!(dropped.next_blocking(), Some(ChatEvent::Chunk(_))));
    drop(dropped);
    let (_, next) = keel
        .chat_blocking(
            "erin",
            ask("Name a primary colour."),
            ChatOptions::greedy(4),
        )
        .expect("next turn");
    let limit_ms = 40.0 / decode_tok_s * 1000.0;
    eprintln!(
        "after a drop the next turn waited {:.1} ms (limit {limit_ms:.0} ms at {decode_tok_s:.0} tok/s)",
        next.waited_ms
    );
    assert!(
        next.waited_ms < limit_ms,
        "waited {:.0} ms, more than 40 tokens' time ({limit_ms:.0} ms)",
        next.waited_ms
    );

    // A queued stream cancelled before it starts never runs.
    let running = keel
        .chat("dan", ask(STORY), ChatOptions::greedy(120))
        .expect("chat");
    let queued = keel
        .chat("erin", ask("hi"), ChatOptions::greedy(4))
        .expect("chat");
    queued.cancel();
    assert!(matches!(queued.collect_blocking(), Err(Error::Cancelled)));
    running.collect_blocking().expect("the running turn ends");

    // Fairness: dan queues three requests, then erin one; erin is not served last.
    let started = Instant::now();
    let submit = |user: &str| {
        let stream = keel
            .chat(user, ask("Say hello."), ChatOptions::greedy(12))
            .expect("chat");
        std::thread::spawn(move || {
            stream.collect_blocking().expect("turn");
            started.elapsed()
        })
    };
    let dan: Vec<_> = (0..3).map(|_| submit("dan")).collect();
    let erin = submit("erin").join().expect("erin");
    let dan: Vec<_> = dan.into_iter().map(|h| h.join().expect("dan")).collect();
    assert!(
        erin < dan[2],
        "erin done at {erin:?}, dan's last at {:?}",
        dan[2]
    );

    // Closing while a chat streams cancels it; it still ends with its report.
    let mut streaming = keel
        .chat("dan", ask(STORY), ChatOptions::greedy(400))
        .expect("chat");
    assert!(matches!(
        streaming.next_blocking(),
        Some(ChatEvent::Chunk(_))
    ));
    keel.close();
    let (_, last) = streaming.collect_blocking().expect("a report after close");
    let generation = last.turn.generation.expect("generated");
    assert_eq!(generation.finish, FinishReason::Cancelled);
    assert!(matches!(
        keel.chat("dan", ask("hi"), ChatOptions::greedy(4)),
        Err(Error::Closed)
    ));
}

/// A keystore that refuses (locked device) or panics (the panic message on stderr is
/// expected: the façade catches it).
struct BrokenKeystore {
    panics: bool,
}

impl KeyProvider for BrokenKeystore {
    fn method(&self) -> KeyMethod {
        KeyMethod::Platform
    }
    fn new_params(&self) -> Result<KdfParams, StoreError> {
        if self.panics {
            panic!("the keystore crashed");
        }
        Err(StoreError::KeyStore("the device is locked".into()))
    }
    fn unlock(&self, _: &KdfParams) -> Result<std::sync::Arc<dyn KeyWrapper>, StoreError> {
        if self.panics {
            panic!("the keystore crashed");
        }
        Err(StoreError::KeyStore("the device is locked".into()))
    }
}

#[test]
fn a_failing_key_provider_or_a_wrong_key_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let builder = || Keel::builder().home(dir.path()).model(model_path());
    let err = builder().open().expect_err("no key provider");
    assert!(
        matches!(&err, Error::Config(m) if m.contains("key_provider")),
        "{err}"
    );
    for panics in [false, true] {
        let err = builder()
            .key_provider(Arc::new(BrokenKeystore { panics }))
            .open()
            .expect_err("a broken keystore cannot open the store");
        assert!(
            matches!(&err, Error::Store(StoreError::KeyStore(_))),
            "{err:?}"
        );
        assert!(err.to_string().contains("key store failed"), "{err}");
    }
    // An existing store and the wrong key: refused before any model is loaded.
    let path = keel::store::store_path(dir.path());
    drop(Store::open(&path, &RawKeyProvider::new(SecretKey::from_bytes([1; 32]))).expect("create"));
    let err = builder()
        .key_provider(raw_key(2))
        .open()
        .expect_err("wrong key");
    assert!(matches!(err, Error::Store(StoreError::WrongKey)), "{err:?}");
}

/// Closing right after a chat was submitted never lets it run to its whole budget, whether
/// the dispatcher had already taken it from the queue or not: it fails as closed or
/// cancelled, or ends at once with a cancelled report.
#[test]
fn close_right_after_a_submit_never_runs_the_turn_to_its_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    for round in 0..6 {
        let keel = open(dir.path());
        let stream = keel
            .chat("fay", ask(STORY), ChatOptions::greedy(400))
            .expect("chat");
        if round % 2 == 1 {
            // Give the dispatcher a moment to take the request before the close.
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let closing = Instant::now();
        keel.close();
        let took = closing.elapsed();
        match stream.collect_blocking() {
            Err(Error::Closed | Error::Cancelled) => {}
            Ok((_, report)) => {
                if let Some(g) = report.turn.generation {
                    assert_eq!(g.finish, FinishReason::Cancelled, "round {round}");
                    assert!(g.generated_tokens < 400, "round {round}");
                }
            }
            Err(e) => panic!("round {round}: unexpected {e:?}"),
        }
        assert!(took.as_secs() < 10, "round {round}: close took {took:?}");
    }
}
