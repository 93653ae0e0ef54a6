//! Unit tests of the bundle payload: classifier rules need inline weights and sane
//! thresholds, invalid rules are refused naming the rule, rules.toml is parsed strictly, the
//! default rules use every rule kind and action, and the compiled-in default bundle is what
//! `rules.toml` and `classifier.json` say, within the size limit.

use super::*;

const DEFAULT_RULES: &str = include_str!("../../../bundles/default/rules.toml");

fn default_rules_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bundles/default/rules.toml")
}

fn payload() -> BundlePayload {
    let now = OffsetDateTime::now_utc();
    RulesFile::from_path(&default_rules_path())
        .expect("the default rules and model file parse")
        .into_payload(1, now, now + time::Duration::days(1))
        .expect("the default rules are valid")
}

fn classifier_rule(p: &mut BundlePayload) -> &mut RuleSpec {
    p.rules
        .iter_mut()
        .find(|r| r.kind == RuleKind::Classifier)
        .expect("the default rules have a classifier rule")
}

#[test]
fn a_classifier_rule_needs_inline_weights_and_sane_thresholds() {
    let now = OffsetDateTime::now_utc();
    let raw = RulesFile::from_toml(DEFAULT_RULES).expect("parses without the model file");
    let err = raw
        .into_payload(1, now, now + time::Duration::days(1))
        .expect_err("model_file must be inlined first");
    assert!(err.to_string().contains("model_file"), "{err}");

    let mut p = payload();
    classifier_rule(&mut p).thresholds = Some(Thresholds {
        request: 0.0,
        answer: 0.5,
    });
    assert!(p.validate().is_err(), "a zero threshold blocks everything");
    let mut p = payload();
    classifier_rule(&mut p).action = Action::Annotate;
    assert!(p.validate().is_err(), "a classifier rule blocks");
    let mut p = payload();
    let rule = classifier_rule(&mut p);
    let model = rule.model.as_mut().expect("inlined");
    model.weights.truncate(model.weights.len() - 8);
    assert!(p.validate().is_err(), "truncated weights are refused");
    let mut p = payload();
    let extra = classifier_rule(&mut p).clone();
    p.rules.push(RuleSpec {
        id: "classifier.second".into(),
        ..extra
    });
    assert!(p.validate().is_err(), "one classifier rule per bundle");
    let mut p = payload();
    classifier_rule(&mut p).phrases = vec!["x".into()];
    assert!(p.validate().is_err(), "no phrases on a classifier rule");
}

#[test]
fn invalid_rules_are_refused_with_the_rule_id() {
    let mut p = payload();
    p.rules[0].pattern = Some("x".into());
    let err = p.validate().expect_err("a phrases rule with a pattern");
    assert!(err.to_string().contains(&p.rules[0].id), "{err}");
    let mut p = payload();
    p.rules[1].id = p.rules[0].id.clone();
    assert!(matches!(
        p.validate(),
        Err(SafetyError::InvalidRules { .. })
    ));
    let mut p = payload();
    p.models = vec!["ABC".into()];
    assert!(p.validate().is_err(), "model digests are lowercase hex");
}

#[test]
fn rules_toml_is_parsed_strictly() {
    let extra = DEFAULT_RULES.replace("bundle_id = ", "surprise = 1\nbundle_id = ");
    assert!(RulesFile::from_toml(&extra).is_err());
}

#[test]
fn the_default_rules_use_every_kind_and_action() {
    let p = payload();
    let counts = p.rule_counts();
    assert!(counts.phrases > 0 && counts.regex > 0 && counts.detector > 0);
    assert_eq!(counts.classifier, 1);
    for action in [Action::Block, Action::Redact, Action::Annotate] {
        assert!(p.rules.iter().any(|r| r.action == action));
    }
}

#[test]
fn the_shipped_bundle_carries_the_committed_rules_and_classifier() {
    let shipped = crate::safety::verify::default_bundle().expect("the default bundle verifies");
    let written = payload();
    let shipped = shipped.payload();
    assert_eq!(shipped.bundle_id, written.bundle_id);
    assert_eq!(shipped.models, written.models);
    assert_eq!(shipped.templates, written.templates);
    assert_eq!(shipped.envelope, written.envelope);
    assert_eq!(
        shipped.rules, written.rules,
        "bundle.json is out of date: run core/bundles/default/regenerate.sh with a higher version"
    );
    assert!(
        crate::safety::verify::DEFAULT_BUNDLE_JSON.len() < 5_000_000,
        "the default bundle stays under 5 MB"
    );
}
