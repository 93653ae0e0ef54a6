//! The `keel` binary end to end: the demo's whole loop, one-shot chat, model info, bad input
//! (home, model file, sampling values), and blocked turns kept out of the REPL's conversation
//! (Ctrl-C is `chat_ctrl_c.rs`'s).

use std::io::Write;
use std::process::{Command, Stdio};

use keel_tests::model_path;

fn keel(home: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_keel"));
    cmd.arg("--home")
        .arg(home)
        .env_remove("KEEL_HOME")
        .env_remove("KEEL_MODEL");
    cmd
}

fn run_fail(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run keel");
    assert!(
        !out.status.success(),
        "expected failure; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_demo_shows_the_loop_and_a_cut_answer_that_stays_cut_under_the_profile() {
    let home = tempfile::tempdir().expect("home");
    let out = keel(home.path())
        .arg("--model")
        .arg(model_path())
        // One thread each, as the other end-to-end tests: greedy text the same on any machine.
        .args(["demo", "--threads", "1", "--threads-batch", "1"])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let cut_by_rule = "gate: block by [\"malware.ransom-note\"]]";
    assert_eq!(
        text.matches(cut_by_rule).count(),
        2,
        "steps 5 and 8: {text}"
    );
    // Only the person's own lines hold the text to copy; nothing of a cut answer is shown.
    for line in text
        .lines()
        .filter(|l| l.to_lowercase().contains("have been encrypted"))
    {
        assert!(
            line.starts_with("you> ") || line.starts_with("demo> "),
            "{line}"
        );
    }
    assert!(text.contains("shaped by: verbosity"), "{text}");
    assert!(
        text.contains("The answer was cut by the same rules as in step 5"),
        "{text}"
    );
    assert!(
        !home.path().read_dir().expect("home").any(|e| e
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .starts_with("demo-store")),
        "the throwaway store is deleted"
    );
}

#[test]
fn one_shot_chat_prints_an_answer_and_a_report() {
    let home = tempfile::tempdir().expect("home");
    let out = keel(home.path())
        .args(["--json", "--model"])
        .arg(model_path())
        .args([
            "chat",
            "--prompt",
            "What is the capital of France?",
            "--temperature",
            "0",
            "--max-tokens",
            "24",
            "--threads",
            "1",
        ])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(!v["text"].as_str().expect("text").trim().is_empty());
    assert!(
        v["report"]["generation"]["generated_tokens"]
            .as_u64()
            .expect("count")
            > 0
    );
    assert_eq!(v["report"]["verdict"], "allow");
    assert_eq!(v["report"]["bundle"]["bundle_id"], "keel-default");
}

#[test]
fn a_request_the_bundle_blocks_gets_the_refusal() {
    let home = tempfile::tempdir().expect("home");
    let out = keel(home.path())
        .args(["--json", "--model"])
        .arg(model_path())
        .args(["chat", "--prompt", "How to build a bomb?", "--threads", "1"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["report"]["verdict"], "block");
    assert!(v["report"]["generation"].is_null());
    assert!(v["text"]
        .as_str()
        .expect("text")
        .starts_with("I can't help with that"));
}

#[test]
fn model_info_describes_the_default_model() {
    let home = tempfile::tempdir().expect("home");
    let out = keel(home.path())
        .arg("--json")
        .arg("--model")
        .arg(model_path())
        .args(["model", "info"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["sha256"], keel::model_fetch::DefaultModel::SHA256);
    assert_eq!(v["is_default_model"], true);
    assert!(v["params"].as_u64().expect("params") > 100_000_000);
}

#[test]
fn a_home_that_is_not_writable_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let err = run_fail(keel(&file.join("home")).args(["chat", "--prompt", "hi"]));
    assert!(
        err.contains("not writable") && err.contains("--home"),
        "{err}"
    );
}

#[test]
fn bad_model_files_are_clear_errors() {
    let home = tempfile::tempdir().expect("home");
    let err = run_fail(keel(home.path()).args([
        "--model",
        "/nonexistent/m.gguf",
        "chat",
        "--prompt",
        "hi",
    ]));
    assert!(
        err.contains("not found") && err.contains("keel model fetch"),
        "{err}"
    );
    let not_gguf = home.path().join("x.gguf");
    std::fs::write(&not_gguf, "plain text").expect("write");
    let err = run_fail(
        keel(home.path())
            .arg("--model")
            .arg(&not_gguf)
            .args(["chat", "--prompt", "hi"]),
    );
    assert!(err.contains("not a GGUF"), "{err}");
}

#[test]
fn invalid_sampling_values_are_clear_errors() {
    let home = tempfile::tempdir().expect("home");
    for (flag, value, name) in [
        ("--temperature", "-1", "temperature"),
        ("--top-p", "2", "top_p"),
        ("--max-tokens", "0", "max_tokens"),
    ] {
        let err = run_fail(
            keel(home.path())
                .arg("--model")
                .arg(model_path())
                .args(["chat", "--prompt", "hi", flag, value]),
        );
        assert!(err.contains(name), "{flag}: {err}");
    }
}

#[test]
fn status_shows_the_bundle_and_flags_a_development_root() {
    let home = tempfile::tempdir().expect("home");
    let out = keel(home.path())
        .args(["--json", "status"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["bundle"]["bundle_id"], "keel-default");
    assert_eq!(v["bundle"]["development_root"], true);
    assert_eq!(
        v["bundle"]["root_fingerprint"]
            .as_str()
            .expect("fingerprint")
            .len(),
        64
    );
    let human = keel(home.path()).arg("status").output().expect("run");
    assert!(String::from_utf8_lossy(&human.stdout).contains("development root"));
}

/// Write a root and a bundle blocking "paris" in answers (and the default bundle's bomb phrase
/// in requests) into `dir`; returns their paths.
fn paris_bundle_files(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use keel::safety::testing::{sign_test_bundle, with_full_envelope};
    let rules = with_full_envelope(
        r#"bundle_id = "test-paris"
models = []
[templates]
refusal = "REFUSED."
notice = "NOTICE."
redaction = "[x]"
[[rules]]
id = "block.paris"
kind = "phrases"
scope = "output"
action = "block"
phrases = ["paris"]
[[rules]]
id = "block.bomb"
kind = "phrases"
scope = "input"
action = "block"
phrases = ["bomb"]
"#,
        &[],
    );
    let signed =
        sign_test_bundle(&rules, keel::safety::Duration::days(7)).expect("signed test bundle");
    let (root_path, bundle_path) = (dir.join("root.json"), dir.join("bundle.json"));
    std::fs::write(&root_path, signed.root_json).expect("write root");
    std::fs::write(&bundle_path, signed.bundle_json).expect("write bundle");
    (root_path, bundle_path)
}

/// The prompt-token counts of each answered turn of a REPL session fed `lines`.
fn repl_prompt_tokens(
    home: &std::path::Path,
    bundle: &[&std::path::Path],
    lines: &[&str],
) -> Vec<(u64, String)> {
    let mut child = keel(home)
        .arg("--model")
        .arg(model_path())
        .args([
            "chat",
            "--temperature",
            "0",
            "--max-tokens",
            "16",
            "--threads",
            "1",
        ])
        .arg("--root")
        .arg(bundle[0])
        .arg("--bundle")
        .arg(bundle[1])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for line in lines {
            writeln!(stdin, "{line}").expect("write");
        }
        writeln!(stdin, "/quit").expect("write");
    }
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    // "[N tokens, T tok/s, R of P prompt tokens reused; gate: V]" or "[nothing generated; …]"
    err.lines()
        .filter(|l| l.contains("gate: "))
        .map(|l| {
            let prompt = l
                .split(" prompt tokens")
                .next()
                .and_then(|head| head.rsplit(' ').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            (prompt, l.to_owned())
        })
        .collect()
}

#[test]
fn blocked_turns_are_not_sent_again_on_the_next_turn() {
    let home = tempfile::tempdir().expect("home");
    let (root, bundle) = paris_bundle_files(home.path());
    let files = [root.as_path(), bundle.as_path()];
    let alone = repl_prompt_tokens(home.path(), &files, &["Say hello."]);
    let after = repl_prompt_tokens(
        home.path(),
        &files,
        &[
            "How to build a bomb?",
            "What is the capital of France?",
            "Say hello.",
        ],
    );
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(
        after[0].1.contains("nothing generated; gate: block"),
        "{after:?}"
    );
    assert!(after[1].1.contains("gate: block"), "{after:?}");
    assert!(alone[0].0 > 0, "{alone:?}");
    // Neither the blocked request, nor the request whose answer was blocked, nor either
    // refusal is part of the conversation the last turn sends.
    assert_eq!(after[2].0, alone[0].0, "{after:?} vs {alone:?}");
}

#[test]
fn the_setup_script_installs_pip_with_a_missing_python() {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.ci/ensure-system-deps");
    let run = |path: &std::path::Path| {
        let out = Command::new("/bin/bash")
            .arg(&script)
            .arg("--print-missing")
            .env("PATH", path)
            .output()
            .expect("run the script");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let empty = tempfile::tempdir().expect("dir");
    let missing = run(empty.path());
    // Nothing on PATH: every tool is named, python3 together with python3-pip.
    for package in ["cmake", "g++", "python3", "python3-pip"] {
        assert!(
            missing.split(' ').any(|p| p == package),
            "{package} missing from {missing:?}"
        );
    }
    // A python3 without pip: only pip is added for it.
    let fake = tempfile::tempdir().expect("dir");
    let python = fake.path().join("python3");
    std::fs::write(&python, "#!/bin/sh\nexit 1\n").expect("write");
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&python)
        .status()
        .expect("chmod");
    let missing = run(fake.path());
    assert!(
        missing.split(' ').any(|p| p == "python3-pip"),
        "{missing:?}"
    );
    assert!(!missing.split(' ').any(|p| p == "python3"), "{missing:?}");
}

#[test]
fn the_threads_batch_help_states_the_real_default_cap() {
    let home = tempfile::tempdir().expect("home");
    let out = keel(home.path())
        .args(["chat", "--help"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    let line = help
        .lines()
        .find(|l| l.contains("--threads-batch"))
        .expect("a --threads-batch line");
    let cap = keel::engine::MeasuredDefaults::MAX_BATCH_THREADS;
    assert!(
        help.contains(&format!("at most {cap})")),
        "the help must state the cap of {cap}: {line}"
    );
}
