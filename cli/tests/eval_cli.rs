//! `keel eval` and `keel bench --no-model` print the JSON keys the issues name:
//! `eval prefs` (simulated and `--pairs`, bad lines counted, not fatal), `eval safety` (per
//! source and group, latency, operating curve; skipped without the shared corpora) and the
//! learner and classifier benchmark keys.

use std::path::Path;
use std::process::Command;

fn keel_json(home: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_keel"))
        .arg("--home")
        .arg(home)
        .env_remove("KEEL_HOME")
        .env_remove("KEEL_MODEL")
        .arg("--json")
        .args(args)
        .output()
        .expect("run keel");
    assert!(
        out.status.success(),
        "keel {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn is_accuracy(v: &serde_json::Value) -> bool {
    v.as_f64().is_some_and(|a| (0.0..=1.0).contains(&a))
}

#[test]
fn eval_prefs_on_a_pairs_file_reports_accuracies_and_counts_bad_lines() {
    let home = tempfile::tempdir().expect("home");
    let mut lines = String::new();
    for user in 0..6 {
        for i in 0..12 {
            // Everyone prefers the list answer.
            let (a, b) = (
                format!("- step one\n- step two\n- step {i}"),
                format!("Just do step one and then step {i}."),
            );
            let line = serde_json::json!({"user": format!("u{user}"), "context": "work",
                "prompt": format!("p{i}"), "a": a, "b": b, "winner": "a"});
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
    }
    lines.push_str("not json\n{\"user\":\"u1\"}\n");
    let file = home.path().join("pairs.jsonl");
    std::fs::write(&file, lines).expect("write");
    let file = file.to_str().expect("utf-8 path");
    let v = keel_json(home.path(), &["eval", "prefs", "--pairs", file]);
    assert!(is_accuracy(&v["personalized_acc"]), "{v}");
    assert!(is_accuracy(&v["aggregated_acc"]), "{v}");
    assert_eq!(v["users"], 6, "{v}");
    assert_eq!(v["pairs"], 72, "{v}");
    assert_eq!(v["bad_lines"], 2, "{v}");
}

#[test]
fn eval_prefs_on_the_simulated_population_reports_the_learning_curves() {
    let home = tempfile::tempdir().expect("home");
    let v = keel_json(home.path(), &["eval", "prefs"]);
    for key in ["personalized_acc", "aggregated_acc", "oracle_acc"] {
        for events in ["5", "10", "20", "50"] {
            assert!(is_accuracy(&v[key][events]), "{key} at {events}: {v}");
        }
    }
    assert!(v["recovery_events"].as_u64().is_some(), "{v}");
}

#[test]
fn eval_safety_reports_sources_groups_latency_and_the_curve() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    let data = std::env::var_os("KEEL_SAFETY_DATA").map_or(data, Into::into);
    if !data.join("safety").is_dir() {
        eprintln!(
            "SKIPPED: no safety data at {} (set KEEL_SAFETY_DATA)",
            data.display()
        );
        return;
    }
    let home = tempfile::tempdir().expect("home");
    let data = data.to_str().expect("utf-8 path");
    let v = keel_json(home.path(), &["eval", "safety", "--data", data]);
    let recall = &v["groups"]["harmful_request"]["recall"];
    assert!(is_accuracy(recall), "{v}");
    assert!(is_accuracy(&v["groups"]["everyday_prompt"]["fpr"]), "{v}");
    assert!(is_accuracy(&v["sources"]["xstest_safe"]["fpr"]), "{v}");
    assert!(
        v["classifier_us"].as_f64().is_some_and(|us| us > 0.0),
        "{v}"
    );
    let curve = v["curve"].as_array().expect("curve");
    assert_eq!(curve.len(), 10, "{v}");
    assert!(is_accuracy(&curve[0]["flagged"]["harmful_request"]), "{v}");
}

#[test]
fn bench_without_the_model_reports_the_learner_and_classifier_costs() {
    let home = tempfile::tempdir().expect("home");
    let v = keel_json(home.path(), &["bench", "--no-model"]);
    for key in ["learner_update_us", "classifier_us"] {
        assert!(v[key].as_f64().is_some_and(|us| us > 0.0), "{key}: {v}");
    }
}
