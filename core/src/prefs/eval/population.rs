//! The simulated population (ADR 0032). Each simulated person has a true utility over the
//! latent [`Style`] of an answer — `u = Σ_j w_j (style_j − 0.5)` — and chooses between two
//! answers with a logistic noise model: `P(a ≻ b) = σ(u(a) − u(b))`. People disagree:
//! - length: half like long answers, half like short ones (|w| uniform in 2.5–4.5);
//! - lists: half like lists, half like prose (|w| uniform in 1.5–3);
//! - formality and technical depth: normal around 0 (sd 1.5);
//! - emoji: 75% dislike them (−1.5 to −3), 25% like them (+0.5 to +2);
//! - warmth: mostly liked, with spread (normal, mean 0.8, sd 1) — a shared taste;
//! - 40% of people are context-dependent about length: short at "work", detailed at
//!   "cooking", their own taste in "general".
//!
//! Contexts are drawn uniformly per choice from "work", "cooking" and "general". Both answers of
//! a pair reply to the same prompt (one of [`TOPICS`]) with independently drawn styles; the
//! learner only ever sees features computed from the generated text.

use crate::prefs::eval::answers::{answer, Style, TOPICS};
use crate::prefs::eval::rng::SplitMix64;
use crate::prefs::eval::Choice;
use crate::prefs::features::extract;
use crate::prefs::feedback::ContextKey;
use crate::prefs::gaussian::sigmoid;

/// The context keys of the simulation.
pub const CONTEXTS: [&str; 3] = ["work", "cooking", "general"];
/// Noise of the choice model: `P(a ≻ b) = σ((u(a) − u(b)) / CHOICE_TEMPERATURE)`.
pub const CHOICE_TEMPERATURE: f64 = 0.6;
/// Index of length in the latent style parts.
const LENGTH: usize = 0;

/// One simulated person's true taste.
#[derive(Debug, Clone, PartialEq)]
pub struct SimPerson {
    /// Weights over the latent style parts (see [`Style::parts`]).
    pub weights: [f64; 6],
    /// Whether length preference depends on the context.
    pub context_dependent: bool,
}

impl SimPerson {
    /// Draw a person.
    pub fn draw(rng: &mut SplitMix64) -> Self {
        let weights = [
            rng.sign() * rng.range(2.5, 4.5),
            rng.sign() * rng.range(1.5, 3.0),
            rng.normal(0.0, 1.5),
            if rng.chance(0.75) {
                -rng.range(1.5, 3.0)
            } else {
                rng.range(0.5, 2.0)
            },
            rng.normal(0.0, 1.5),
            rng.normal(0.8, 1.0),
        ];
        Self {
            weights,
            context_dependent: rng.chance(0.4),
        }
    }

    /// The same person after a change of taste: length, list, formality and technical
    /// preferences reversed.
    pub fn flipped(&self) -> Self {
        let mut weights = self.weights;
        for w in &mut weights[..3] {
            *w = -*w;
        }
        weights[4] = -weights[4];
        Self {
            weights,
            context_dependent: self.context_dependent,
        }
    }

    /// The person's weights in `context`.
    pub fn weights_in(&self, context: &str) -> [f64; 6] {
        let mut w = self.weights;
        if self.context_dependent {
            let magnitude = w[LENGTH].abs();
            match context {
                "work" => w[LENGTH] = -magnitude,
                "cooking" => w[LENGTH] = magnitude,
                _ => {}
            }
        }
        w
    }

    /// True utility of an answer of `style` in `context`.
    pub fn utility(&self, style: &Style, context: &str) -> f64 {
        self.weights_in(context)
            .iter()
            .zip(style.parts())
            .map(|(w, s)| w * (s - 0.5))
            .sum()
    }
}

/// A simulated choice with what the oracle would have predicted.
#[derive(Debug, Clone, PartialEq)]
pub struct SimChoice {
    /// What the learner sees.
    pub choice: Choice,
    /// Whether the true utility favours the chosen answer (the oracle's prediction is right).
    pub oracle_right: f64,
    /// The same choice labelled by the true utility instead of the noisy pick: what the
    /// person's taste prefers (ties: as picked).
    pub by_taste: Choice,
    /// The latent style the person judged (see [`Style::parts`]): the chosen answer's minus
    /// the other's. Only the Bayes-ideal ceiling uses it; learners never see it.
    pub seen_difference: [f64; 6],
}

/// Draw one noisy choice of `person` between two answers to one prompt.
pub fn draw_choice(person: &SimPerson, rng: &mut SplitMix64) -> SimChoice {
    let context = *rng.pick(&CONTEXTS);
    let topic = rng.pick(TOPICS);
    let (sa, sb) = (Style::random(rng), Style::random(rng));
    let (ta, tb) = (answer(topic, &sa, rng), answer(topic, &sb, rng));
    let diff = person.utility(&ta.seen, context) - person.utility(&tb.seen, context);
    let a_wins = rng.chance(sigmoid(diff / CHOICE_TEMPERATURE));
    let (fa, fb) = (extract(&ta.text), extract(&tb.text));
    let (winner, loser) = if a_wins {
        (fa.clone(), fb.clone())
    } else {
        (fb.clone(), fa.clone())
    };
    let (pa, pb) = (ta.seen.parts(), tb.seen.parts());
    let sign = if a_wins { 1.0 } else { -1.0 };
    let seen_difference = std::array::from_fn(|j| sign * (pa[j] - pb[j]));
    let context = ContextKey::new(context).expect("simulation context keys are valid");
    let taste_picks_a = if diff == 0.0 { a_wins } else { diff > 0.0 };
    let (t_winner, t_loser) = if taste_picks_a { (fa, fb) } else { (fb, fa) };
    let by_taste = Choice {
        context: Some(context.clone()),
        winner: t_winner,
        loser: t_loser,
    };
    let oracle_right = if diff == 0.0 {
        0.5
    } else if (diff > 0.0) == a_wins {
        1.0
    } else {
        0.0
    };
    SimChoice {
        choice: Choice {
            context: Some(context),
            winner,
            loser,
        },
        oracle_right,
        by_taste,
        seen_difference,
    }
}

/// `n` choices of `person`.
pub fn draw_choices(person: &SimPerson, n: usize, rng: &mut SplitMix64) -> Vec<SimChoice> {
    (0..n).map(|_| draw_choice(person, rng)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_disagree_on_length_and_agree_more_on_emoji() {
        let mut rng = SplitMix64::new(3, 0);
        let people: Vec<SimPerson> = (0..400).map(|_| SimPerson::draw(&mut rng)).collect();
        let like_long = people.iter().filter(|p| p.weights[0] > 0.0).count();
        assert!((150..250).contains(&like_long), "{like_long}");
        let dislike_emoji = people.iter().filter(|p| p.weights[3] < 0.0).count();
        assert!(dislike_emoji > 260, "{dislike_emoji}");
        let p = people
            .iter()
            .find(|p| p.context_dependent)
            .expect("some are");
        assert!(p.weights_in("work")[0] < 0.0 && p.weights_in("cooking")[0] > 0.0);
    }
}
