//! Offline evaluation of the learner against the aggregated "average user" on the same data:
//! a documented simulated population ([`population`], [`answers`]) evaluated by
//! [`simulated::evaluate`] (learning curves and recovery after a change of taste), and an
//! external dataset of per-person pairwise choices evaluated by [`external::evaluate_jsonl`].
//! The aggregated baseline and the population prior are fitted in [`fit`]. Nothing here is
//! used at run time; `keel eval prefs` prints these reports.

pub mod aggregate;
pub mod answers;
pub mod external;
pub mod fit;
pub mod ideal;
pub mod mixture;
pub mod population;
pub mod rng;
pub mod setting;
pub mod simulated;
#[cfg(test)]
mod tests;

use crate::prefs::features::FeatureVector;
use crate::prefs::feedback::COMPARISON_WEIGHT;
use crate::prefs::feedback::{ContextKey, Observation};

/// One pairwise choice: `winner` was preferred to `loser` in `context`.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// The context key, if any.
    pub context: Option<ContextKey>,
    /// Features of the chosen answer.
    pub winner: FeatureVector,
    /// Features of the other answer.
    pub loser: FeatureVector,
}

impl Choice {
    /// The learner observation for this choice.
    pub fn observation(&self) -> Observation {
        Observation::Compare {
            context: self.context.clone(),
            winner: self.winner.clone(),
            loser: self.loser.clone(),
            weight: COMPARISON_WEIGHT,
        }
    }
}

/// Credit for predicting a choice from the probability the model gives the winner: 1 when it
/// favours the winner, 0.5 when it cannot tell, 0 otherwise.
pub fn credit(p_winner: f64) -> f64 {
    if (p_winner - 0.5).abs() < 1e-12 {
        0.5
    } else if p_winner > 0.5 {
        1.0
    } else {
        0.0
    }
}
