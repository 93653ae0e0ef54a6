//! The classifier as the gate applies it: a bundle's `classifier` rule compiled for one scope
//! ([`ClassifierCheck`]), and the checkpoints of a streamed answer ([`Checkpoints`]). A
//! checkpoint is a position of the original text defined by the text alone — after a sentence
//! end (`.`, `!`, `?`, line break) at least [`MIN_GAP`] bytes after the previous checkpoint and
//! [`MIN_PREFIX`] bytes into the text, after white space at least [`MAX_GAP`] bytes after it,
//! anywhere `2 × MAX_GAP` bytes after it, and at the end of the text — so the checkpoints, their scores and hence the gate's output are the same for
//! any chunking. The gate releases text only up to the last checkpoint that passed; at the
//! first checkpoint that fails, nothing after the previous checkpoint is ever released. This
//! module owns checkpoint positions and scores; release decisions stay in [`crate::safety::gate`].

use std::collections::VecDeque;
use std::sync::Arc;

use super::features::MAX_TEXT_BYTES;
use super::model::Classifier;
use crate::safety::payload::{BundlePayload, RuleKind};
use crate::safety::SafetyError;

/// The fewest bytes between a checkpoint and a sentence-end checkpoint after it.
pub const MIN_GAP: u64 = 24;
/// No sentence-end checkpoint before this many bytes of answer: a short opening sentence
/// says too little to judge (and is held back until the next checkpoint anyway).
pub const MIN_PREFIX: u64 = 80;
/// After this many bytes without a sentence end, the next white space is a checkpoint (and
/// any character boundary after twice as many).
pub const MAX_GAP: u64 = 160;
/// Original bytes before a checkpoint that are scored (the model looks at the last
/// [`MAX_TEXT_BYTES`] of normalized text; normalization rarely grows text).
const TAIL: u64 = MAX_TEXT_BYTES as u64 + 512;

/// A bundle's classifier rule for one scope: the decoded model and that scope's threshold.
pub struct ClassifierCheck {
    id: String,
    classifier: Classifier,
    threshold: f32,
}

impl std::fmt::Debug for ClassifierCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClassifierCheck")
            .field("id", &self.id)
            .field("bits", &self.classifier.bits())
            .field("threshold", &self.threshold)
            .finish_non_exhaustive()
    }
}

impl ClassifierCheck {
    /// The classifier rule of `payload` that applies to input (`input == true`, the request
    /// threshold) or output text (the answer threshold), if any.
    pub fn compile(payload: &BundlePayload, input: bool) -> Result<Option<Arc<Self>>, SafetyError> {
        let Some(rule) = payload
            .rules
            .iter()
            .find(|r| r.kind == RuleKind::Classifier && r.scope.covers(input))
        else {
            return Ok(None);
        };
        let invalid = |what: &str| SafetyError::InvalidRules {
            reason: format!("rule {}: {what}", rule.id),
        };
        let spec = rule.model.as_ref().ok_or_else(|| invalid("no model"))?;
        let t = rule.thresholds.ok_or_else(|| invalid("no thresholds"))?;
        let classifier = Classifier::from_spec(spec).map_err(|e| invalid(&e.to_string()))?;
        // Output text is scored by the answer model (the only model of a v1 spec).
        let classifier = if input {
            classifier
        } else {
            classifier.answer_model().clone()
        };
        Ok(Some(Arc::new(Self {
            id: rule.id.clone(),
            classifier,
            threshold: if input { t.request } else { t.answer },
        })))
    }

    /// The rule id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The score at or above which the text is blocked.
    pub fn threshold(&self) -> f32 {
        self.threshold
    }

    /// Whether `text` scores at or above the threshold.
    pub fn flags(&self, text: &str) -> bool {
        self.classifier.score(text) >= self.threshold
    }
}

/// The checkpoints of one streamed answer and their verdicts.
pub(crate) struct Checkpoints {
    check: Arc<ClassifierCheck>,
    /// Original text from absolute offset `base`.
    history: String,
    base: u64,
    /// The last checkpoint (0 at the start).
    last: u64,
    /// Passing checkpoints not yet released past, ascending.
    passed: VecDeque<u64>,
    /// The largest passing checkpoint dropped from `passed` (0 at the start).
    floor: u64,
    /// After a failing checkpoint: the checkpoint before it, past which nothing is released.
    failed: Option<u64>,
}

fn is_sentence_end(b: u8) -> bool {
    matches!(b, b'.' | b'!' | b'?' | b'\n')
}

/// Whether the character boundary `p`, after byte `before`, is a checkpoint when the
/// previous one is at `last`.
fn is_checkpoint(last: u64, p: u64, before: u8) -> bool {
    let gap = p - last;
    (is_sentence_end(before) && gap >= MIN_GAP && p >= MIN_PREFIX)
        || (before.is_ascii_whitespace() && gap >= MAX_GAP)
        || gap >= 2 * MAX_GAP
}

