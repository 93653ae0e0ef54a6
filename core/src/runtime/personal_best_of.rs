//! Best-of-n for one personalized turn (issue 5, "Conditioning"): `n` candidate answers to
//! the same conditioned conversation, each through the gate exactly like any turn, ranked by
//! the person's own model; the best unblocked one is the answer, recorded as the turn.
//!
//! The engine serves one generation at a time, so the candidates are generated one after
//! another, not in one batch: the cost is about `n` times the tokens and time of one answer,
//! and the report says how much. Candidate 0 uses the turn's own settings; the others draw
//! with other seeds (at temperature 0.8 when the turn is greedy, or every candidate would be
//! the same). Nothing is shown until all candidates are in, and the candidates not chosen are
//! neither shown nor stored. A concise profile's answers are held to whole sentences before
//! they are ranked, as in a streamed turn.

use serde::Serialize;

use crate::engine::{CancelHandle, ChatMessage, EngineError, GenerationParams};
use crate::prefs::{extract, ContextKey};
use crate::safety::Verdict;

use super::personal_sentences::SentenceHold;
use super::personal_turn::record_turn;
use super::{PersonalChat, PersonalError, PersonalReport, TurnReport};

/// The most candidates one turn may ask for.
pub const MAX_CANDIDATES: u32 = 8;
// The range in `best_of`'s error text names this bound.
const _: () = assert!(MAX_CANDIDATES == 8);
/// Temperature for the extra candidates of a greedy turn.
const DRAW_TEMPERATURE: f32 = 0.8;

/// One candidate of a best-of-n turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateReport {
    /// The candidate's place in generation order.
    pub index: usize,
    /// The person's utility for the answer (`None`: blocked by the gate, not ranked).
    pub score: Option<f64>,
    /// Tokens generated for it.
    pub tokens: usize,
    /// Whether the gate blocked it.
    pub blocked: bool,
}

/// How a best-of-n answer was chosen and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BestOf {
    /// Which candidate was chosen.
    pub chosen: usize,
    /// Every candidate, in generation order.
    pub candidates: Vec<CandidateReport>,
    /// Tokens generated for all candidates together (the cost; one answer's is in `turn`).
    pub total_tokens: usize,
    /// Wall time for all candidates, in milliseconds.
    pub total_ms: f64,
}

/// A best-of-n turn: the recorded turn (the chosen candidate's report) and the choice.
#[derive(Debug, Clone, Serialize)]
pub struct BestOfReport {
    /// The recorded turn: the chosen candidate's report.
    pub turn: PersonalReport,
    /// How it was chosen and what it cost.
    pub best_of: BestOf,
}

impl PersonalChat {
    /// Answer `user` with the best of `n` candidates (1 to [`MAX_CANDIDATES`]) by their own
    /// model; blocking. Returns the answer shown and the report. When every candidate is
    /// blocked, the first candidate's refusal is the answer; when the request itself is
    /// blocked, no further candidate is tried.
    pub fn best_of(
        &self,
        user: &str,
        context: Option<&ContextKey>,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
        n: u32,
    ) -> Result<(String, BestOfReport), PersonalError> {
        self.best_of_with(user, context, messages, params, n, &mut |_| true)
    }

