//! A given answer judged as one person's turn would judge it, for the steering evaluation's
//! check that no profile changes what the gate decides on outputs the bundle blocks. The
//! person's turn is prepared exactly as for generation (their profile compiled into
//! conditioning), then the text is streamed through the bundle's output gate and, for a
//! concise profile, the sentence hold, in the order [`super::PersonalTurn`] applies them to
//! generated text. Nothing is generated and nothing is recorded.

use crate::engine::{ChatMessage, GenerationParams};
use crate::prefs::ContextKey;
use crate::safety::GateReport;

use super::personal_sentences::SentenceHold;
use super::{PersonalChat, PersonalError};

impl PersonalChat {
    /// The text `user` would be shown and the output gate's report if their turn in `context`
    /// answered `prompt` with `chunks` (streamed in that order).
    pub(crate) fn judge_answer(
        &self,
        user: &str,
        context: Option<&ContextKey>,
        prompt: &str,
        chunks: &[&str],
    ) -> Result<(String, GateReport), PersonalError> {
        let prepared = self.prepare(
            user,
            context,
            vec![ChatMessage::user(prompt)],
            GenerationParams::greedy(chunks.len().max(1) as u32),
        )?;
        let mut output = self.gated().gate()?.output();
        let mut hold = prepared.concise.then(SentenceHold::default);
        let mut shown = String::new();
        let mut show = |released: String, hold: &mut Option<SentenceHold>| match hold {
            Some(h) => shown.push_str(&h.push(&released)),
            None => shown.push_str(&released),
        };
        for chunk in chunks {
            show(output.push(chunk), &mut hold);
        }
        let (rest, report) = output.finish();
        show(rest, &mut hold);
        if let Some(h) = hold {
            shown.push_str(&h.finish(false).0);
        }
        Ok((shown, report))
    }
}
