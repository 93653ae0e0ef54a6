//! Crash safety and concurrent writers, with real processes: a child writes events and reports
//! each commit; it is killed with SIGKILL at random moments; every reported commit must be
//! there afterwards and `PRAGMA integrity_check` must say ok.

use std::collections::HashSet;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use keel::store::{NewEvent, RawKeyProvider, SecretKey, Store, StoreError};

const KEY_HEX: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";
const USER: &str = "crash-test-user";

fn provider() -> RawKeyProvider {
    RawKeyProvider::new(SecretKey::from_hex(KEY_HEX).expect("hex key"))
}

/// A small xorshift generator seeded from the clock (no extra dependency; the seed is printed
/// so a failing round can be reasoned about).
struct Rng(u64);

impl Rng {
    fn from_clock() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos();
        let seed = (nanos as u64) | 1;
        eprintln!("crash test seed: {seed}");
        Self(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Start the child writing from `first`; returns the child and a channel of reported numbers.
fn spawn_child(db: &Path, first: u64) -> (std::process::Child, mpsc::Receiver<u64>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_store_crash_child"))
        .arg(db)
        .arg(KEY_HEX)
        .arg(USER)
        .arg(first.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("child stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                // Only complete lines count as reports.
                Ok(n) if n > 0 && line.ends_with('\n') => {
                    let n: u64 = line.trim().parse().expect("a number per line");
                    if tx.send(n).is_err() {
                        return;
                    }
                }
                _ => return,
            }
        }
    });
    (child, rx)
}

fn bodies(store: &Store) -> HashSet<String> {
    let events = store.list_events(USER).expect("list events");
    assert!(
        events.corrupt.is_empty(),
        "corrupt after a crash: {:?}",
        events.corrupt
    );
    events
        .items
        .into_iter()
        .map(|e| String::from_utf8(e.body).expect("utf-8 body"))
        .collect()
}

#[test]
fn every_reported_commit_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("keel.db");
    let mut rng = Rng::from_clock();
    let mut reported_total = 0usize;
    let rounds = 24u64;
    for round in 0..rounds {
        let first = round * 1_000_000;
        let (mut child, rx) = spawn_child(&db, first);
        let mut reported = Vec::new();
        if round % 6 == 5 {
            // Sometimes kill early: during open, creation or the first write.
            std::thread::sleep(Duration::from_millis(rng.below(15)));
        } else {
            // Otherwise wait for the first commit, then let it run a random while.
            if let Ok(n) = rx.recv_timeout(Duration::from_secs(30)) {
                reported.push(n);
            }
            std::thread::sleep(Duration::from_millis(1 + rng.below(40)));
        }
        child.kill().expect("SIGKILL the child");
        child.wait().expect("reap the child");
        reported.extend(rx.try_iter());
        // The reader thread may still be draining the pipe; wait for it to close.
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Ok(n) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            reported.push(n);
        }

        let store = Store::open(&db, &provider()).expect("the store reopens after SIGKILL");
        let report = store.integrity_check().expect("integrity check");
        assert!(report.is_ok(), "round {round}: {report:?}");
        let present = bodies(&store);
        for n in &reported {
            assert!(
                present.contains(&format!("crash-event-{n}")),
                "round {round}: reported commit {n} is missing"
            );
        }
        reported_total += reported.len();
    }
    eprintln!("reported commits over {rounds} rounds: {reported_total}");
    assert!(
        reported_total >= 20,
        "the child committed too little to test anything ({reported_total})"
    );
}

#[test]
fn two_processes_writing_at_once_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("keel.db");
    // Create the store first so both writers open an existing one.
    drop(Store::open(&db, &provider()).expect("create"));
    let (mut child, rx) = spawn_child(&db, 5_000_000);
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the child commits");

    let store = Store::open(&db, &provider()).expect("open beside the child");
    let mut ours = Vec::new();
    let mut busy = 0;
    for i in 0..150 {
        let body = format!("parent-event-{i}");
        match store.add_event(USER, &NewEvent::new("parent", body.as_bytes())) {
            Ok(_) => ours.push(body),
            Err(StoreError::Busy) => busy += 1,
            Err(e) => panic!("unexpected error while another process writes: {e}"),
        }
    }
    child.kill().expect("stop the child");
    child.wait().expect("reap");
    let theirs: Vec<u64> = rx.iter().collect();

    let present = bodies(&store);
    for body in &ours {
        assert!(
            present.contains(body),
            "a committed parent write is missing"
        );
    }
    for n in theirs {
        assert!(
            present.contains(&format!("crash-event-{n}")),
            "a child commit is missing"
        );
    }
    assert!(ours.len() + busy == 150);
    assert!(store.integrity_check().expect("check").is_ok());
}

#[test]
fn two_handles_in_threads_both_succeed_or_get_busy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("keel.db");
    drop(Store::open(&db, &provider()).expect("create"));
    let handles: Vec<_> = (0..2)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                let store = Store::open(&db, &provider()).expect("open");
                let mut ok = 0usize;
                for i in 0..100 {
                    let body = format!("thread-{t}-{i}");
                    match store.add_event(USER, &NewEvent::new("t", body.as_bytes())) {
                        Ok(_) => ok += 1,
                        Err(StoreError::Busy) => {}
                        Err(e) => panic!("unexpected: {e}"),
                    }
                }
                ok
            })
        })
        .collect();
    let ok: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
    let store = Store::open(&db, &provider()).expect("open");
    assert_eq!(bodies(&store).len(), ok);
    assert!(store.integrity_check().expect("check").is_ok());
}
