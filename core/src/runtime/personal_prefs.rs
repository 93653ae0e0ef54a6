//! A person's preferences backed by the encrypted store: the learner rebuilt from their
//! stored observations, the profile clamped into the bundle's envelope, and feedback —
//! checked against the stored turns, stored sealed, and reported clause by clause.
//! No engine is needed here, so `keel feedback` can use it without loading a model.

use std::sync::Arc;

use serde::Serialize;

use crate::prefs::{
    self, compile, profile, Conditioning, ConditioningBase, ContextKey, FeedbackEvent,
    FeedbackKind, Learner, LearnerConfig, Observation, PopulationPrior, PrefsError, Profile,
    StatementOutcome, TurnId,
};
use crate::safety::personalization::{Dimension, PersonalizationEnvelope};
use crate::safety::{default_bundle, BundleSlot};
use crate::store::Store;

use super::personal_records::{
    load_observations, save_observations, save_statement, statement_observations, StoredTurns,
};
use super::PersonalError;

/// What one clause of feedback amounted to, for the person.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// The learner took it into account (a rating, choice, edit or regenerate).
    Learned {
        /// The kind of evidence.
        kind: &'static str,
    },
    /// A preference was set (stated, edited) or deleted.
    Applied {
        /// The dimension.
        dimension: Dimension,
        /// The value asked for (absent for a deletion).
        requested: Option<f64>,
        /// The value used, inside the envelope (absent for a deletion).
        value: Option<f64>,
        /// The envelope's reason when the value was moved.
        adjusted: Option<String>,
    },
    /// The envelope refused it; nothing was applied.
    Refused {
        /// The dimension, when the refusal is about one.
        dimension: Option<Dimension>,
        /// Why, for people.
        reason: String,
    },
    /// A clause nothing maps to: stored as a note, not applied.
    Unmapped {
        /// The clause as written.
        note: String,
    },
}

impl From<StatementOutcome> for Outcome {
    fn from(o: StatementOutcome) -> Self {
        match o {
            StatementOutcome::Applied {
                dimension,
                requested,
                value,
                adjusted,
            } => Self::Applied {
                dimension,
                requested: Some(requested),
                value: Some(value),
                adjusted,
            },
            StatementOutcome::Refused { dimension, reason } => Self::Refused { dimension, reason },
            StatementOutcome::Unmapped { note } => Self::Unmapped { note },
        }
    }
}

/// What a feedback call did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackReport {
    /// The turn it was about, if any.
    pub turn: Option<TurnId>,
    /// The store event holding its observations (absent when there was nothing to store).
    pub event_id: Option<i64>,
    /// Observations it amounts to for the learner (notes included).
    pub observations: usize,
    /// What each part amounted to.
    pub outcomes: Vec<Outcome>,
    /// The profile snapshot saved afterwards.
    pub profile_revision: i64,
}

/// A person's learner and profile in the store, judged against one envelope.
#[derive(Debug, Clone)]
pub struct Personalizer {
    store: Arc<Store>,
    envelope: PersonalizationEnvelope,
    prior: PopulationPrior,
    config: LearnerConfig,
}

impl Personalizer {
    /// Learn into `store`, starting every person at `prior`, clamping into `envelope`.
    pub fn new(
        store: Arc<Store>,
        envelope: PersonalizationEnvelope,
        prior: PopulationPrior,
        config: LearnerConfig,
    ) -> Result<Self, PersonalError> {
        Learner::new(prior.clone(), config.clone())?;
        Ok(Self {
            store,
            envelope,
            prior,
            config,
        })
    }

    /// The same, with the envelope of the bundle in `slot`; in developer mode (no bundle) the
    /// default bundle's envelope still bounds personalization.
    pub fn for_slot(
        store: Arc<Store>,
        slot: &BundleSlot,
        prior: PopulationPrior,
        config: LearnerConfig,
    ) -> Result<Self, PersonalError> {
        let envelope = match slot.bundle() {
            Some(b) => b.envelope().clone(),
            None => default_bundle()
                .map_err(crate::Error::from)?
                .envelope()
                .clone(),
        };
        Self::new(store, envelope, prior, config)
    }

