//! A given answer judged as one person's turn would judge it, for the steering evaluation's
//! check that no profile changes what the gate decides on outputs the bundle blocks. The
//! person's turn is prepared exactly as for generation (their profile compiled into
//! conditioning), then the text is streamed through the bundle's output gate and, for a
//! concise profile, the sentence hold, in the order [`super::PersonalTurn`] applies them to
//! generated text, and ended as a turn ends (the same rule for a tail cut by the token
//! budget). Nothing is generated and nothing is recorded.

use crate::engine::{ChatMessage, FinishReason, GenerationParams};
use crate::prefs::ContextKey;
use crate::safety::GateReport;

use super::personal_sentences::SentenceHold;
use super::{PersonalChat, PersonalError};

impl PersonalChat {
    /// The text `user` would be shown and the output gate's report if their turn in `context`
    /// answered `prompt` with `chunks` (streamed in that order) and then stopped, at the
    /// token budget when `budget_reached`, else at its natural end.
    pub(crate) fn judge_answer(
        &self,
        user: &str,
        context: Option<&ContextKey>,
        prompt: &str,
        chunks: &[&str],
        budget_reached: bool,
    ) -> Result<(String, GateReport), PersonalError> {
        // The settings only need to be valid: nothing is generated.
        let prepared = self.prepare(
            user,
            context,
            vec![ChatMessage::user(prompt)],
            GenerationParams::greedy(1),
        )?;
        let mut output = self.gated().gate()?.output();
        let mut hold = SentenceHold::new(prepared.concise);
        let mut shown = String::new();
        for chunk in chunks {
            shown.push_str(&hold.push(output.push(chunk)));
        }
        let (rest, report) = output.finish();
        shown.push_str(&hold.push(rest));
        let finish = if budget_reached {
            FinishReason::MaxTokens
        } else {
            FinishReason::EndOfText
        };
        shown.push_str(&hold.finish(Some(finish), report.verdict).0);
        Ok((shown, report))
    }
}
