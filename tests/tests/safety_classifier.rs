//! The learned safety classifier on the public corpora: training is reproducible, the model
//! meets its targets on the validation split, and a check is cheap. Needs the shared data
//! (`<repo>/../shared/data` or `KEEL_SAFETY_DATA`); skips with a message when it is absent.

use keel::safety::classifier::data::{self, Example};
use keel::safety::classifier::eval::evaluate;
use keel::safety::classifier::train::{train, TrainConfig};
use keel::safety::classifier::Classifier;

#[test]
fn a_tampered_model_scores_differently_or_is_refused() {
    let w: Vec<f32> = (0..1024).map(|i| ((i % 13) as f32 - 6.0) / 6.0).collect();
    let c = Classifier::from_float(10, 0.0, &w).expect("valid");
    let mut spec = c.to_spec();
    spec.weights.truncate(spec.weights.len() - 4);
    assert!(Classifier::from_spec(&spec).is_err(), "truncated weights");
    let mut spec = c.to_spec();
    spec.weights.replace_range(
        0..1,
        if spec.weights.starts_with('A') {
            "B"
        } else {
            "A"
        },
    );
    let altered = Classifier::from_spec(&spec).expect("still well-formed");
    assert_ne!(altered, c, "an altered weight is a different model");
}

fn corpora() -> Option<Vec<Example>> {
    let Some(dir) = data::default_dir() else {
        eprintln!(
            "SKIPPED: no safety data at <repo>/../shared/data (set {} to its folder)",
            data::DATA_ENV
        );
        return None;
    };
    Some(data::load(&dir).expect("the shared safety data is readable"))
}

#[test]
fn training_is_reproducible_and_reports_validation_metrics() {
    let Some(examples) = corpora() else { return };
    let cfg = TrainConfig::default();
    let a = train(&examples, &cfg).expect("training succeeds");
    let b = train(&examples, &cfg).expect("training succeeds");
    let file_a = serde_json::to_string(&a.to_file()).expect("serializes");
    let file_b = serde_json::to_string(&b.to_file()).expect("serializes");
    assert_eq!(
        file_a, file_b,
        "same data and seed give the same model file"
    );

    let report = evaluate(&a.classifier, a.thresholds, &examples);
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&report).expect("serializes")
    );
    let g = |name: &str| {
        report
            .groups
            .iter()
            .find(|(k, _)| serde_json::to_value(k).expect("group") == name)
            .map(|(_, m)| m.clone())
            .expect("group present")
    };
    let recall = g("harmful_request").recall.expect("positives");
    let answers = g("harmful_answer").recall.expect("positives");
    let everyday = g("everyday_prompt").fpr.expect("negatives");
    let lookalike = g("lookalike_prompt").fpr.expect("negatives");
    eprintln!("request recall {recall:.3} answer recall {answers:.3} everyday fpr {everyday:.3} xstest-safe fpr {lookalike:.3}");
    assert!(file_a.len() < 5_000_000, "model fits the bundle (5 MB)");
    // The operating curve: every group's flagged share falls (or stays) as the threshold rises.
    assert_eq!(report.curve.len(), 10);
    for pair in report.curve.windows(2) {
        for (group, share) in &pair[1].flagged {
            assert!(
                *share <= pair[0].flagged[group],
                "{group:?} at {}",
                pair[1].threshold
            );
        }
    }
    // Issue targets that this model meets (validation split):
    assert!(everyday <= 0.02, "everyday FPR {everyday}");
    assert!(lookalike <= 0.10, "XSTest safe FPR {lookalike}");
    assert!(report.classifier_us <= 200.0, "{} µs", report.classifier_us);
    // Issue targets it does NOT meet yet (0.90 and 0.85): regression floors just under the
    // measured level (0.775 and 0.775 with separate request and answer models; answers judged
    // at every streaming checkpoint, as the gate cuts them), see
    // docs/adr/0040-safety-classifier-model.md, 0041 and 0044. Since ADR 0044 the everyday
    // group also holds Keel's own everyday requests and the independent probe set.
    assert!(recall >= 0.77, "harmful request recall {recall}");
    assert!(answers >= 0.76, "harmful answer recall {answers}");
    assert!(
        file_a.contains("keel-hashed-lr-v2"),
        "the default training makes a request and an answer model"
    );
}

#[test]
fn the_classifier_is_deterministic() {
    let Some(examples) = corpora() else { return };
    let t = train(&examples, &TrainConfig::default()).expect("training succeeds");
    let c = Classifier::from_json(&t.classifier.to_json()).expect("round trip");
    for e in examples.iter().take(200) {
        assert_eq!(
            c.score(&e.text).to_bits(),
            t.classifier.score(&e.text).to_bits()
        );
    }
}
