//! Feedback events and their validation. An app reports what a person did about a turn
//! ([`FeedbackEvent`]); [`resolve`] checks it against the turns it knows and the envelope and
//! turns it into [`Observation`]s the learner consumes (features, not text, except for an
//! unmapped statement, which is kept as a note so nothing is lost). Observations are what the
//! store keeps: the learner can be rebuilt from them.

use serde::{Deserialize, Serialize};

use crate::prefs::features::{extract, FeatureVector};
use crate::prefs::profile::{self, lean_for_value, Source};
use crate::prefs::statements::{parse_statement, StatementOutcome};
use crate::prefs::PrefsError;
use crate::safety::personalization::{Dimension, PersonalizationEnvelope};

/// Weight of a pairwise choice or an edit (explicit comparisons).
pub const COMPARISON_WEIGHT: f64 = 1.0;
/// Weight of a thumbs up or down (a comparison against the typical answer).
pub const RATING_WEIGHT: f64 = 0.5;
/// Weight of a regenerate (an implicit, noisier signal against the first answer).
pub const REGENERATE_WEIGHT: f64 = 0.3;

/// An opaque id of a chat turn, supplied by the runtime.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TurnId(String);

/// An app-supplied context key ("work", "cooking").
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ContextKey(String);

macro_rules! checked_id {
    ($t:ident, $max:expr, $err:expr) => {
        impl $t {
            /// Check and wrap: 1 to the maximum length in characters, no control characters.
            pub fn new(id: impl Into<String>) -> Result<Self, PrefsError> {
                let id = id.into();
                let n = id.chars().count();
                if n == 0 || n > $max || id.chars().any(char::is_control) || id.trim() != id {
                    return Err($err);
                }
                Ok(Self(id))
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl TryFrom<String> for $t {
            type Error = PrefsError;
            fn try_from(s: String) -> Result<Self, PrefsError> {
                Self::new(s)
            }
        }
        impl From<$t> for String {
            fn from(id: $t) -> String {
                id.0
            }
        }
    };
}
checked_id!(TurnId, 128, PrefsError::BadTurnId);
checked_id!(ContextKey, 64, PrefsError::BadContextKey);

/// What the person did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FeedbackKind {
    /// Thumbs up (`true`) or down on the turn's answer.
    Rating {
        /// Up or down.
        up: bool,
    },
    /// The turn's answer is preferred to `other`, an answer to the same prompt.
    Pairwise {
        /// The answer not chosen.
        other: TurnId,
    },
    /// The person rewrote the answer; their text is preferred to the original.
    Edit {
        /// The person's text.
        edited: String,
    },
    /// The person asked for another answer: an implicit signal against this one.
    Regenerate,
    /// An explicit statement ("I prefer short answers").
    Statement {
        /// What the person said.
        text: String,
    },
    /// The person set one preference in their profile.
    SetPreference {
        /// The dimension.
        dimension: Dimension,
        /// The value, 0–1.
        value: f64,
    },
    /// The person deleted one preference from their profile.
    ClearPreference {
        /// The dimension.
        dimension: Dimension,
    },
}

/// One feedback event: the turn it refers to, an optional context and what was done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackEvent {
    /// The turn the feedback is about.
    pub turn: TurnId,
    /// The app's context key, if any.
    pub context: Option<ContextKey>,
    /// What the person did.
    pub kind: FeedbackKind,
}

/// What the runtime remembers of a turn's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnAnswer {
    /// Identifies the prompt the answer replied to (equal for answers to the same prompt).
    pub prompt_key: String,
    /// The answer text.
    pub text: String,
    /// An embedding of the answer from the engine, if any.
    pub embedding: Option<Vec<f32>>,
}

/// Looks up a turn's answer (the store's turn records, or a map in tests).
pub trait TurnLookup {
    /// The answer of `turn`, if the turn is known.
    fn answer(&self, turn: &TurnId) -> Option<&TurnAnswer>;
}

impl TurnLookup for std::collections::BTreeMap<TurnId, TurnAnswer> {
    fn answer(&self, turn: &TurnId) -> Option<&TurnAnswer> {
        self.get(turn)
    }
}

impl TurnLookup for std::collections::HashMap<TurnId, TurnAnswer> {
    fn answer(&self, turn: &TurnId) -> Option<&TurnAnswer> {
        self.get(turn)
    }
}

