//! The gate: the bundle's rules applied to the user's text ([`Gate::check_input`]) and to the
//! model's stream ([`OutputGate`]). The output gate holds back as much text as the longest
//! possible match, so nothing of a blocked or redacted phrase is released, not even a prefix,
//! and what it releases is the same whatever the chunk boundaries. This module owns release
//! decisions and reports; matching is [`super::rules`] and a private scanner, and it has no way
//! to change a rule. With a `classifier` rule, the output gate also releases text only up to
//! the last classifier checkpoint that passed ([`super::classifier::check`]), so a harmful
//! answer is cut at the checkpoint before the one that failed, whatever the chunking.

use std::sync::Arc;

use serde::Serialize;

use super::classifier::check::{Checkpoints, ClassifierCheck};
use super::payload::Templates;
use super::rules::RuleSet;
use super::stream::Stream;
use super::{SafetyError, VerifiedBundle};

/// The gate's decision, from mildest to strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing matched.
    Allow,
    /// A notice was appended.
    Annotate,
    /// Spans were masked.
    Redact,
    /// The answer is replaced by the refusal.
    Block,
}

impl Verdict {
    /// The name used in JSON and by people.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Annotate => "annotate",
            Self::Redact => "redact",
            Self::Block => "block",
        }
    }
}

/// What the gate did to one text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GateReport {
    /// The strictest action taken.
    pub verdict: Verdict,
    /// The ids of the rules that matched, in bundle order.
    pub rules: Vec<String>,
    /// No bundle was loaded: the app explicitly asked for developer mode and nothing was
    /// checked.
    pub developer_mode: bool,
}

/// The input gate's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputVerdict {
    /// What was decided.
    pub report: GateReport,
    /// The text to pass on: the user's text (redacted where rules say so, notices appended),
    /// or the refusal when blocked.
    pub text: String,
}

/// A gate over one verified bundle. Cheap to clone; immutable.
#[derive(Debug, Clone)]
pub struct Gate {
    input: Arc<RuleSet>,
    output: Arc<RuleSet>,
    input_classifier: Option<Arc<ClassifierCheck>>,
    output_classifier: Option<Arc<ClassifierCheck>>,
    templates: Arc<Templates>,
    developer_mode: bool,
}

impl Gate {
    /// Compile the bundle's rules for input and output.
    pub fn new(bundle: &VerifiedBundle) -> Result<Self, SafetyError> {
        let payload = bundle.payload();
        Ok(Self {
            input: Arc::new(RuleSet::compile(payload, true)?),
            output: Arc::new(RuleSet::compile(payload, false)?),
            input_classifier: ClassifierCheck::compile(payload, true)?,
            output_classifier: ClassifierCheck::compile(payload, false)?,
            templates: Arc::new(payload.templates.clone()),
            developer_mode: false,
        })
    }

    /// A gate without rules, for when the app explicitly asks for developer mode without a
    /// bundle. Every report says `developer_mode: true`.
    pub fn developer_mode() -> Self {
        let empty = super::payload::BundlePayload::developer_placeholder();
        Self {
            input: Arc::new(RuleSet::compile(&empty, true).expect("the empty rule set compiles")),
            output: Arc::new(RuleSet::compile(&empty, false).expect("the empty rule set compiles")),
            input_classifier: None,
            output_classifier: None,
            templates: Arc::new(empty.templates),
            developer_mode: true,
        }
    }

    /// How many bytes of normalized text the output gate holds back for its rules (with an
    /// output classifier, text is also held back to the last passing checkpoint: at most
    /// [`super::classifier::check::MAX_GAP`] × 2 more bytes).
    pub fn hold_back_bytes(&self) -> usize {
        self.output.window()
    }

    /// Whether the bundle's classifier checks the user's text (`input == true`) or the
    /// model's.
    pub fn has_classifier(&self, input: bool) -> bool {
        if input {
            self.input_classifier.is_some()
        } else {
            self.output_classifier.is_some()
        }
    }

    /// Apply the input rules to the user's whole text.
    pub fn check_input(&self, text: &str) -> InputVerdict {
        let mut stream = Stream::new(
            Arc::clone(&self.input),
            Arc::clone(&self.templates),
            self.developer_mode,
            None,
        );
        stream.push_str(text);
        let (rest, mut report) = stream.finish();
        if let Some(check) = &self.input_classifier {
            if check.flags(text) {
                report.verdict = Verdict::Block;
                report.rules.push(check.id().to_owned());
            }
        }
        let text = if report.verdict == Verdict::Block {
            self.templates.refusal.clone()
        } else {
            let mut all = stream.take_released();
            all.push_str(&rest);
            all
        };
        InputVerdict { report, text }
    }

    /// A streaming gate for one answer of the model.
    pub fn output(&self) -> OutputGate {
        OutputGate {
            stream: Stream::new(
                Arc::clone(&self.output),
                Arc::clone(&self.templates),
                self.developer_mode,
                self.output_classifier.clone().map(Checkpoints::new),
            ),
        }
    }
}

/// The output gate for one answer: feed the model's chunks with [`OutputGate::push`], show
/// what it returns, then call [`OutputGate::finish`].
///
/// Invariants: the concatenation of everything returned is the same for any chunking of the
/// same text; nothing of a blocked or redacted span is ever returned. After a block nothing of
/// the model's text is returned any more; the refusal template is returned instead and the
/// report says [`Verdict::Block`], so the app replaces the answer with the refusal.
pub struct OutputGate {
    stream: Stream,
}

impl std::fmt::Debug for OutputGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputGate").finish_non_exhaustive()
    }
}

impl OutputGate {
    /// Feed a chunk of text; returns the text that is now safe to show (often empty).
    pub fn push(&mut self, chunk: &str) -> String {
        self.stream.push_str(chunk);
        self.stream.take_released()
    }

    /// Feed raw bytes (a UTF-8 sequence may be split across calls; invalid bytes become
    /// U+FFFD); returns the text now safe to show.
    pub fn push_bytes(&mut self, chunk: &[u8]) -> String {
        self.stream.push_bytes(chunk);
        self.stream.take_released()
    }

    /// A block rule matched: nothing more of the model's text will be shown, so the caller
    /// should stop generating.
    pub fn is_blocked(&self) -> bool {
        self.stream.scanner.core.blocked || self.stream.classifier_failed()
    }

    /// The answer ended: the rest of the text to show (with the refusal or notices) and the
    /// report.
    pub fn finish(mut self) -> (String, GateReport) {
        let (rest, report) = self.stream.finish();
        (self.stream.take_released() + &rest, report)
    }
}
