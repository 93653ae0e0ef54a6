//! The personalization envelope: which preference dimensions may be personalized and within
//! which range, and which behaviours are locked whatever a person prefers. The learner asks
//! [`PersonalizationEnvelope::clamp`] before it uses a preference; the answer is a value inside
//! the envelope or a refusal with a reason a person can read. This module owns that decision;
//! it does not learn, store or generate anything, and nothing in it changes what the gate does.

use serde::{Deserialize, Serialize};

/// A preference dimension. Every value is on a 0.0–1.0 scale; [`Dimension::describe`] says
/// what the two ends mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Short (0) to detailed (1) answers.
    Verbosity,
    /// Casual (0) to formal (1) register.
    Formality,
    /// Plain-language (0) to expert (1) explanations.
    TechnicalDepth,
    /// Neutral (0) to warm (1) tone.
    Warmth,
    /// Serious (0) to playful (1).
    Humour,
    /// Prose (0) to lists (1).
    Format,
    /// No emoji (0) to many (1).
    Emoji,
}

impl Dimension {
    /// Every dimension, in a stable order.
    pub const ALL: [Dimension; 7] = [
        Self::Verbosity,
        Self::Formality,
        Self::TechnicalDepth,
        Self::Warmth,
        Self::Humour,
        Self::Format,
        Self::Emoji,
    ];

    /// The dimension's name as written in bundles and profiles.
    pub fn name(self) -> &'static str {
        match self {
            Self::Verbosity => "verbosity",
            Self::Formality => "formality",
            Self::TechnicalDepth => "technical_depth",
            Self::Warmth => "warmth",
            Self::Humour => "humour",
            Self::Format => "format",
            Self::Emoji => "emoji",
        }
    }

    /// What 0.0 and 1.0 mean, for people.
    pub fn describe(self) -> (&'static str, &'static str) {
        match self {
            Self::Verbosity => ("short", "detailed"),
            Self::Formality => ("casual", "formal"),
            Self::TechnicalDepth => ("plain language", "expert detail"),
            Self::Warmth => ("neutral", "warm"),
            Self::Humour => ("serious", "playful"),
            Self::Format => ("prose", "lists"),
            Self::Emoji => ("no emoji", "many emoji"),
        }
    }
}

/// A behaviour no preference can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LockedBehaviour {
    /// The bundle's safety notices are always appended where a rule says so.
    SafetyNotices,
    /// Refusals of blocked requests stay refusals.
    Refusals,
    /// Facts are not bent to please (no agreeing with a false claim because it is preferred).
    FactualContent,
}

impl LockedBehaviour {
    fn describe(self) -> &'static str {
        match self {
            Self::SafetyNotices => "safety notices",
            Self::Refusals => "refusals",
            Self::FactualContent => "factual content",
        }
    }
}

/// The allowed range of one dimension, and where a new profile starts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionRange {
    /// Lowest allowed value.
    pub min: f64,
    /// Highest allowed value.
    pub max: f64,
    /// The starting value for a new profile.
    pub default: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ranges {
    verbosity: DimensionRange,
    formality: DimensionRange,
    technical_depth: DimensionRange,
    warmth: DimensionRange,
    humour: DimensionRange,
    format: DimensionRange,
    emoji: DimensionRange,
}

/// The envelope as the bundle states it. Immutable once loaded: fields are private.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalizationEnvelope {
    dimensions: Ranges,
    locked: Vec<LockedBehaviour>,
}

/// A preference the envelope accepted, possibly moved inside the range.
#[derive(Debug, Clone, PartialEq)]
pub struct Clamped {
    /// The dimension.
    pub dimension: Dimension,
    /// What was asked for.
    pub requested: f64,
    /// What will be used.
    pub value: f64,
    /// Why the value differs from the request, for people; `None` when it does not.
    pub adjusted: Option<String>,
}

/// A preference or behaviour change the envelope refuses, with a reason a person can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct EnvelopeRefusal {
    /// The reason, for people.
    pub reason: String,
}

impl PersonalizationEnvelope {
    /// Check the envelope is coherent: every range inside 0–1, min ≤ default ≤ max, and the
    /// locked list has no repeats. Returns a reason on failure.
    pub fn validate(&self) -> Result<(), String> {
        for d in Dimension::ALL {
            let r = self.range(d);
            let inside = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
            if !(inside(r.min) && inside(r.max) && inside(r.default)) {
                return Err(format!(
                    "envelope dimension {} must lie within 0.0 to 1.0",
                    d.name()
                ));
            }
            if !(r.min <= r.default && r.default <= r.max) {
                return Err(format!(
                    "envelope dimension {} needs min <= default <= max",
                    d.name()
                ));
            }
        }
        for (i, b) in self.locked.iter().enumerate() {
            if self.locked[..i].contains(b) {
                return Err("envelope lists a locked behaviour twice".into());
            }
        }
        Ok(())
    }

    /// The allowed range of `dimension`.
    pub fn range(&self, dimension: Dimension) -> DimensionRange {
        let r = &self.dimensions;
        match dimension {
            Dimension::Verbosity => r.verbosity,
            Dimension::Formality => r.formality,
            Dimension::TechnicalDepth => r.technical_depth,
            Dimension::Warmth => r.warmth,
            Dimension::Humour => r.humour,
            Dimension::Format => r.format,
            Dimension::Emoji => r.emoji,
        }
    }

