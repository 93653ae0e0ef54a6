//! Whole sentences for concise answers: when a profile asks for brevity, the answer is
//! released one complete sentence at a time, and if the token budget cuts it off mid-sentence
//! the unfinished tail is never shown, so a concise answer always ends where a sentence ends.
//! It works on text the gate has already released, so it can only hold back more, never less;
//! and it never shortens a refusal: when the gate blocked the answer, the bundle's text is
//! shown whole, whatever stopped the generation. Streamed turns, best-of candidates and judged
//! answers all go through [`SentenceHold`] (a pass-through when the profile is not concise).

use crate::engine::FinishReason;
use crate::safety::Verdict;

/// Holds back the unfinished sentence at the end of the text so far (when `whole_sentences`).
#[derive(Debug)]
pub struct SentenceHold {
    whole_sentences: bool,
    pending: String,
    released_any: bool,
}

impl SentenceHold {
    /// A hold for whole sentences, or a pass-through.
    pub fn new(whole_sentences: bool) -> Self {
        Self {
            whole_sentences,
            pending: String::new(),
            released_any: false,
        }
    }

    /// Take `chunk`; returns the text that now ends on a sentence boundary (all of it for a
    /// pass-through).
    pub fn push(&mut self, chunk: String) -> String {
        if !self.whole_sentences {
            return chunk;
        }
        self.pending.push_str(&chunk);
        match last_boundary(&self.pending) {
            Some(end) => {
                let rest = self.pending.split_off(end);
                self.released_any = true;
                std::mem::replace(&mut self.pending, rest)
            }
            None => String::new(),
        }
    }

    /// The answer ended, for `finish` (none when nothing was generated) with the gate's
    /// `verdict`. Returns the text still to show and whether an unfinished tail was dropped
    /// (see [`drops_tail`]). A cut answer with no complete sentence at all is shown as it is
    /// rather than dropped whole.
    pub fn finish(self, finish: Option<FinishReason>, verdict: Verdict) -> (String, bool) {
        let cut = drops_tail(finish, verdict);
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
fn drops_tail(finish: Option<FinishReason>, verdict: Verdict) -> bool {
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

    const BUDGET: Option<FinishReason> = Some(FinishReason::MaxTokens);
    const END: Option<FinishReason> = Some(FinishReason::EndOfText);

    fn push(h: &mut SentenceHold, text: &str) -> String {
        h.push(text.to_owned())
    }

    #[test]
    fn releases_whole_sentences_and_drops_a_cut_tail() {
        let mut h = SentenceHold::new(true);
        assert_eq!(push(&mut h, "One is"), "");
        assert_eq!(push(&mut h, " done. Two"), "One is done.");
        assert_eq!(push(&mut h, " (yes.)\nThree is cu"), " Two (yes.)\n");
        assert_eq!(h.finish(BUDGET, Verdict::Allow), (String::new(), true));
    }

    #[test]
    fn a_refusal_at_the_budget_is_shown_whole() {
        let refusal = "I can't help with that. If you are in danger, call emergency services.";
        let mut h = SentenceHold::new(true);
        let mut shown = push(&mut h, "Sure. ");
        shown.push_str(&push(&mut h, refusal));
        let (rest, dropped) = h.finish(BUDGET, Verdict::Block);
        shown.push_str(&rest);
        assert_eq!(shown, format!("Sure. {refusal}"));
        assert!(!dropped);
        assert!(drops_tail(BUDGET, Verdict::Allow));
        assert!(drops_tail(Some(FinishReason::ContextFull), Verdict::Redact));
        assert!(!drops_tail(END, Verdict::Allow));
        assert!(!drops_tail(None, Verdict::Allow));
    }

    #[test]
    fn a_finished_answer_keeps_its_tail_and_a_single_fragment_is_kept() {
        let mut h = SentenceHold::new(true);
        assert_eq!(push(&mut h, "Done. Last words"), "Done.");
        assert_eq!(
            h.finish(END, Verdict::Allow),
            (" Last words".to_owned(), false)
        );
        let mut h = SentenceHold::new(true);
        assert_eq!(push(&mut h, "no end at all"), "");
        assert_eq!(
            h.finish(BUDGET, Verdict::Allow),
            ("no end at all".to_owned(), false)
        );
    }

    #[test]
    fn without_whole_sentences_everything_passes_at_once() {
        let mut h = SentenceHold::new(false);
        assert_eq!(push(&mut h, "Half a sent"), "Half a sent");
        assert_eq!(h.finish(BUDGET, Verdict::Allow), (String::new(), false));
    }
}
