//! The classifier rule's part of the bundle payload ([`super::payload`]): inlining a
//! `model_file` named in `rules.toml` into the rule (as `keel bundle sign` does) and the
//! structural checks of a classifier rule. ADR 0041.

use super::classifier::{Classifier, ModelFile};
use super::payload::{invalid, Action, RuleSpec, RulesFile};
use super::SafetyError;

impl RulesFile {
    /// Read `rules.toml` from `path` and inline each classifier rule's `model_file` (a path
    /// relative to `rules.toml`'s folder): the weights go into `model`, and the file's
    /// calibrated thresholds into `thresholds` unless the rule states its own.
    pub fn from_path(path: &std::path::Path) -> Result<Self, SafetyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SafetyError::io(format!("reading {}", path.display()), e))?;
        let mut file = Self::from_toml(&text)?;
        let base = path.parent().unwrap_or_else(|| std::path::Path::new("."));
        file.inline_model_files(base)?;
        Ok(file)
    }

    /// Inline every `model_file` (relative to `base`) into its rule.
    pub fn inline_model_files(&mut self, base: &std::path::Path) -> Result<(), SafetyError> {
        for rule in &mut self.rules {
            let Some(rel) = rule.model_file.take() else {
                continue;
            };
            let path = base.join(&rel);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| SafetyError::io(format!("reading {}", path.display()), e))?;
            let file: ModelFile = serde_json::from_str(&text).map_err(|_| {
                invalid(format!(
                    "rule {}: the model file is not a `keel bundle train-classifier` file",
                    rule.id
                ))
            })?;
            rule.model = Some(file.model);
            rule.thresholds.get_or_insert(file.thresholds);
        }
        Ok(())
    }
}

impl RuleSpec {
    /// A classifier rule blocks, its thresholds are in (0, 1] and its weights decode.
    pub(super) fn validate_classifier(&self) -> Result<(), SafetyError> {
        let id = &self.id;
        if self.action != Action::Block {
            return Err(invalid(format!("rule {id}: a classifier rule must block")));
        }
        let t = self.thresholds.expect("checked by the caller");
        let ok = |x: f32| x.is_finite() && x > 0.0 && x <= 1.0;
        if !ok(t.request) || !ok(t.answer) {
            return Err(invalid(format!(
                "rule {id}: classifier thresholds must be in (0, 1]"
            )));
        }
        let spec = self.model.as_ref().expect("checked by the caller");
        Classifier::from_spec(spec).map_err(|e| invalid(format!("rule {id}: {e}")))?;
        Ok(())
    }
}
