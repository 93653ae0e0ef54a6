//! `keel feedback` bad input through the built binary: an unknown turn, a missing or doubled
//! kind, a kind that needs --turn without it, a malformed turn id — each a clear error with a
//! non-zero exit that stores nothing and echoes no user text; statements keep working and are
//! reported clause by clause (an unmappable one kept as a note).

use std::path::Path;
use std::process::{Command, Output};

fn keel(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keel"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env("KEEL_PASSPHRASE", "store pass")
        .env_remove("KEEL_HOME")
        .output()
        .expect("run keel")
}

fn fails(out: &Output) -> String {
    assert!(!out.status.success(), "keel should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "keel failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

fn events(home: &Path) -> serde_json::Value {
    json(&keel(home, &["--json", "profile", "show", "--user", "ana"]))["events"].clone()
}

#[test]
fn feedback_on_a_turn_rejects_bad_input_clearly() {
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();

    // No store yet: the turn cannot be known, and nothing is created.
    let err = fails(&keel(
        h,
        &["feedback", "--user", "ana", "--turn", "t1", "--up"],
    ));
    assert!(err.contains("turn that is not known"), "{err}");
    assert!(!h.join("store").join("keel.db").exists());

    // Statements still work without a turn, reported clause by clause.
    let r = json(&keel(
        h,
        &[
            "--json",
            "feedback",
            "--user",
            "ana",
            "--statement",
            "I prefer short answers",
        ],
    ));
    assert_eq!(r["outcomes"][0]["outcome"], "applied");
    assert_eq!(r["outcomes"][0]["dimension"], "verbosity");
    let r = json(&keel(
        h,
        &[
            "--json",
            "feedback",
            "--user",
            "ana",
            "--statement",
            "My cat is called Tom",
        ],
    ));
    assert_eq!(r["outcomes"][0]["outcome"], "unmapped");
    assert_eq!(r["outcomes"][0]["note"], "My cat is called Tom");
    assert_eq!(events(h), 2);

    // An unknown turn, with user text that must not be echoed.
    let err = fails(&keel(
        h,
        &[
            "feedback",
            "--user",
            "ana",
            "--turn",
            "t9",
            "--edit",
            "secret words here",
        ],
    ));
    assert!(err.contains("turn that is not known"), "{err}");
    assert!(!err.contains("secret words"), "{err}");
    let err = fails(&keel(
        h,
        &[
            "feedback", "--user", "ana", "--turn", "t9", "--prefer", "t8",
        ],
    ));
    assert!(err.contains("turn that is not known"), "{err}");

    // Argument errors: no kind, two kinds, a kind without --turn, a malformed id.
    fails(&keel(h, &["feedback", "--user", "ana", "--turn", "t1"]));
    fails(&keel(
        h,
        &[
            "feedback", "--user", "ana", "--turn", "t1", "--up", "--down",
        ],
    ));
    let err = fails(&keel(h, &["feedback", "--user", "ana", "--down"]));
    assert!(err.contains("--turn"), "{err}");
    let err = fails(&keel(
        h,
        &["feedback", "--user", "ana", "--turn", " t1", "--up"],
    ));
    assert!(err.contains("turn id"), "{err}");
    let err = fails(&keel(
        h,
        &["feedback", "--user", "ana", "--statement", "   "],
    ));
    assert!(err.contains("statement must contain text"), "{err}");

    assert_eq!(events(h), 2, "rejected feedback stored nothing");
}
