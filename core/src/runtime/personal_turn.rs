//! A running personalized turn: the gated turn's text, held to whole sentences for a concise
//! profile, streamed as [`PersonalEvent`]s; when the gated turn ends the answer shown is
//! recorded as a sealed turn record so feedback can refer to it, and the turn ends with a
//! [`PersonalReport`], which extends [`TurnReport`] with the turn id and the preferences that
//! shaped the answer.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::engine::CancelHandle;
use crate::prefs::{ContextKey, Shaping, TurnId};
use crate::safety::Verdict;
use crate::store::Store;

use super::personal_records::{next_turn_id, save_turn, TurnBody};
use super::personal_sentences::SentenceHold;
use super::{GatedTurn, PersonalError, TurnEvent, TurnReport};

/// What happened in one personalized turn.
#[derive(Debug, Clone, Serialize)]
pub struct PersonalReport {
    /// The id feedback refers to.
    pub turn_id: TurnId,
    /// The context the turn was served in.
    pub context: Option<ContextKey>,
    /// The preferences that shaped the answer (weight, confidence, evidence, source).
    pub shaped_by: Vec<Shaping>,
    /// The token budget used.
    pub max_tokens: u32,
    /// A concise answer reached its budget mid-sentence and was ended at its last full
    /// sentence (the unfinished tail was never shown).
    pub ended_on_sentence: bool,
    /// Stored records that could not be read while loading the person's learner.
    pub skipped_records: usize,
    /// The gated turn's report: gate decisions, bundle, generation counts and timings.
    #[serde(flatten)]
    pub turn: TurnReport,
}

/// One item of a personalized turn.
#[derive(Debug)]
pub enum PersonalEvent {
    /// Text the gate released: safe to show.
    Chunk(String),
    /// The turn ended and was recorded; nothing follows.
    Done(Box<PersonalReport>),
    /// The turn failed; nothing follows.
    Failed(PersonalError),
}

/// A running personalized turn; the answer is recorded when the gated turn ends.
pub struct PersonalTurn {
    turn: GatedTurn,
    store: Arc<Store>,
    recording: Arc<Mutex<()>>,
    meta: TurnMeta,
    /// Whole sentences only for a concise profile, else a pass-through; taken when the turn ends.
    hold: Option<SentenceHold>,
    /// The final event, waiting behind the last text.
    ready: Option<PersonalEvent>,
    text: String,
    finished: bool,
}

impl std::fmt::Debug for PersonalTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonalTurn")
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl PersonalTurn {
    /// A turn over the gated `turn`, recorded into `store` under `recording` when it ends;
    /// `concise` holds the answer to whole sentences.
    pub(super) fn new(
        turn: GatedTurn,
        store: Arc<Store>,
        recording: Arc<Mutex<()>>,
        meta: TurnMeta,
        concise: bool,
    ) -> Self {
        Self {
            turn,
            store,
            recording,
            meta,
            hold: Some(SentenceHold::new(concise)),
            ready: None,
            text: String::new(),
            finished: false,
        }
    }

    /// The preferences shaping this answer.
    pub fn shaped_by(&self) -> &[Shaping] {
        &self.meta.shaped_by
    }

    /// A handle that cancels the generation from elsewhere.
    pub fn cancel_handle(&self) -> Option<CancelHandle> {
        self.turn.cancel_handle()
    }

    /// The next event, waiting for it; `None` after the final event.
    pub fn next_blocking(&mut self) -> Option<PersonalEvent> {
        if let Some(event) = self.ready.take() {
            self.finished = true;
            return Some(event);
        }
        if self.finished {
            return None;
        }
        loop {
            let event = match self.turn.next_blocking() {
                Some(TurnEvent::Chunk(c)) => {
                    let shown = match self.hold.as_mut() {
                        Some(h) => h.push(c),
                        None => c,
                    };
                    if shown.is_empty() {
                        continue;
                    }
                    self.text.push_str(&shown);
                    return Some(PersonalEvent::Chunk(shown));
                }
                Some(TurnEvent::Done(report)) => {
                    let (rest, trimmed) = match self.hold.take() {
                        Some(h) => {
                            h.finish(report.generation.as_ref().map(|g| g.finish), report.verdict)
                        }
                        None => (String::new(), false),
                    };
                    self.text.push_str(&rest);
                    let done = match self.record(*report, trimmed) {
                        Ok(r) => PersonalEvent::Done(Box::new(r)),
                        Err(e) => PersonalEvent::Failed(e),
                    };
                    if !rest.is_empty() {
                        self.ready = Some(done);
                        return Some(PersonalEvent::Chunk(rest));
                    }
                    done
                }
                Some(TurnEvent::Failed(e)) => PersonalEvent::Failed(e.into()),
                None => PersonalEvent::Failed(
                    crate::Error::from(crate::engine::EngineError::WorkerGone).into(),
                ),
            };
            self.finished = true;
            return Some(event);
        }
    }

    /// Read to the end: the text shown and the report.
    pub fn collect_blocking(mut self) -> Result<(String, PersonalReport), PersonalError> {
        while let Some(event) = self.next_blocking() {
            match event {
                PersonalEvent::Chunk(_) => {}
                PersonalEvent::Done(report) => return Ok((self.text, *report)),
                PersonalEvent::Failed(e) => return Err(e),
            }
        }
        Err(crate::Error::from(crate::engine::EngineError::WorkerGone).into())
    }

    fn record(
        &mut self,
        turn: TurnReport,
        ended_on_sentence: bool,
    ) -> Result<PersonalReport, PersonalError> {
        let meta = std::mem::take(&mut self.meta);
        record_turn(
            &self.store,
            &self.recording,
            meta,
            &self.text,
            turn,
            ended_on_sentence,
        )
    }
}

/// What a turn's record and report need besides its text.
#[derive(Debug, Default)]
pub(super) struct TurnMeta {
    pub(super) user: String,
    pub(super) context: Option<ContextKey>,
    pub(super) prompt_key: String,
    pub(super) shaped_by: Vec<Shaping>,
    pub(super) max_tokens: u32,
    pub(super) skipped: usize,
}

/// Record `text` (the answer shown) as a sealed turn and build the turn's report.
pub(super) fn record_turn(
    store: &Store,
    recording: &Mutex<()>,
    meta: TurnMeta,
    text: &str,
    turn: TurnReport,
    ended_on_sentence: bool,
) -> Result<PersonalReport, PersonalError> {
    let _guard = recording
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let id = next_turn_id(store, &meta.user)?;
    let body = TurnBody {
        prompt_key: meta.prompt_key,
        text: text.to_owned(),
        context: meta.context.clone(),
        blocked: turn.verdict == Verdict::Block,
    };
    save_turn(store, &meta.user, &id, &body)?;
    Ok(PersonalReport {
        turn_id: id,
        context: meta.context,
        shaped_by: meta.shaped_by,
        max_tokens: meta.max_tokens,
        ended_on_sentence,
        skipped_records: meta.skipped,
        turn,
    })
}
