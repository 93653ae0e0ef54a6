//! What a bundle says: its id, version, validity window, allowed models, rules (including the
//! learned classifier's weights and thresholds, ADR 0041), templates and
//! the personalization envelope — the signed payload — and `rules.toml`, the publisher's source
//! for it. This module owns the data shapes and their structural checks; compiling rules into
//! matchers is [`super::rules`], signatures are [`super::trust`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::classifier::{ClassifierSpec, Thresholds};
use super::detectors::DetectorKind;
use super::personalization::PersonalizationEnvelope;
use super::trust::format_time;
use super::SafetyError;

/// The payload type of a signed bundle.
pub const BUNDLE_PAYLOAD_TYPE: &str = "application/vnd.keel.bundle+json; version=1";
/// The most rules a bundle may hold.
pub const MAX_RULES: usize = 50_000;
/// The most phrases (over all rules) a bundle may hold.
pub const MAX_PHRASES: usize = 200_000;
/// The longest phrase, in bytes of normalized text.
pub const MAX_PHRASE_BYTES: usize = 256;
/// The longest declared regex match, in bytes of normalized text.
pub const MAX_REGEX_LEN: usize = 256;

/// The signed bundle payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundlePayload {
    /// A stable name for the bundle line (e.g. `keel-default`).
    pub bundle_id: String,
    /// Monotonic version.
    pub version: u64,
    /// Not valid before (RFC 3339).
    pub issued: String,
    /// Not valid from (RFC 3339).
    pub expires: String,
    /// SHA-256 (lowercase hex) of the GGUF files this bundle allows; empty allows any.
    pub models: Vec<String>,
    /// Texts the gate shows.
    pub templates: Templates,
    /// The rules.
    pub rules: Vec<RuleSpec>,
    /// The personalization envelope.
    pub envelope: PersonalizationEnvelope,
}

/// Texts the gate shows instead of or next to the model's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Templates {
    /// Replaces a blocked answer.
    pub refusal: String,
    /// Appended by annotate rules without their own notice.
    pub notice: String,
    /// Replaces a redacted span.
    pub redaction: String,
}

/// How a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// Whole-word phrases on normalized text.
    Phrases,
    /// A regular expression on normalized text, with a declared maximum match length.
    Regex,
    /// A built-in personal-data detector.
    Detector,
    /// The learned classifier ([`super::classifier`]): weights inline, a threshold per
    /// category; always `block`.
    Classifier,
}

/// Which text a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The user's text.
    Input,
    /// The model's text.
    Output,
    /// Both.
    Both,
}

impl Scope {
    /// Whether the rule applies to input (`true`) or output (`false`) text.
    pub fn covers(self, input: bool) -> bool {
        matches!(
            (self, input),
            (Self::Both, _) | (Self::Input, true) | (Self::Output, false)
        )
    }
}

/// What happens when a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Append a notice.
    Annotate,
    /// Mask the matched span.
    Redact,
    /// Replace the whole answer with the refusal.
    Block,
}

/// One rule as written in `rules.toml` and the payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Stable id: lowercase letters, digits, `.`, `-`, `_`.
    pub id: String,
    /// How it matches.
    pub kind: RuleKind,
    /// Where it applies.
    pub scope: Scope,
    /// What it does.
    pub action: Action,
    /// For `phrases`: the phrases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phrases: Vec<String>,
    /// For `regex`: the pattern (matched on normalized, lower-case text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// For `regex`: the longest match, in bytes of normalized text (1–256).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_len: Option<usize>,
    /// For `detector`: which detector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detector: Option<DetectorKind>,
    /// For `annotate`: this rule's notice instead of the bundle's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    /// For `classifier`: the weights, inline in the signed payload (ADR 0041).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ClassifierSpec>,
    /// For `classifier`: a score at or above blocks (requests: the user's text; answers: the
    /// model's text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Thresholds>,
    /// For `classifier`, in `rules.toml` only: a model file from `keel bundle
    /// train-classifier`, relative to `rules.toml`. [`RulesFile::from_path`] inlines it into
    /// `model` (and `thresholds`, unless given); a payload never carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_file: Option<String>,
}

