//! One personalized chat turn (DESIGN.md §2, steps 2–7): the person's learner is rebuilt from
//! their sealed observations, their profile is clamped into the bundle's envelope and
//! compiled into conditioning (a preamble in the system message, a token budget, sampling),
//! the turn runs through the gate exactly as an unpersonalized one ([`GatedChat`]), and the
//! answer shown is recorded as a sealed turn record so feedback can refer to it. The report
//! extends [`TurnReport`] with the turn id and the preferences that shaped the answer.
//!
//! Personalization only changes what is asked of the engine; the gate, its rules and its
//! decisions are the bundle's, the same under every profile.

use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::engine::{CancelHandle, ChatMessage, Engine, FinishReason, GenerationParams, Role};
use crate::prefs::{
    Conditioning, ConditioningBase, ContextKey, FeedbackEvent, Learner, LearnerConfig,
    PopulationPrior, Profile, Shaping, TurnId,
};
use crate::safety::personalization::Dimension;
use crate::safety::{BundleSlot, Verdict};
use crate::store::Store;

use super::personal_prefs::{FeedbackReport, Personalizer};
use super::personal_records::{next_turn_id, prompt_key, save_turn, TurnBody};
use super::personal_sentences::SentenceHold;
use super::{GatedChat, GatedTurn, PersonalError, TurnEvent, TurnReport};

/// A gated chat that serves each person by their own learned preferences.
pub struct PersonalChat {
    gated: GatedChat,
    prefs: Personalizer,
    /// Serializes turn-id allocation and recording within this process.
    recording: Arc<Mutex<()>>,
}

impl std::fmt::Debug for PersonalChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonalChat")
            .field("gated", &self.gated)
            .finish_non_exhaustive()
    }
}

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

/// A personalized turn ready to run: what [`PersonalChat::prepare`] compiled.
pub(super) struct PreparedTurn {
    /// The person's learner as of this turn.
    pub(super) learner: Learner,
    /// The conversation with the preamble.
    pub(super) messages: Vec<ChatMessage>,
    /// The conditioned settings.
    pub(super) params: GenerationParams,
    /// Whether the answer is held to whole sentences.
    pub(super) concise: bool,
    /// What the turn's record and report need.
    pub(super) meta: TurnMeta,
}

impl PersonalChat {
    /// Serve `engine` behind the bundle in `slot`, learning into `store`.
    pub fn new(
        engine: Arc<Engine>,
        slot: BundleSlot,
        store: Arc<Store>,
        prior: PopulationPrior,
        config: LearnerConfig,
    ) -> Result<Self, PersonalError> {
        let prefs = Personalizer::for_slot(store, &slot, prior, config)?;
        Ok(Self::from_parts(GatedChat::new(engine, slot), prefs))
    }

    /// Combine a gated chat with a person's preferences (whose envelope should be the
    /// bundle's, see [`Personalizer::for_slot`]).
    pub fn from_parts(gated: GatedChat, prefs: Personalizer) -> Self {
        Self {
            gated,
            prefs,
            recording: Arc::default(),
        }
    }

    /// The gated chat underneath.
    pub fn gated(&self) -> &GatedChat {
        &self.gated
    }

    /// Serializes turn-id allocation and recording.
    pub(super) fn recording(&self) -> &Mutex<()> {
        &self.recording
    }

    /// The preferences side: feedback, profile, edits.
    pub fn prefs(&self) -> &Personalizer {
        &self.prefs
    }