    /// The envelope that bounds every preference.
    pub fn envelope(&self) -> &PersonalizationEnvelope {
        &self.envelope
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// `user`'s learner, rebuilt from their stored observations, and how many stored events
    /// could not be read.
    pub fn learner(&self, user: &str) -> Result<(Learner, usize), PersonalError> {
        let (observations, skipped) = load_observations(&self.store, user, &self.envelope)?;
        let mut learner = Learner::new(self.prior.clone(), self.config.clone())?;
        for o in &observations {
            // An observation the learner rejects (e.g. from another prior's embedding size)
            // leaves the state unchanged; it stays stored.
            if learner.observe(o).is_err() {
                tracing::warn!("a stored observation was not applied");
            }
        }
        Ok((learner, skipped))
    }

    /// `user`'s profile in `context`, clamped into the envelope.
    pub fn profile(
        &self,
        user: &str,
        context: Option<&ContextKey>,
    ) -> Result<Profile, PersonalError> {
        let (learner, _) = self.learner(user)?;
        Ok(Profile::compile(&learner, &self.envelope, context))
    }

    /// The conditioning for `user`'s next answer in `context`, from `base` settings.
    pub fn conditioning(
        &self,
        user: &str,
        context: Option<&ContextKey>,
        base: &ConditioningBase,
    ) -> Result<Conditioning, PersonalError> {
        let profile = self.profile(user, context)?;
        Ok(compile(&profile, &self.envelope, base))
    }

    /// Apply feedback about a stored turn: checked against the stored turns and the envelope,
    /// stored sealed, the profile snapshot saved. A rejected event stores nothing and is an
    /// error naming what was wrong; a statement's unmapped clauses are stored as notes.
    pub fn feedback(
        &self,
        user: &str,
        event: &FeedbackEvent,
    ) -> Result<FeedbackReport, PersonalError> {
        let mut ids = vec![&event.turn];
        if let FeedbackKind::Pairwise { other } = &event.kind {
            ids.push(other);
        }
        let turns = StoredTurns::load(&self.store, user, ids)?;
        let resolved = prefs::resolve(event, &turns, &self.envelope)?;
        if let FeedbackKind::Statement { text } = &event.kind {
            // Kept as written; its observations are derived from it on every rebuild.
            let id = save_statement(
                &self.store,
                user,
                text,
                Some(&event.turn),
                event.context.as_ref(),
            )?;
            let outcomes = resolved.outcomes.into_iter().map(Outcome::from).collect();
            return self.report(
                user,
                Some(&event.turn),
                Some(id),
                resolved.observations.len(),
                outcomes,
            );
        }
        let outcomes = if resolved.outcomes.is_empty() {
            resolved
                .observations
                .iter()
                .map(|o| outcome_of(o, &event.kind))
                .collect()
        } else {
            resolved.outcomes.into_iter().map(Outcome::from).collect()
        };
        self.store_and_report(
            user,
            Some(&event.turn),
            event.context.as_ref(),
            &resolved.observations,
            outcomes,
        )
    }

    /// An explicit statement not tied to a turn ("I prefer short answers"). The text is kept
    /// as a statement event; each clause is applied, refused with the envelope's reason, or
    /// stored as a note.
    pub fn state(
        &self,
        user: &str,
        text: &str,
        context: Option<&ContextKey>,
    ) -> Result<FeedbackReport, PersonalError> {
        if text.trim().is_empty() {
            return Err(PrefsError::EmptyStatement.into());
        }
        let id = save_statement(&self.store, user, text, None, context)?;
        let (observations, outcomes) = statement_observations(text, context, &self.envelope);
        let outcomes = outcomes.into_iter().map(Outcome::from).collect();
        self.report(user, None, Some(id), observations.len(), outcomes)
    }

    /// Set one preference in `user`'s profile (refused when the envelope fixes it, moved
    /// inside its range otherwise).
    pub fn edit(
        &self,
        user: &str,
        dimension: Dimension,
        value: f64,
        context: Option<&ContextKey>,
    ) -> Result<FeedbackReport, PersonalError> {
        let observation =
            profile::edit_preference(dimension, value, context.cloned(), &self.envelope)?;
        let clamped = self.envelope.clamp(dimension, value).ok();
        let outcome = Outcome::Applied {
            dimension,
            requested: Some(value),
            value: clamped.as_ref().map(|c| c.value),
            adjusted: clamped.and_then(|c| c.adjusted),
        };
        self.store_and_report(user, None, context, &[observation], vec![outcome])
    }

    /// Delete one preference from `user`'s profile: it returns to the starting point.
    pub fn delete(
        &self,
        user: &str,
        dimension: Dimension,
        context: Option<&ContextKey>,
    ) -> Result<FeedbackReport, PersonalError> {
        let observation = profile::delete_preference(dimension, context.cloned());
        let outcome = outcome_of(&observation, &FeedbackKind::ClearPreference { dimension });
        self.store_and_report(user, None, context, &[observation], vec![outcome])
    }

    fn store_and_report(
        &self,
        user: &str,
        turn: Option<&TurnId>,
        context: Option<&ContextKey>,
        observations: &[Observation],
        outcomes: Vec<Outcome>,
    ) -> Result<FeedbackReport, PersonalError> {
        let event_id = if observations.is_empty() {
            None
        } else {
            Some(save_observations(
                &self.store,
                user,
                turn,
                context,
                observations,
            )?)
        };
        self.report(user, turn, event_id, observations.len(), outcomes)
    }

    /// Save the profile snapshot after a change and say what the call did.
    fn report(
        &self,
        user: &str,
        turn: Option<&TurnId>,
        event_id: Option<i64>,
        observations: usize,
        outcomes: Vec<Outcome>,
    ) -> Result<FeedbackReport, PersonalError> {
        let profile = self.profile(user, None)?;
        let body = serde_json::to_vec(&profile).map_err(|_| PersonalError::Record("profile"))?;
        let profile_revision = self.store.save_profile(user, &body)?;
        Ok(FeedbackReport {
            turn: turn.cloned(),
            event_id,
            observations,
            outcomes,
            profile_revision,
        })
    }
}

fn outcome_of(o: &Observation, kind: &FeedbackKind) -> Outcome {
    match o {
        Observation::Clear { dimension, .. } => Outcome::Applied {
            dimension: *dimension,
            requested: None,
            value: None,
            adjusted: None,
        },
        Observation::Note { text, .. } => Outcome::Unmapped { note: text.clone() },
        _ => Outcome::Learned {
            kind: match kind {
                FeedbackKind::Rating { up: true } => "rating up",
                FeedbackKind::Rating { up: false } => "rating down",
                FeedbackKind::Pairwise { .. } => "pairwise choice",
                FeedbackKind::Edit { .. } => "edit",
                FeedbackKind::Regenerate => "regenerate",
                FeedbackKind::Statement { .. } => "statement",
                FeedbackKind::SetPreference { .. } => "profile edit",
                FeedbackKind::ClearPreference { .. } => "profile deletion",
            },
        },
    }
}
