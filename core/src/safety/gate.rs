//! The gate: the bundle's rules applied to the user's text ([`Gate::check_input`]) and to the
//! model's stream ([`OutputGate`]). The output gate holds back as much text as the longest
//! possible match, so nothing of a blocked or redacted phrase is released, not even a prefix,
//! and what it releases is the same whatever the chunk boundaries. This module owns release
//! decisions and reports; matching is [`super::rules`] and a private scanner, and it has no way
//! to change a rule.

use std::sync::Arc;

use serde::Serialize;

use super::payload::{Action, Templates};
use super::rules::RuleSet;
use super::scan::Scanner;
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
            templates: Arc::new(empty.templates),
            developer_mode: true,
        }
    }

    /// How many bytes of normalized text the output gate holds back.
    pub fn hold_back_bytes(&self) -> usize {
        self.output.window()
    }

    /// Apply the input rules to the user's whole text.
    pub fn check_input(&self, text: &str) -> InputVerdict {
        let mut stream = Stream::new(
            Arc::clone(&self.input),
            Arc::clone(&self.templates),
            self.developer_mode,
        );
        stream.push_str(text);
        let (rest, report) = stream.finish();
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

    /// The answer ended: the rest of the text to show (with the refusal or notices) and the
    /// report.
    pub fn finish(mut self) -> (String, GateReport) {
        let (rest, report) = self.stream.finish();
        (self.stream.take_released() + &rest, report)
    }
}

/// Release bookkeeping over a [`Scanner`].
struct Stream {
    scanner: Scanner,
    rules: Arc<RuleSet>,
    templates: Arc<Templates>,
    developer_mode: bool,
    /// Original text not yet released, starting at absolute offset `released`.
    pending: String,
    released: u64,
    /// Original bytes fed (complete characters).
    consumed: u64,
    utf8_carry: Vec<u8>,
    out: String,
    refused: bool,
    /// Whether the text released so far ends with a line break (for spacing notices).
    ends_with_newline: bool,
}

impl Stream {
    fn new(rules: Arc<RuleSet>, templates: Arc<Templates>, developer_mode: bool) -> Self {
        Self {
            scanner: Scanner::new(Arc::clone(&rules)),
            rules,
            templates,
            developer_mode,
            pending: String::new(),
            released: 0,
            consumed: 0,
            utf8_carry: Vec::new(),
            out: String::new(),
            refused: false,
            ends_with_newline: false,
        }
    }

    fn push_str(&mut self, text: &str) {
        if self.refused || text.is_empty() {
            return;
        }
        self.pending.push_str(text);
        self.scanner.feed(text, self.consumed);
        self.consumed += text.len() as u64;
        self.release();
    }

    fn push_bytes(&mut self, chunk: &[u8]) {
        let mut bytes = std::mem::take(&mut self.utf8_carry);
        bytes.extend_from_slice(chunk);
        let mut rest = &bytes[..];
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    self.push_str(valid);
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    self.push_str(std::str::from_utf8(valid).expect("checked valid"));
                    match e.error_len() {
                        Some(n) => {
                            self.push_str("\u{FFFD}");
                            rest = &after[n..];
                        }
                        None => {
                            self.utf8_carry = after.to_vec();
                            break;
                        }
                    }
                }
            }
        }
    }

    /// Release what is safe now (or, after a block, the safe prefix and the refusal).
    fn release(&mut self) {
        if self.refused {
            return;
        }
        let core = &self.scanner.core;
        if core.blocked {
            let limit = core.block_release;
            self.release_to(limit);
            self.refuse();
            return;
        }
        let limit = self.scanner.safe_orig(self.consumed);
        self.release_to(limit);
    }

    fn refuse(&mut self) {
        if self.released > 0 && !self.ends_with_newline {
            self.out.push_str("\n\n");
        }
        self.out.push_str(&self.templates.refusal);
        self.refused = true;
        self.pending.clear();
    }

    /// Release original text up to `limit` (held back further so no mask is split), masking
    /// redaction spans.
    fn release_to(&mut self, limit: u64) {
        let spans = &self.scanner.core.spans;
        let mut limit = limit.max(self.released);
        if let Some(&(s, _)) = spans.iter().find(|&&(s, e)| s < limit && e > limit) {
            limit = s.max(self.released);
        }
        let mut at = self.released;
        for &(s, e) in spans
            .iter()
            .filter(|&&(s, e)| e > self.released && s < limit)
        {
            self.out.push_str(
                &self.pending[(at - self.released) as usize..(s - self.released) as usize],
            );
            self.out.push_str(&self.templates.redaction);
            at = e;
        }
        if at < limit {
            self.out.push_str(
                &self.pending[(at - self.released) as usize..(limit - self.released) as usize],
            );
        }
        if let Some(last) = self.out.chars().last() {
            self.ends_with_newline = last == '\n';
        }
        let done = (limit.max(at) - self.released) as usize;
        self.pending.drain(..done);
        self.released += done as u64;
        let released = self.released;
        self.scanner.core.spans.retain(|&(_, e)| e > released);
    }

    fn take_released(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    fn finish(&mut self) -> (String, GateReport) {
        if !self.utf8_carry.is_empty() {
            self.utf8_carry.clear();
            self.push_str("\u{FFFD}");
        }
        if !self.refused {
            self.scanner.finish();
            if self.scanner.core.blocked {
                self.release();
            } else {
                self.release_to(self.consumed);
                self.append_notices();
            }
        }
        let core = &self.scanner.core;
        let matched = core.matched_rules();
        let metas: Vec<&super::rules::RuleMeta> = matched
            .iter()
            .map(|&r| &self.rules.rules()[r as usize])
            .collect();
        let verdict = if core.blocked {
            Verdict::Block
        } else if metas.iter().any(|m| m.action == Action::Redact) {
            Verdict::Redact
        } else if metas.iter().any(|m| m.action == Action::Annotate) {
            Verdict::Annotate
        } else {
            Verdict::Allow
        };
        let mut rules: Vec<String> = metas.iter().map(|m| m.id.clone()).collect();
        if core.failed() {
            rules.push("keel.gate-failure".into());
        }
        let report = GateReport {
            verdict,
            rules,
            developer_mode: self.developer_mode,
        };
        (std::mem::take(&mut self.out), report)
    }

    /// Append each distinct notice of the matched annotate rules, in rule order.
    fn append_notices(&mut self) {
        let mut notices: Vec<&str> = Vec::new();
        for r in self.scanner.core.matched_rules() {
            let meta = &self.rules.rules()[r as usize];
            if meta.action == Action::Annotate {
                let notice = meta.notice.as_deref().unwrap_or(&self.templates.notice);
                if !notices.contains(&notice) {
                    notices.push(notice);
                }
            }
        }
        for n in notices {
            self.out
                .push_str(if self.ends_with_newline { "\n" } else { "\n\n" });
            self.out.push_str(n);
            self.ends_with_newline = false;
        }
    }
}
