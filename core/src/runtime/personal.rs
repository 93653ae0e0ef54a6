//! One personalized chat (DESIGN.md §2, steps 2–7): [`PersonalChat`] serves each person
//! through a [`GatedChat`] by their own learned preferences, and is the door to those
//! preferences (feedback, statements, profile, edits). What a person's preferences change in a
//! turn is compiled in `personal_conditioning.rs`; the running turn, its events, its report and
//! its sealed record are in `personal_turn.rs`.
//!
//! Personalization only changes what is asked of the engine; the gate, its rules and its
//! decisions are the bundle's, the same under every profile.

use std::sync::{Arc, Mutex};

use crate::engine::{ChatMessage, Engine, GenerationParams};
use crate::prefs::{ContextKey, FeedbackEvent, LearnerConfig, PopulationPrior, Profile};
use crate::safety::personalization::Dimension;
use crate::safety::BundleSlot;
use crate::store::Store;

use super::personal_prefs::{FeedbackReport, Personalizer};
use super::{GatedChat, PersonalError, PersonalReport, PersonalTurn};

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
        Ok(PersonalTurn::new(
            turn,
            Arc::clone(self.prefs.store()),
            Arc::clone(&self.recording),
            prepared.meta,
            prepared.concise,
        ))
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