    /// Start `user`'s turn in `context`: `params` are the settings before personalization.
    pub fn start(
        &self,
        user: &str,
        context: Option<&ContextKey>,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<PersonalTurn, PersonalError> {
        let prepared = self.prepare(user, context, messages, params)?;
        let turn = self.gated.chat(prepared.messages, prepared.params)?;
        Ok(PersonalTurn {
            turn,
            store: Arc::clone(self.prefs.store()),
            recording: Arc::clone(&self.recording),
            meta: prepared.meta,
            hold: prepared.concise.then(SentenceHold::default),
            ready: None,
            text: String::new(),
            finished: false,
        })
    }

    /// The person's learner, and the conditioned conversation and settings for their turn.
    pub(super) fn prepare(
        &self,
        user: &str,
        context: Option<&ContextKey>,
        mut messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<PreparedTurn, PersonalError> {
        params.validate().map_err(crate::Error::from)?;
        let prompt_key = prompt_key(&messages);
        let (learner, skipped) = self.prefs.learner(user)?;
        let mut profile = Profile::compile(&learner, self.prefs.envelope(), context);
        let stated = messages.iter().any(|m| {
            m.role == Role::System
                && crate::prefs::states_a_length(&m.content, self.prefs.envelope())
        });
        if stated {
            // The turn's own word on length beats the learned one (ADR 0035).
            profile
                .preferences
                .retain(|p| p.dimension != Dimension::Verbosity);
        }
        let base = ConditioningBase {
            max_tokens: params.max_tokens,
            temperature: params.sampling.temperature,
            top_p: params.sampling.top_p,
            repeat_penalty: params.sampling.repeat_penalty,
            dry_multiplier: params.sampling.dry_multiplier,
        };
        let conditioning = crate::prefs::compile(&profile, self.prefs.envelope(), &base);
        add_preamble(&mut messages, &conditioning.preamble);
        let params = conditioned(params, &conditioning);
        let concise = conditioning
            .shaped_by
            .iter()
            .any(|s| s.dimension == Dimension::Verbosity && s.weight < 0.0);
        Ok(PreparedTurn {
            learner,
            messages,
            params,
            concise,
            meta: TurnMeta {
                user: user.to_owned(),
                context: context.cloned(),
                prompt_key,
                shaped_by: conditioning.shaped_by,
                max_tokens: conditioning.max_tokens,
                skipped,
            },
        })
    }

    /// Run `user`'s turn to the end: the text shown and the report.
    pub fn chat(
        &self,
        user: &str,
        context: Option<&ContextKey>,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<(String, PersonalReport), PersonalError> {
        self.start(user, context, messages, params)?
            .collect_blocking()
    }

    /// Feedback about one of `user`'s turns (see [`Personalizer::feedback`]).
    pub fn feedback(
        &self,
        user: &str,
        event: &FeedbackEvent,
    ) -> Result<FeedbackReport, PersonalError> {
        self.prefs.feedback(user, event)
    }

    /// An explicit statement not tied to a turn (see [`Personalizer::state`]).
    pub fn state(
        &self,
        user: &str,
        text: &str,
        context: Option<&ContextKey>,
    ) -> Result<FeedbackReport, PersonalError> {
        self.prefs.state(user, text, context)
    }

    /// `user`'s profile in `context`; [`Profile::describe`] puts it in words.
    pub fn profile(
        &self,
        user: &str,
        context: Option<&ContextKey>,
    ) -> Result<Profile, PersonalError> {
        self.prefs.profile(user, context)
    }

    /// Set one preference (see [`Personalizer::edit`]).
    pub fn edit(
        &self,
        user: &str,
        dimension: Dimension,
        value: f64,
        context: Option<&ContextKey>,
    ) -> Result<FeedbackReport, PersonalError> {
        self.prefs.edit(user, dimension, value, context)
    }

    /// Delete one preference (see [`Personalizer::delete`]).
    pub fn delete(
        &self,
        user: &str,
        dimension: Dimension,
        context: Option<&ContextKey>,
    ) -> Result<FeedbackReport, PersonalError> {
        self.prefs.delete(user, dimension, context)
    }
}

/// Put the preamble in front of the system message (or add one).
fn add_preamble(messages: &mut Vec<ChatMessage>, preamble: &str) {
    if preamble.is_empty() {
        return;
    }
    match messages.first_mut() {
        Some(m) if m.role == Role::System => {
            m.content = format!("{preamble}\n\n{}", m.content);
        }
        _ => messages.insert(0, ChatMessage::system(preamble)),
    }
}

/// `params` with the conditioning's budget and sampling; greedy decoding stays greedy.
fn conditioned(mut params: GenerationParams, c: &Conditioning) -> GenerationParams {
    params.max_tokens = c.max_tokens.max(1);
    if params.sampling.temperature > 0.0 {
        params.sampling.temperature = c.temperature;
    }
    params.sampling.top_p = c.top_p;
    params.sampling.repeat_penalty = c.repeat_penalty;
    params.sampling.dry_multiplier = c.dry_multiplier;
    params.sampling.min_tokens = params.sampling.min_tokens.max(c.min_tokens);
    params
}

/// A running personalized turn; the answer is recorded when the gated turn ends.
pub struct PersonalTurn {
    turn: GatedTurn,
    store: Arc<Store>,
    recording: Arc<Mutex<()>>,
    meta: TurnMeta,
    /// For a concise profile: whole sentences only.
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
                        Some(h) => h.push(&c),
                        None => c,
                    };
                    if shown.is_empty() {
                        continue;
                    }
                    self.text.push_str(&shown);
                    return Some(PersonalEvent::Chunk(shown));
                }
                Some(TurnEvent::Done(report)) => {
                    let cut = report.generation.as_ref().is_some_and(|g| {
                        matches!(
                            g.finish,
                            FinishReason::MaxTokens | FinishReason::ContextFull
                        )
                    });
                    let (rest, trimmed) = match self.hold.take() {
                        Some(h) => h.finish(cut),
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