    /// [`PersonalChat::best_of`], asking `go_on` before each candidate (with its cancel
    /// handle, so the caller can stop a running candidate) and after it (with `None`); when
    /// `go_on` says no, the turn ends with [`crate::Error::Cancelled`] and records nothing.
    pub fn best_of_with(
        &self,
        user: &str,
        context: Option<&ContextKey>,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
        n: u32,
        go_on: &mut dyn FnMut(Option<CancelHandle>) -> bool,
    ) -> Result<(String, BestOfReport), PersonalError> {
        check_candidates(n).map_err(crate::Error::from)?;
        let started = std::time::Instant::now();
        let prepared = self.prepare(user, context, messages, params)?;
        let mut shown = Vec::new();
        for i in 0..n {
            let params = candidate_params(&prepared.params, i);
            let turn = self.gated().chat(prepared.messages.clone(), params)?;
            if !go_on(turn.cancel_handle()) {
                return Err(crate::Error::Cancelled.into());
            }
            let (text, report) = turn.collect_blocking()?;
            if !go_on(None) {
                return Err(crate::Error::Cancelled.into());
            }
            let input_blocked = report.input.verdict == Verdict::Block;
            shown.push(held(text, report, prepared.concise));
            if input_blocked {
                // The request itself was refused: every candidate would be the same refusal.
                break;
            }
        }
        let unblocked: Vec<usize> = (0..shown.len())
            .filter(|&i| shown[i].1.verdict != Verdict::Block)
            .collect();
        let features: Vec<_> = unblocked.iter().map(|&i| extract(&shown[i].0)).collect();
        let ranked = crate::prefs::rank(&prepared.learner, context, &features)?;
        let mut scores = vec![None; shown.len()];
        for r in &ranked {
            scores[unblocked[r.index]] = Some(r.score);
        }
        let chosen = ranked.first().map_or(0, |r| unblocked[r.index]);
        let candidates: Vec<CandidateReport> = shown
            .iter()
            .enumerate()
            .map(|(index, (_, report, _))| CandidateReport {
                index,
                score: scores[index],
                tokens: tokens(report),
                blocked: report.verdict == Verdict::Block,
            })
            .collect();
        let total_tokens = candidates.iter().map(|c| c.tokens).sum();
        let (text, report, trimmed) = shown.swap_remove(chosen);
        let turn = record_turn(
            self.prefs().store(),
            self.recording(),
            prepared.meta,
            &text,
            report,
            trimmed,
        )?;
        Ok((
            text,
            BestOfReport {
                turn,
                best_of: BestOf {
                    chosen,
                    candidates,
                    total_tokens,
                    total_ms: started.elapsed().as_secs_f64() * 1000.0,
                },
            },
        ))
    }
}

/// `n` candidates are allowed: 1 to [`MAX_CANDIDATES`]. The one range check for best-of:
/// [`ChatOptions::params`](super::ChatOptions::params) and [`PersonalChat::best_of`] use it,
/// and callers that refuse a bad value before queueing it (`keel serve`) ask it too.
pub fn check_candidates(n: u32) -> Result<(), EngineError> {
    if (1..=MAX_CANDIDATES).contains(&n) {
        return Ok(());
    }
    Err(EngineError::InvalidSampling {
        parameter: "best_of",
        value: n.to_string(),
        expected: "from 1 to 8 candidates",
    })
}

/// Candidate `i`'s settings: the turn's own for the first, another seed for the rest.
fn candidate_params(params: &GenerationParams, i: u32) -> GenerationParams {
    let mut p = params.clone();
    if i > 0 {
        p.sampling.seed = p.sampling.seed.wrapping_add(i);
        if p.sampling.is_greedy() {
            p.sampling.temperature = DRAW_TEMPERATURE;
        }
    }
    p
}

/// The text a streamed turn would have shown (whole sentences for a concise profile), its
/// report, and whether an unfinished tail was dropped.
fn held(text: String, report: TurnReport, concise: bool) -> (String, TurnReport, bool) {
    let mut hold = SentenceHold::new(concise);
    let mut shown = hold.push(text);
    let (rest, trimmed) = hold.finish(report.generation.as_ref().map(|g| g.finish), report.verdict);
    shown.push_str(&rest);
    (shown, report, trimmed)
}

fn tokens(report: &TurnReport) -> usize {
    report.generation.as_ref().map_or(0, |g| g.generated_tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_candidate_keeps_the_turn_settings_and_the_others_draw() {
        let greedy = GenerationParams::greedy(64);
        assert_eq!(candidate_params(&greedy, 0), greedy);
        let second = candidate_params(&greedy, 1);
        assert!(!second.sampling.is_greedy());
        assert_ne!(second.sampling.seed, greedy.sampling.seed);
        assert_ne!(
            candidate_params(&greedy, 2).sampling.seed,
            second.sampling.seed
        );
    }
}
