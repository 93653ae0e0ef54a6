//! Whole sentences for concise answers: when a profile asks for brevity, the answer is
//! released one complete sentence at a time, and if the token budget cuts it off mid-sentence
//! the unfinished tail is never shown, so a concise answer always ends where a sentence ends.
//! It works on text the gate has already released, so it can only hold back more, never less;
//! and it never shortens a refusal: when the gate blocked the answer, the bundle's text is
//! shown whole, whatever stopped the generation.

use crate::engine::FinishReason;
use crate::safety::Verdict;

/// Holds back the unfinished sentence at the end of the text so far.
#[derive(Debug, Default)]
pub struct SentenceHold {
    pending: String,
    released_any: bool,
}

impl SentenceHold {
    /// Take `chunk`; returns the text that now ends on a sentence boundary.
    pub fn push(&mut self, chunk: &str) -> String {
        self.pending.push_str(chunk);
        match last_boundary(&self.pending) {
            Some(end) => {
                let rest = self.pending.split_off(end);
                self.released_any = true;
                std::mem::replace(&mut self.pending, rest)
            }
            None => String::new(),
        }
    }

    /// The answer ended; `cut` when the budget stopped it. Returns the text still to show and
    /// whether an unfinished tail was dropped. A cut answer with no complete sentence at all
    /// is shown as it is rather than dropped whole.
    pub fn finish(self, cut: bool) -> (String, bool) {
        if cut && self.released_any && !self.pending.trim().is_empty() {
            (String::new(), true)
        } else {
            (self.pending, false)
        }
    }
}

/// Whether a held answer's unfinished tail is dropped when it ends: only when the token budget
/// (or the context) stopped it, and never when the gate blocked it (the tail is then part of
/// the bundle's refusal). The one rule for streamed, best-of and judged answers.
pub(super) fn drops_tail(finish: Option<FinishReason>, verdict: Verdict) -> bool {
    verdict != Verdict::Block
        && matches!(
            finish,
            Some(FinishReason::MaxTokens | FinishReason::ContextFull)
        )
}

/// The byte offset just after the last sentence end in `text`: `.`, `!` or `?` (with any
/// closing quotes or brackets) followed by whitespace, or a line break.
fn last_boundary(text: &str) -> Option<usize> {
    let mut found = None;
    let mut chars = text.char_indices().peekable();
    let mut after_end = false;
    while let Some((i, c)) = chars.next() {
        if c == '\n' {
            found = Some(i + 1);
            after_end = false;
            continue;
        }
        if matches!(c, '.' | '!' | '?') {
            after_end = true;
        } else if after_end && !matches!(c, '"' | '\'' | ')' | '*' | '”' | '’') {
            after_end = false;
        }
        if after_end && chars.peek().is_some_and(|(_, n)| n.is_whitespace()) {
            found = Some(i + c.len_utf8());
            after_end = false;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_whole_sentences_and_drops_a_cut_tail() {
        let mut h = SentenceHold::default();
        assert_eq!(h.push("One is"), "");
        assert_eq!(h.push(" done. Two"), "One is done.");
        assert_eq!(h.push(" (yes.)\nThree is cu"), " Two (yes.)\n");
        assert_eq!(h.finish(true), (String::new(), true));
    }

    #[test]
    fn a_refusal_at_the_budget_is_shown_whole() {
        let refusal = "I can't help with that. If you are in danger, call emergency services.";
        let mut h = SentenceHold::default();
        let mut shown = h.push("Sure. ");
        shown.push_str(&h.push(refusal));
        let end = drops_tail(Some(FinishReason::MaxTokens), Verdict::Block);
        shown.push_str(&h.finish(end).0);
        assert_eq!(shown, format!("Sure. {refusal}"));
        assert!(drops_tail(Some(FinishReason::MaxTokens), Verdict::Allow));
        assert!(drops_tail(Some(FinishReason::ContextFull), Verdict::Redact));
        assert!(!drops_tail(Some(FinishReason::EndOfText), Verdict::Allow));
        assert!(!drops_tail(None, Verdict::Allow));
    }

    #[test]
    fn a_finished_answer_keeps_its_tail_and_a_single_fragment_is_kept() {
        let mut h = SentenceHold::default();
        assert_eq!(h.push("Done. Last words"), "Done.");
        assert_eq!(h.finish(false), (" Last words".to_owned(), false));
        let mut h = SentenceHold::default();
        assert_eq!(h.push("no end at all"), "");
        assert_eq!(h.finish(true), ("no end at all".to_owned(), false));
    }
}
