//! `keel feedback` and `keel profile show|export|import|forget` end to end, through the built
//! binary, with passphrases from the environment.

use std::path::Path;
use std::process::{Command, Output};

const STATEMENT: &str = "please keep answers under five sentences";

fn keel(home: &Path, pass: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keel"))
        .arg("--home")
        .arg(home)
        .args(args)
        .env("KEEL_PASSPHRASE", pass)
        .env("KEEL_EXPORT_PASSPHRASE", "export passphrase for the test")
        .env_remove("KEEL_HOME")
        .output()
        .expect("run keel")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "keel failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

fn show(home: &Path, user: &str) -> serde_json::Value {
    let out = ok(&keel(
        home,
        "store pass",
        &["--json", "profile", "show", "--user", user],
    ));
    serde_json::from_str(&out).expect("show --json prints JSON")
}

#[test]
fn feedback_show_export_forget_import() {
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    ok(&keel(
        h,
        "store pass",
        &["feedback", "--user", "ana", "--statement", STATEMENT],
    ));
    ok(&keel(
        h,
        "store pass",
        &[
            "feedback",
            "--user",
            "ana",
            "--statement",
            "metric units",
            "--context",
            "cooking",
        ],
    ));
    assert!(h.join("store").join("keel.db").is_file());

    let v = show(h, "ana");
    assert_eq!(v["exists"], true);
    assert_eq!(v["events"], 2);
    assert_eq!(v["statements"][0]["text"], STATEMENT);
    assert_eq!(v["statements"][1]["context"], "cooking");
    let human = ok(&keel(
        h,
        "store pass",
        &["profile", "show", "--user", "ana"],
    ));
    assert!(human.contains(STATEMENT), "{human}");

    // A wrong passphrase: a clear error, no user text, non-zero exit.
    let bad = keel(h, "not the pass", &["profile", "show", "--user", "ana"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("wrong passphrase"), "{err}");
    assert!(!err.contains(STATEMENT));

    let export = h.join("ana.keelx");
    let export_arg = export.to_str().expect("utf-8 path");
    ok(&keel(
        h,
        "store pass",
        &["profile", "export", "--user", "ana", "--out", export_arg],
    ));
    assert!(export.is_file());

    let out = ok(&keel(
        h,
        "store pass",
        &["--json", "profile", "forget", "--user", "ana"],
    ));
    assert!(out.contains("\"forgotten\": true"), "{out}");
    assert_eq!(show(h, "ana")["exists"], false);

    ok(&keel(
        h,
        "store pass",
        &["profile", "import", "--user", "ana", "--file", export_arg],
    ));
    let v = show(h, "ana");
    assert_eq!(v["statements"][0]["text"], STATEMENT);
    assert_eq!(v["events"], 2);
}

#[test]
fn show_without_a_store_creates_nothing() {
    let home = tempfile::tempdir().expect("tempdir");
    assert_eq!(show(home.path(), "nobody")["exists"], false);
    assert!(!home.path().join("store").join("keel.db").exists());
}

fn preference<'a>(shown: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    shown["preferences"]
        .as_array()
        .expect("preferences is a list")
        .iter()
        .find(|p| p["dimension"] == name)
        .expect("every dimension is listed")
}

#[test]
fn a_person_sets_and_deletes_one_preference() {
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    ok(&keel(
        h,
        "store pass",
        &[
            "profile",
            "set",
            "--user",
            "ana",
            "--dimension",
            "verbosity",
            "--value",
            "0.1",
        ],
    ));
    let shown = show(h, "ana");
    let verbosity = preference(&shown, "verbosity");
    assert_eq!(verbosity["source"], "edited", "{verbosity}");
    assert!(
        verbosity["value"].as_f64().expect("a number") < 0.4,
        "{verbosity}"
    );
    assert_eq!(preference(&shown, "formality")["source"], "population");

    let words = ok(&keel(
        h,
        "store pass",
        &["profile", "show", "--user", "ana"],
    ));
    assert!(words.contains("verbosity: short"), "{words}");
    assert!(words.contains("you set it"), "{words}");

    ok(&keel(
        h,
        "store pass",
        &[
            "profile",
            "unset",
            "--user",
            "ana",
            "--dimension",
            "verbosity",
        ],
    ));
    let shown = show(h, "ana");
    assert_ne!(preference(&shown, "verbosity")["source"], "edited");
}

#[test]
fn a_bad_preference_name_or_value_is_a_clear_error() {
    let home = tempfile::tempdir().expect("tempdir");
    let h = home.path();
    let out = keel(
        h,
        "store pass",
        &[
            "profile",
            "set",
            "--user",
            "ana",
            "--dimension",
            "loudness",
            "--value",
            "0.5",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("technical_depth"), "{err}");
    let out = keel(
        h,
        "store pass",
        &[
            "profile",
            "set",
            "--user",
            "ana",
            "--dimension",
            "emoji",
            "--value",
            "7",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("from 0 to 1"));
    assert!(
        !h.join("store").join("keel.db").exists(),
        "nothing was stored"
    );
}
