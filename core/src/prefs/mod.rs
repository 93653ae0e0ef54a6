//! Preferences: learning what each person prefers from their own feedback, and compiling it
//! into what the engine uses.
//!
//! This module owns feedback events and their validation ([`feedback`]), the interpretable
//! style features of an answer ([`features`]), the per-person Bayesian Bradley–Terry learner
//! ([`learner`]), the parser for explicit statements ([`statements`]), the person-facing
//! profile ([`profile`]), conditioning, best-of-n ranking and explanations ([`condition`]),
//! and the offline evaluation against the aggregated "average user" ([`eval`]).
//!
//! It is pure computation: it does not open the store, run the engine or touch the gate. It
//! reads the bundle's [`PersonalizationEnvelope`](crate::safety::personalization) to clamp or
//! refuse a preference and may not change it; nothing here can alter what the gate does.
//! Errors and logs never carry a person's text (statements, answers, edits).

pub mod condition;
pub mod error;
pub mod eval;
pub mod features;
pub mod feedback;
mod full_gaussian;
mod gaussian;
pub mod learner;
mod number_words;
#[cfg(test)]
mod prior_tests;
pub mod profile;
pub mod statements;
#[cfg(test)]
mod tests;

pub use condition::{
    compile, rank, states_a_length, Conditioning, ConditioningBase, RankedCandidate, Shaping,
};
pub use error::PrefsError;
pub use features::{extract, FeatureVector, StyleFeature, STYLE_FEATURES};
pub use feedback::{
    resolve, ContextKey, FeedbackEvent, FeedbackKind, Observation, Resolved, TurnAnswer, TurnId,
    TurnLookup,
};
pub use learner::{ContextSetting, Learner, LearnerConfig, PopulationPrior};
pub use profile::{Preference, Profile, Source};
pub use statements::{parse_statement, StatementOutcome};