    /// Whether `dimension` may be personalized at all (its range is not a single value).
    pub fn is_personalizable(&self, dimension: Dimension) -> bool {
        let r = self.range(dimension);
        r.min < r.max
    }

    /// The locked behaviours.
    pub fn locked(&self) -> &[LockedBehaviour] {
        &self.locked
    }

    /// Whether `behaviour` is locked.
    pub fn is_locked(&self, behaviour: LockedBehaviour) -> bool {
        self.locked.contains(&behaviour)
    }

    /// Bring a requested preference into the envelope. A value outside the range is moved to
    /// the nearest allowed value (with the reason in [`Clamped::adjusted`]); a request on a
    /// dimension the bundle fixes, or a value that is not a number in 0–1, is refused.
    pub fn clamp(&self, dimension: Dimension, requested: f64) -> Result<Clamped, EnvelopeRefusal> {
        let (low, high) = dimension.describe();
        let name = dimension.name().replace('_', " ");
        if !requested.is_finite() || !(0.0..=1.0).contains(&requested) {
            return Err(EnvelopeRefusal {
                reason: format!(
                    "A {name} preference must be a number from 0 ({low}) to 1 ({high})."
                ),
            });
        }
        let r = self.range(dimension);
        if !self.is_personalizable(dimension) {
            if requested == r.min {
                return Ok(Clamped {
                    dimension,
                    requested,
                    value: r.min,
                    adjusted: None,
                });
            }
            return Err(EnvelopeRefusal {
                reason: format!(
                    "The safety bundle fixes {name} at {:.2}; it cannot be personalized.",
                    r.min
                ),
            });
        }
        let value = requested.clamp(r.min, r.max);
        let adjusted = if value < requested {
            Some(format!(
                "The safety bundle allows {name} up to {:.2} (towards {high}); using {:.2}.",
                r.max, value
            ))
        } else if value > requested {
            Some(format!(
                "The safety bundle allows {name} down to {:.2} (towards {low}); using {:.2}.",
                r.min, value
            ))
        } else {
            None
        };
        Ok(Clamped {
            dimension,
            requested,
            value,
            adjusted,
        })
    }

    /// A request to change a behaviour: refused with a reason when the behaviour is locked.
    pub fn request_behaviour_change(
        &self,
        behaviour: LockedBehaviour,
    ) -> Result<(), EnvelopeRefusal> {
        if self.is_locked(behaviour) {
            return Err(EnvelopeRefusal {
                reason: format!(
                    "{} are fixed by the safety bundle and cannot be changed by preferences.",
                    capitalize(behaviour.describe())
                ),
            });
        }
        Ok(())
    }

    /// The default value of every dimension.
    pub fn defaults(&self) -> Vec<(Dimension, f64)> {
        Dimension::ALL
            .iter()
            .map(|&d| (d, self.range(d).default))
            .collect()
    }
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> PersonalizationEnvelope {
        let r = |min, max, default| DimensionRange { min, max, default };
        PersonalizationEnvelope {
            dimensions: Ranges {
                verbosity: r(0.1, 0.9, 0.5),
                formality: r(0.0, 1.0, 0.5),
                technical_depth: r(0.0, 1.0, 0.5),
                warmth: r(0.2, 0.8, 0.5),
                humour: r(0.0, 0.6, 0.2),
                format: r(0.0, 1.0, 0.3),
                emoji: r(0.0, 0.0, 0.0),
            },
            locked: vec![LockedBehaviour::Refusals, LockedBehaviour::SafetyNotices],
        }
    }

    #[test]
    fn values_inside_pass_outside_are_clamped_with_a_reason() {
        let e = envelope();
        assert!(e.validate().is_ok());
        let inside = e.clamp(Dimension::Verbosity, 0.4).expect("inside");
        assert_eq!((inside.value, inside.adjusted), (0.4, None));
        let high = e.clamp(Dimension::Humour, 1.0).expect("clamped");
        assert_eq!(high.value, 0.6);
        assert!(high.adjusted.expect("reason").contains("up to 0.60"));
        let low = e.clamp(Dimension::Verbosity, 0.0).expect("clamped");
        assert_eq!(low.value, 0.1);
    }

    #[test]
    fn fixed_dimensions_bad_numbers_and_locked_behaviours_are_refused() {
        let e = envelope();
        let fixed = e.clamp(Dimension::Emoji, 0.7).expect_err("fixed");
        assert!(fixed.reason.contains("cannot be personalized"));
        assert!(e.clamp(Dimension::Emoji, 0.0).is_ok());
        assert!(e.clamp(Dimension::Warmth, f64::NAN).is_err());
        assert!(e.clamp(Dimension::Warmth, 1.5).is_err());
        let locked = e
            .request_behaviour_change(LockedBehaviour::Refusals)
            .expect_err("locked");
        assert!(locked.reason.starts_with("Refusals are fixed"));
        assert!(e
            .request_behaviour_change(LockedBehaviour::FactualContent)
            .is_ok());
    }

    #[test]
    fn incoherent_envelopes_are_invalid() {
        let mut e = envelope();
        e.dimensions.warmth.default = 0.9;
        assert!(e.validate().is_err());
    }
}
