//! Ctrl-C in `keel chat`'s REPL on the real default model: it stops a streamed answer, and
//! it stops a best-of-n turn (`--best-of`) in the middle of its candidates; either way the
//! REPL stays usable. A cancelled best-of turn shows nothing and records nothing. `/again`
//! records the choice, and a regenerate against the first answer only when it lost.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use keel_tests::model_path;

/// `keel chat` on the default model with `args`, its stdin and its stdout/stderr lines.
fn repl(
    home: &std::path::Path,
    args: &[&str],
) -> (
    Child,
    ChildStdin,
    mpsc::Receiver<String>,
    mpsc::Receiver<String>,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keel"))
        .arg("--home")
        .arg(home)
        .env_remove("KEEL_HOME")
        .env_remove("KEEL_MODEL")
        .env("KEEL_PASSPHRASE", "ctrl-c pass")
        .arg("--model")
        .arg(model_path())
        .arg("chat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = lines_of(child.stdout.take().expect("stdout"));
    let stderr = lines_of(child.stderr.take().expect("stderr"));
    (child, stdin, stdout, stderr)
}

fn interrupt(child: &Child) {
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Lines of a child's stream, read on a thread so the test can wait with a deadline.
fn lines_of(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn wait_for(rx: &mpsc::Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if pred(&line) => return line,
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            // keel exited (Ctrl-C with nothing to cancel leaves with status 130).
            Err(mpsc::RecvTimeoutError::Disconnected) => panic!("keel exited before {what}"),
        }
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn ctrl_c_stops_a_stream_and_the_repl_stays_usable() {
    let home = tempfile::tempdir().expect("home");
    let (mut child, mut stdin, stdout, stderr) = repl(
        home.path(),
        &[
            "--temperature",
            "0",
            "--max-tokens",
            "2000",
            "--threads",
            "1",
        ],
    );
    writeln!(
        stdin,
        "Write a very long essay about the history of the sea, with many sections."
    )
    .expect("write");
    wait_for(&stdout, "streamed text", |l| !l.trim().is_empty());
    interrupt(&child);
    let report = wait_for(&stderr, "the cancelled report", |l| l.contains("tokens,"));
    assert!(report.contains("cancelled"), "{report}");

    writeln!(stdin, "Say hello.").expect("write");
    let second = wait_for(&stderr, "a second answer", |l| l.contains("tokens,"));
    assert!(!second.contains("cancelled"), "{second}");
    writeln!(stdin, "/quit").expect("write");
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "{exit:?}");
}

#[test]
fn ctrl_c_stops_a_best_of_turn_records_nothing_and_the_repl_stays_usable() {
    let home = tempfile::tempdir().expect("home");
    let (mut child, mut stdin, _stdout, stderr) = repl(
        home.path(),
        &[
            "--user",
            "ana",
            "--best-of",
            "3",
            "--temperature",
            "0",
            "--max-tokens",
            "300",
            "--threads",
            "1",
        ],
    );
    wait_for(&stderr, "the REPL's banner", |l| {
        l.starts_with("keel chat:")
    });
    writeln!(
        stdin,
        "Write a very long essay about the history of the sea, with many sections."
    )
    .expect("write");
    // A best-of answer shows nothing until every candidate is in: interrupt while the
    // candidates (3 x 300 tokens on one thread) are still being generated.
    std::thread::sleep(Duration::from_millis(1500));
    interrupt(&child);
    let notice = wait_for(&stderr, "the end of the best-of turn", |l| {
        l.contains("cancelled") || l.contains("[best of")
    });
    assert!(notice.contains("best of 3 cancelled"), "{notice}");
    assert!(notice.contains("nothing was recorded"), "{notice}");
    writeln!(stdin, "/why").expect("write");
    wait_for(&stderr, "no last answer", |l| l.contains("(no answer yet)"));

    // The REPL goes on: the next best-of turn is answered, and it is the person's first
    // recorded turn (the cancelled one took no id).
    writeln!(stdin, "Say hello.").expect("write");
    let chosen = wait_for(&stderr, "a best-of answer", |l| l.contains("[best of"));
    assert!(chosen.contains("[best of 3: chose"), "{chosen}");
    writeln!(stdin, "/why").expect("write");
    let why = wait_for(&stderr, "what shaped it", |l| l.contains("urn t"));
    assert!(why.contains("turn t1") || why.contains("Turn t1"), "{why}");
    writeln!(stdin, "/quit").expect("write");
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "{exit:?}");
}

/// `/again` then `choice` in a fresh REPL for `ana`: the feedback lines it printed.
fn again_and_choose(choice: &str) -> Vec<String> {
    let home = tempfile::tempdir().expect("home");
    let (mut child, mut stdin, stdout, stderr) = repl(
        home.path(),
        &["--user", "ana", "--temperature", "0", "--max-tokens", "24"],
    );
    writeln!(stdin, "Say hello.").expect("write");
    wait_for(&stderr, "the first answer", |l| l.contains("tokens,"));
    writeln!(stdin, "/again").expect("write");
    writeln!(stdin, "{choice}").expect("write");
    writeln!(stdin, "/quit").expect("write");
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "{exit:?}");
    // The reader thread ends at the end of keel's output, which has exited.
    stdout
        .iter()
        .filter(|l| l.trim_start().starts_with("learned from"))
        .collect()
}

#[test]
fn again_records_the_choice_and_a_regenerate_only_when_the_first_answer_lost() {
    let second = again_and_choose("2");
    assert_eq!(
        second,
        [
            "  learned from the pairwise choice",
            "  learned from the regenerate"
        ],
        "picking the second answer"
    );
    let first = again_and_choose("1");
    assert_eq!(
        first,
        ["  learned from the pairwise choice"],
        "picking the first answer after all: no signal against it"
    );
}