/// `rules.toml`: everything in the payload except version and validity, which the signer
/// gives on the command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    /// See [`BundlePayload::bundle_id`].
    pub bundle_id: String,
    /// See [`BundlePayload::models`].
    #[serde(default)]
    pub models: Vec<String>,
    /// See [`BundlePayload::templates`].
    pub templates: Templates,
    /// See [`BundlePayload::rules`].
    pub rules: Vec<RuleSpec>,
    /// See [`BundlePayload::envelope`].
    pub envelope: PersonalizationEnvelope,
}

impl RulesFile {
    /// Parse `rules.toml` text strictly.
    pub fn from_toml(text: &str) -> Result<Self, SafetyError> {
        toml::from_str(text).map_err(|e| SafetyError::InvalidRules {
            reason: format!("rules.toml does not parse: {}", e.message()),
        })
    }

    /// The payload for `version`, valid from `issued` to `expires`, checked.
    pub fn into_payload(
        self,
        version: u64,
        issued: OffsetDateTime,
        expires: OffsetDateTime,
    ) -> Result<BundlePayload, SafetyError> {
        let payload = BundlePayload {
            bundle_id: self.bundle_id,
            version,
            issued: format_time(issued),
            expires: format_time(expires),
            models: self.models,
            templates: self.templates,
            rules: self.rules,
            envelope: self.envelope,
        };
        payload.validate()?;
        Ok(payload)
    }
}

pub(super) fn invalid(reason: impl Into<String>) -> SafetyError {
    SafetyError::InvalidRules {
        reason: reason.into(),
    }
}

impl BundlePayload {
    /// Structural checks (ids, fields per kind, limits, envelope). Compiling the matchers
    /// ([`super::rules::RuleSet::compile`]) checks patterns and phrases further.
    pub fn validate(&self) -> Result<(), SafetyError> {
        let id_ok = |id: &str| {
            !id.is_empty()
                && id.len() <= 64
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        if !id_ok(&self.bundle_id) {
            return Err(invalid("bundle_id must be 1-64 of a-z 0-9 . _ -"));
        }
        for m in &self.models {
            if m.len() != 64
                || !m
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            {
                return Err(invalid("a model digest is not 64 lowercase hex digits"));
            }
        }
        let t = &self.templates;
        if t.refusal.trim().is_empty() || t.notice.trim().is_empty() || t.redaction.is_empty() {
            return Err(invalid(
                "the refusal, notice and redaction templates must not be empty",
            ));
        }
        if self.rules.len() > MAX_RULES {
            return Err(invalid(format!("more than {MAX_RULES} rules")));
        }
        let phrases: usize = self.rules.iter().map(|r| r.phrases.len()).sum();
        if phrases > MAX_PHRASES {
            return Err(invalid(format!("more than {MAX_PHRASES} phrases")));
        }
        let mut ids: Vec<&str> = self.rules.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            return Err(invalid(format!("rule id {} is used twice", w[0])));
        }
        if self
            .rules
            .iter()
            .filter(|r| r.kind == RuleKind::Classifier)
            .count()
            > 1
        {
            return Err(invalid("at most one classifier rule per bundle"));
        }
        for rule in &self.rules {
            if !id_ok(&rule.id) {
                return Err(invalid("a rule id must be 1-64 of a-z 0-9 . _ -"));
            }
            rule.validate_fields()?;
        }
        self.envelope.validate().map_err(invalid)
    }
}