/// The text a checkpoint at `p` scores: the last [`TAIL`] bytes of `text[..p]` (whose first
/// byte is at absolute offset `base`), from a character boundary.
fn tail(text: &str, base: u64, p: u64) -> &str {
    let mut lo = (p.saturating_sub(TAIL).max(base) - base) as usize;
    while !text.is_char_boundary(lo) {
        lo += 1;
    }
    &text[lo..(p - base) as usize]
}

/// The checkpoints of a whole answer, its end included, as the streaming gate places them.
pub fn checkpoints(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut last = 0u64;
    for (i, &b) in bytes.iter().enumerate() {
        let boundary = bytes.get(i + 1).is_none_or(|&n| (n as i8) >= -0x40);
        let p = i as u64 + 1;
        if boundary && is_checkpoint(last, p, b) {
            out.push(i + 1);
            last = p;
        }
    }
    if !text.is_empty() && last < text.len() as u64 {
        out.push(text.len());
    }
    out
}

/// The highest score over an answer's checkpoints: the gate cuts the answer exactly when
/// this reaches the answer threshold (what calibration and evaluation of answers use).
pub fn stream_score(classifier: &Classifier, text: &str) -> f32 {
    let classifier = classifier.answer_model();
    checkpoints(text)
        .into_iter()
        .map(|p| classifier.score(tail(text, 0, p as u64)))
        .fold(0.0, f32::max)
}

impl Checkpoints {
    pub fn new(check: Arc<ClassifierCheck>) -> Self {
        Self {
            check,
            history: String::new(),
            base: 0,
            last: 0,
            passed: VecDeque::new(),
            floor: 0,
            failed: None,
        }
    }

    /// The rule id.
    pub fn id(&self) -> &str {
        self.check.id()
    }

    /// The cap after a failing checkpoint, if one failed.
    pub fn failed(&self) -> Option<u64> {
        self.failed
    }

    /// `text` was appended; it ends at absolute original offset `consumed`. Scores each new
    /// checkpoint in order and stops at the first that fails.
    pub fn advance(&mut self, text: &str, consumed: u64) {
        if self.failed.is_some() {
            return;
        }
        let start = consumed - text.len() as u64;
        self.history.push_str(text);
        let bytes = text.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            let p = start + i as u64 + 1;
            let boundary = bytes.get(i + 1).is_none_or(|&n| (n as i8) >= -0x40);
            if !boundary {
                continue;
            }
            if is_checkpoint(self.last, p, b) && !self.score_at(p) {
                return;
            }
        }
        self.trim();
    }

    /// The text ended at `consumed`: its end is the last checkpoint.
    pub fn finish(&mut self, consumed: u64) {
        if self.failed.is_none() && consumed > self.last {
            self.score_at(consumed);
        }
    }

    /// Score the checkpoint at `p`; `false` when it fails.
    fn score_at(&mut self, p: u64) -> bool {
        let ok = !self.check.flags(tail(&self.history, self.base, p));
        if ok {
            self.passed.push_back(p);
        } else {
            self.failed = Some(self.passed.back().copied().unwrap_or(self.floor));
        }
        self.last = p;
        ok
    }

    /// The largest passing checkpoint at or before `x` (0 when none).
    pub fn passed_at(&self, x: u64) -> u64 {
        self.passed
            .iter()
            .rev()
            .find(|&&p| p <= x)
            .copied()
            .unwrap_or(self.floor)
    }

    /// Text up to `released` was released: forget checkpoints before it.
    pub fn released(&mut self, released: u64) {
        while let Some(&p) = self.passed.front() {
            if p > released {
                break;
            }
            self.floor = p;
            self.passed.pop_front();
        }
    }

    /// Keep only the history a later checkpoint can score.
    fn trim(&mut self) {
        if self.history.len() as u64 <= 2 * TAIL {
            return;
        }
        let keep_from = (self.base + self.history.len() as u64).saturating_sub(TAIL + 8);
        let mut cut = (keep_from - self.base) as usize;
        while !self.history.is_char_boundary(cut) {
            cut -= 1;
        }
        self.history.drain(..cut);
        self.base += cut as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_follow_sentences_gaps_and_the_end() {
        let text = format!("{}. Short. {}", "a".repeat(90), "b ".repeat(200));
        let points = checkpoints(&text);
        assert_eq!(points[0], 91, "the first sentence end past MIN_PREFIX");
        assert!(
            !points.contains(&98),
            "too close to the previous checkpoint"
        );
        assert!(points
            .windows(2)
            .all(|w| (w[1] - w[0]) as u64 <= 2 * MAX_GAP));
        assert_eq!(points.last(), Some(&text.len()));
        assert!(
            checkpoints("Hi. There.").len() == 1,
            "only the end of a short text"
        );
        let multi = "é".repeat(400);
        assert!(checkpoints(&multi)
            .iter()
            .all(|&p| multi.is_char_boundary(p)));
    }
}
