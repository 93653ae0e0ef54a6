//! The release bookkeeping behind the gate ([`super::gate`]): what of the original text is
//! pending, what was released, redaction masks, the refusal after a block, and — with a
//! classifier rule — release only up to the last passing checkpoint
//! ([`super::classifier::check`]). Every release point is a function of positions in the
//! text, so the concatenated output is the same for any chunking (ADR 0024, 0041).

use std::sync::Arc;

use super::classifier::check::Checkpoints;
use super::gate::{GateReport, Verdict};
use super::payload::{Action, Templates};
use super::rules::RuleSet;
use super::scan::Scanner;

/// Release bookkeeping over a [`Scanner`].
pub(super) struct Stream {
    pub(super) scanner: Scanner,
    /// The output classifier's checkpoints, when the bundle has one.
    checkpoints: Option<Checkpoints>,
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
    pub(super) fn new(
        rules: Arc<RuleSet>,
        templates: Arc<Templates>,
        developer_mode: bool,
        checkpoints: Option<Checkpoints>,
    ) -> Self {
        Self {
            scanner: Scanner::new(Arc::clone(&rules)),
            checkpoints,
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

    pub(super) fn push_str(&mut self, text: &str) {
        if self.refused || text.is_empty() {
            return;
        }
        self.pending.push_str(text);
        self.scanner.feed(text, self.consumed);
        self.consumed += text.len() as u64;
        if let Some(c) = &mut self.checkpoints {
            c.advance(text, self.consumed);
        }
        self.release();
    }

    pub(super) fn classifier_failed(&self) -> bool {
        self.checkpoints
            .as_ref()
            .is_some_and(|c| c.failed().is_some())
    }

    /// The largest passing checkpoint at or before `x` (`x` itself without a classifier).
    fn passed_at(&self, x: u64) -> u64 {
        self.checkpoints.as_ref().map_or(x, |c| c.passed_at(x))
    }

    pub(super) fn push_bytes(&mut self, chunk: &[u8]) {
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
            // Checkpoints up to the block's release point are all scored by now, and none
            // after a failing one passes: the result does not depend on the chunking.
            let limit = self.passed_at(core.block_release);
            self.release_to(limit);
            self.refuse();
            return;
        }
        let safe = self.scanner.safe_orig(self.consumed);
        if let Some(cap) = self.checkpoints.as_ref().and_then(Checkpoints::failed) {
            // A rule block found later releases at least `safe`: once that reaches the cap,
            // no rule can cut earlier than the classifier did.
            if safe >= cap {
                self.release_to(cap);
                self.refuse();
            }
            return;
        }
        let limit = self.passed_at(safe);
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
        if let Some(c) = &mut self.checkpoints {
            c.released(released);
        }
    }

    pub(super) fn take_released(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    pub(super) fn finish(&mut self) -> (String, GateReport) {
        if !self.utf8_carry.is_empty() {
            self.utf8_carry.clear();
            self.push_str("\u{FFFD}");
        }
        if !self.refused {
            self.scanner.finish();
            if let Some(c) = &mut self.checkpoints {
                c.finish(self.consumed);
            }
            let cap = self.checkpoints.as_ref().and_then(Checkpoints::failed);
            if self.scanner.core.blocked {
                self.release();
            } else if let Some(cap) = cap {
                self.release_to(cap);
                self.refuse();
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
        let classifier = self
            .checkpoints
            .as_ref()
            .filter(|c| c.failed().is_some())
            .map(|c| c.id().to_owned());
        let verdict = if core.blocked || classifier.is_some() {
            Verdict::Block
        } else if metas.iter().any(|m| m.action == Action::Redact) {
            Verdict::Redact
        } else if metas.iter().any(|m| m.action == Action::Annotate) {
            Verdict::Annotate
        } else {
            Verdict::Allow
        };
        let mut rules: Vec<String> = metas.iter().map(|m| m.id.clone()).collect();
        rules.extend(classifier);
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
