//! The profile: what Keel believes a person prefers, per envelope dimension, in words a person
//! can read and change. Each preference has a value (0–1, clamped into the envelope), a
//! confidence, how much evidence stands behind it and where it came from. The profile is a
//! view compiled from the [`Learner`]; a person's edit or deletion is an [`Observation`] that
//! goes through the learner, so the learner stays the one source of truth and can be rebuilt
//! from the event log.

use serde::{Deserialize, Serialize};

use crate::prefs::feedback::{ContextKey, Observation};
use crate::prefs::gaussian::{normal_cdf, sigmoid};
use crate::prefs::learner::Learner;
use crate::prefs::PrefsError;
use crate::safety::personalization::{Dimension, PersonalizationEnvelope};

/// Log-odds of the profile value per unit of learner lean: `value = σ(logit(default) +
/// lean / LEAN_SCALE)`.
pub const LEAN_SCALE: f64 = 2.0;
/// Values are kept this far from 0 and 1 when converted to log-odds.
const EDGE: f64 = 0.02;

/// Where a preference's current value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Nothing about this person yet: the population's starting point.
    Population,
    /// Learned from the person's feedback.
    Learned,
    /// Said by the person in a statement ("I prefer short answers").
    Stated,
    /// Set by the person in their profile.
    Edited,
}

impl Source {
    /// The source in words.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Population => "starting point",
            Self::Learned => "learned from feedback",
            Self::Stated => "you said so",
            Self::Edited => "you set it",
        }
    }
}

/// One dimension of the profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preference {
    /// The dimension.
    pub dimension: Dimension,
    /// The value used, 0–1, inside the envelope.
    pub value: f64,
    /// The learner's lean on the dimension (log-odds per unit of feature; 0 is none).
    pub lean: f64,
    /// How sure the direction of the lean is, 0–1.
    pub confidence: f64,
    /// Feedback events that carried evidence about the dimension.
    pub evidence: u32,
    /// Where the value comes from.
    pub source: Source,
    /// The envelope's reason when it moved or fixed the value.
    pub adjusted: Option<String>,
}

/// A person's profile in one context (or globally).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The context the profile is for; `None` is the person's global profile.
    pub context: Option<ContextKey>,
    /// One preference per dimension, in [`Dimension::ALL`] order.
    pub preferences: Vec<Preference>,
}

impl Profile {
    /// Compile the profile of `learner` in `context`, every value clamped into `envelope`.
    pub fn compile(
        learner: &Learner,
        envelope: &PersonalizationEnvelope,
        context: Option<&ContextKey>,
    ) -> Profile {
        let preferences = Dimension::ALL
            .iter()
            .map(|&dimension| {
                let (lean, sd) = learner.lean(dimension, context);
                let default = envelope.range(dimension).default;
                let wanted = value_for_lean(lean, default);
                let (value, adjusted) = match envelope.clamp(dimension, wanted) {
                    Ok(c) => (c.value, c.adjusted),
                    Err(refusal) => (envelope.range(dimension).min, Some(refusal.reason)),
                };
                let confidence = if sd > 0.0 {
                    2.0 * normal_cdf(lean.abs() / sd) - 1.0
                } else {
                    1.0
                };
                Preference {
                    dimension,
                    value,
                    lean,
                    confidence,
                    evidence: learner.evidence(dimension, None),
                    source: learner.source(dimension, context),
                    adjusted,
                }
            })
            .collect();
        Profile {
            context: context.cloned(),
            preferences,
        }
    }

    /// The preference on `dimension`.
    pub fn get(&self, dimension: Dimension) -> &Preference {
        self.preferences
            .iter()
            .find(|p| p.dimension == dimension)
            .expect("a compiled profile has every dimension")
    }

    /// The profile in words, one line per dimension.
    pub fn describe(&self) -> Vec<String> {
        self.preferences
            .iter()
            .map(|p| {
                let (low, high) = p.dimension.describe();
                let side = if p.value < 0.4 {
                    low
                } else if p.value > 0.6 {
                    high
                } else {
                    "balanced"
                };
                let mut line = format!(
                    "{}: {} ({:.2}), confidence {:.0}%, {} event{} of evidence, {}",
                    p.dimension.name().replace('_', " "),
                    side,
                    p.value,
                    p.confidence * 100.0,
                    p.evidence,
                    if p.evidence == 1 { "" } else { "s" },
                    p.source.describe()
                );
                if let Some(reason) = &p.adjusted {
                    line.push_str(" — ");
                    line.push_str(reason);
                }
                line
            })
            .collect()
    }
}

/// The observation that sets `dimension` to `value` because the person edited their profile:
/// refused when the envelope fixes the dimension, moved inside its range otherwise.
pub fn edit_preference(
    dimension: Dimension,
    value: f64,
    context: Option<ContextKey>,
    envelope: &PersonalizationEnvelope,
) -> Result<Observation, PrefsError> {
    if !value.is_finite() || !(0.0..=1.0).contains(&value) {
        return Err(PrefsError::BadValue);
    }
    let clamped = envelope
        .clamp(dimension, value)
        .map_err(|r| PrefsError::Refused { reason: r.reason })?;
    Ok(Observation::SetLean {
        context,
        dimension,
        lean: lean_for_value(clamped.value, envelope.range(dimension).default),
        source: crate::prefs::profile::Source::Edited,
    })
}