impl RuleSpec {
    fn validate_fields(&self) -> Result<(), SafetyError> {
        let id = &self.id;
        let has_phrases = !self.phrases.is_empty();
        let has_regex = self.pattern.is_some() || self.max_len.is_some();
        let has_detector = self.detector.is_some();
        let has_model = self.model.is_some() || self.thresholds.is_some();
        if self.model_file.is_some() {
            return Err(invalid(format!(
                "rule {id}: `model_file` was not inlined; load rules.toml with `RulesFile::from_path` (as `keel bundle sign` does)"
            )));
        }
        let fits = match self.kind {
            RuleKind::Phrases => has_phrases && !has_regex && !has_detector && !has_model,
            RuleKind::Regex => {
                self.pattern.is_some()
                    && self.max_len.is_some()
                    && !has_phrases
                    && !has_detector
                    && !has_model
            }
            RuleKind::Detector => has_detector && !has_phrases && !has_regex && !has_model,
            RuleKind::Classifier => {
                self.model.is_some()
                    && self.thresholds.is_some()
                    && !has_phrases
                    && !has_regex
                    && !has_detector
            }
        };
        if !fits {
            return Err(invalid(format!(
                "rule {id}: a phrases rule needs only `phrases`, a regex rule only `pattern` and `max_len`, a detector rule only `detector`, a classifier rule only `model` (or `model_file`) and `thresholds`"
            )));
        }
        if self.kind == RuleKind::Classifier {
            self.validate_classifier()?;
        }
        if let Some(len) = self.max_len {
            if !(1..=MAX_REGEX_LEN).contains(&len) {
                return Err(invalid(format!(
                    "rule {id}: max_len must be 1 to {MAX_REGEX_LEN}"
                )));
            }
        }
        if self.notice.is_some() && self.action != Action::Annotate {
            return Err(invalid(format!(
                "rule {id}: only annotate rules take a notice"
            )));
        }
        Ok(())
    }
}

/// Counts of rules by kind, for people.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RuleCounts {
    /// Phrase rules.
    pub phrases: usize,
    /// Regex rules.
    pub regex: usize,
    /// Detector rules.
    pub detector: usize,
    /// Classifier rules.
    pub classifier: usize,
    /// All rules.
    pub total: usize,
}

impl BundlePayload {
    /// How many rules of each kind.
    pub fn rule_counts(&self) -> RuleCounts {
        let mut c = RuleCounts::default();
        for r in &self.rules {
            match r.kind {
                RuleKind::Phrases => c.phrases += 1,
                RuleKind::Regex => c.regex += 1,
                RuleKind::Detector => c.detector += 1,
                RuleKind::Classifier => c.classifier += 1,
            }
        }
        c.total = self.rules.len();
        c
    }
}

impl BundlePayload {
    /// Sign this payload into a bundle envelope with each of `signers`.
    pub fn sign(
        &self,
        signers: &[&super::keys::SigningKey],
    ) -> Result<super::envelope::Envelope, SafetyError> {
        self.validate()?;
        let bytes = serde_json::to_vec(self).expect("a payload always serializes");
        let message = super::envelope::pae(BUNDLE_PAYLOAD_TYPE, &bytes);
        let signatures = signers.iter().map(|k| k.sign(&message)).collect();
        Ok(super::envelope::Envelope::new(
            BUNDLE_PAYLOAD_TYPE,
            bytes,
            signatures,
        ))
    }

    /// An empty rule set for developer mode (never signed, never verified).
    pub(crate) fn developer_placeholder() -> Self {
        let text = r#"{"dimensions":{
            "verbosity":{"min":0.0,"max":1.0,"default":0.5},
            "formality":{"min":0.0,"max":1.0,"default":0.5},
            "technical_depth":{"min":0.0,"max":1.0,"default":0.5},
            "warmth":{"min":0.0,"max":1.0,"default":0.5},
            "humour":{"min":0.0,"max":1.0,"default":0.5},
            "format":{"min":0.0,"max":1.0,"default":0.5},
            "emoji":{"min":0.0,"max":1.0,"default":0.5}},"locked":[]}"#;
        Self {
            bundle_id: "developer-mode".into(),
            version: 0,
            issued: String::new(),
            expires: String::new(),
            models: Vec::new(),
            templates: Templates {
                refusal: "Developer mode: no safety bundle is loaded.".into(),
                notice: "Developer mode: no safety bundle is loaded.".into(),
                redaction: "[redacted]".into(),
            },
            rules: Vec::new(),
            envelope: serde_json::from_str(text).expect("the developer envelope parses"),
        }
    }
}

#[cfg(test)]
mod tests;