/// What the learner consumes: features and targets, in order. Serializable for the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Observation {
    /// `winner` was preferred to `loser`.
    Compare {
        /// Context key.
        context: Option<ContextKey>,
        /// Features of the preferred answer.
        winner: FeatureVector,
        /// Features of the other answer.
        loser: FeatureVector,
        /// Likelihood weight (1 for an explicit choice).
        weight: f64,
    },
    /// An answer was rated against the typical answer.
    Rate {
        /// Context key.
        context: Option<ContextKey>,
        /// Features of the rated answer.
        answer: FeatureVector,
        /// Up or down.
        up: bool,
        /// Likelihood weight.
        weight: f64,
    },
    /// The person stated or set a preference: the dimension's lean becomes `lean`.
    SetLean {
        /// Context key (`None`: everywhere).
        context: Option<ContextKey>,
        /// The dimension.
        dimension: Dimension,
        /// Target lean (see [`profile::lean_for_value`]).
        lean: f64,
        /// Stated or edited.
        source: Source,
    },
    /// The person deleted a preference.
    Clear {
        /// Context key (`None`: everywhere).
        context: Option<ContextKey>,
        /// The dimension.
        dimension: Dimension,
    },
    /// A statement clause that maps to nothing: kept, reported, not applied.
    Note {
        /// Context key.
        context: Option<ContextKey>,
        /// The clause as written.
        text: String,
    },
}

/// The result of resolving one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Observations for the learner (and the store), in order.
    pub observations: Vec<Observation>,
    /// For a statement or profile edit, what each clause amounted to.
    pub outcomes: Vec<StatementOutcome>,
}

/// Check `event` against the known `turns` and the `envelope` and turn it into observations.
pub fn resolve(
    event: &FeedbackEvent,
    turns: &impl TurnLookup,
    envelope: &PersonalizationEnvelope,
) -> Result<Resolved, PrefsError> {
    let answer = turns.answer(&event.turn).ok_or(PrefsError::UnknownTurn)?;
    let context = event.context.clone();
    let features = |a: &TurnAnswer| -> Result<FeatureVector, PrefsError> {
        let f = extract(&a.text);
        match &a.embedding {
            Some(e) => f.with_embedding(e),
            None => Ok(f),
        }
    };
    let single = |o: Observation| Resolved {
        observations: vec![o],
        outcomes: Vec::new(),
    };
    match &event.kind {
        FeedbackKind::Rating { up } => Ok(single(Observation::Rate {
            context,
            answer: features(answer)?,
            up: *up,
            weight: RATING_WEIGHT,
        })),
        FeedbackKind::Regenerate => Ok(single(Observation::Rate {
            context,
            answer: features(answer)?,
            up: false,
            weight: REGENERATE_WEIGHT,
        })),
        FeedbackKind::Pairwise { other } => {
            if *other == event.turn {
                return Err(PrefsError::SameAnswer);
            }
            let loser = turns.answer(other).ok_or(PrefsError::UnknownTurn)?;
            if loser.prompt_key != answer.prompt_key {
                return Err(PrefsError::DifferentPrompts);
            }
            let (winner, loser) = comparable(features(answer)?, features(loser)?);
            Ok(single(Observation::Compare {
                context,
                winner,
                loser,
                weight: COMPARISON_WEIGHT,
            }))
        }
        FeedbackKind::Edit { edited } => {
            if edited.trim().is_empty() {
                return Err(PrefsError::EmptyEdit);
            }
            if edited.trim() == answer.text.trim() {
                return Err(PrefsError::UnchangedEdit);
            }
            let (winner, loser) = comparable(extract(edited), features(answer)?);
            Ok(single(Observation::Compare {
                context,
                winner,
                loser,
                weight: COMPARISON_WEIGHT,
            }))
        }
        FeedbackKind::Statement { text } => {
            if text.trim().is_empty() {
                return Err(PrefsError::EmptyStatement);
            }
            let outcomes = parse_statement(text, envelope);
            let observations = outcomes
                .iter()
                .filter_map(|o| match o {
                    StatementOutcome::Applied {
                        dimension, value, ..
                    } => Some(Observation::SetLean {
                        context: context.clone(),
                        dimension: *dimension,
                        lean: lean_for_value(*value, envelope.range(*dimension).default),
                        source: Source::Stated,
                    }),
                    StatementOutcome::Unmapped { note } => Some(Observation::Note {
                        context: context.clone(),
                        text: note.clone(),
                    }),
                    StatementOutcome::Refused { .. } => None,
                })
                .collect();
            Ok(Resolved {
                observations,
                outcomes,
            })
        }
        FeedbackKind::SetPreference { dimension, value } => Ok(single(profile::edit_preference(
            *dimension, *value, context, envelope,
        )?)),
        FeedbackKind::ClearPreference { dimension } => {
            Ok(single(profile::delete_preference(*dimension, context)))
        }
    }
}

/// Compare embeddings only when both sides have one (an edit has none).
fn comparable(mut a: FeatureVector, mut b: FeatureVector) -> (FeatureVector, FeatureVector) {
    if a.embedding.len() != b.embedding.len() {
        a.embedding.clear();
        b.embedding.clear();
    }
    (a, b)
}

#[cfg(test)]
mod tests;