/// The observation that deletes the person's preference on `dimension` (in `context`, or
/// everywhere): learned evidence, statements and edits on it are dropped.
pub fn delete_preference(dimension: Dimension, context: Option<ContextKey>) -> Observation {
    Observation::Clear { context, dimension }
}

/// Profile value for a learner lean, around the envelope's default.
pub fn value_for_lean(lean: f64, default: f64) -> f64 {
    sigmoid(logit(default) + lean / LEAN_SCALE)
}

/// Learner lean for a profile value, around the envelope's default (inverse of
/// [`value_for_lean`], with values kept 0.02 from the ends).
pub fn lean_for_value(value: f64, default: f64) -> f64 {
    LEAN_SCALE * (logit(value) - logit(default))
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(EDGE, 1.0 - EDGE);
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::prefs::learner::{LearnerConfig, PopulationPrior};

    /// A test envelope: emoji allowed up to 0.5, verbosity from 0.1, every behaviour locked.
    pub(crate) fn envelope() -> PersonalizationEnvelope {
        envelope_json(r#"{"min":0.0,"max":0.7,"default":0.2}"#)
    }

    /// The same envelope with humour fixed at 0.
    pub(crate) fn envelope_with_fixed_humour() -> PersonalizationEnvelope {
        envelope_json(r#"{"min":0.0,"max":0.0,"default":0.0}"#)
    }

    fn envelope_json(humour: &str) -> PersonalizationEnvelope {
        let json = format!(
            r#"{{"dimensions":{{
              "verbosity":{{"min":0.1,"max":1.0,"default":0.5}},
              "formality":{{"min":0.0,"max":1.0,"default":0.5}},
              "technical_depth":{{"min":0.0,"max":1.0,"default":0.4}},
              "warmth":{{"min":0.2,"max":0.9,"default":0.5}},
              "humour":{humour},
              "format":{{"min":0.0,"max":1.0,"default":0.3}},
              "emoji":{{"min":0.0,"max":0.5,"default":0.0}}}},
              "locked":["safety_notices","refusals","factual_content"]}}"#
        );
        let e: PersonalizationEnvelope = serde_json::from_str(&json).expect("test envelope parses");
        e.validate().expect("test envelope is coherent");
        e
    }

    #[test]
    fn lean_and_value_are_inverse() {
        for v in [0.05, 0.3, 0.5, 0.9] {
            for d in [0.1, 0.5, 0.7] {
                assert!((value_for_lean(lean_for_value(v, d), d) - v).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn a_new_profile_sits_at_the_defaults_with_population_source() {
        let learner = Learner::new(PopulationPrior::neutral(0), LearnerConfig::default())
            .expect("valid learner");
        let e = envelope();
        let p = Profile::compile(&learner, &e, None);
        for pref in &p.preferences {
            let r = e.range(pref.dimension);
            assert!((pref.value - r.default).abs() <= EDGE + 1e-9, "{pref:?}");
            assert_eq!((pref.source, pref.evidence), (Source::Population, 0));
        }
        assert_eq!(p.describe().len(), 7);
    }

    #[test]
    fn edits_are_applied_clamped_or_refused_and_deletes_restore() {
        let e = envelope();
        let mut learner = Learner::new(PopulationPrior::neutral(0), LearnerConfig::default())
            .expect("valid learner");
        let edit = edit_preference(Dimension::Formality, 0.9, None, &e).expect("allowed");
        learner.observe(&edit).expect("edit applies");
        let p = Profile::compile(&learner, &e, None);
        assert!((p.get(Dimension::Formality).value - 0.9).abs() < 1e-9);
        assert_eq!(p.get(Dimension::Formality).source, Source::Edited);
        let emoji = edit_preference(Dimension::Emoji, 1.0, None, &e).expect("clamped");
        learner.observe(&emoji).expect("edit applies");
        let p = Profile::compile(&learner, &e, None);
        assert!((p.get(Dimension::Emoji).value - 0.5).abs() < 1e-6);
        let fixed = envelope_with_fixed_humour();
        assert!(matches!(
            edit_preference(Dimension::Humour, 0.5, None, &fixed),
            Err(PrefsError::Refused { .. })
        ));
        assert_eq!(
            edit_preference(Dimension::Humour, 1.5, None, &e),
            Err(PrefsError::BadValue)
        );
        learner
            .observe(&delete_preference(Dimension::Formality, None))
            .expect("delete applies");
        let p = Profile::compile(&learner, &e, None);
        assert!((p.get(Dimension::Formality).value - 0.5).abs() < 1e-9);
        assert_eq!(p.get(Dimension::Formality).source, Source::Population);
    }
}
