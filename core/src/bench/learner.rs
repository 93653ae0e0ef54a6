//! Learner measurements for `keel bench`: the time of one online update of the preference
//! learner (a pairwise choice in a context, features already computed), as the median over
//! batches of many events, and the time to compute the style features of a typical answer.
//! This module only measures; it builds its own synthetic events in memory.

use std::time::Instant;

use crate::prefs::eval::population::{draw_choices, SimPerson};
use crate::prefs::eval::rng::SplitMix64;
use crate::prefs::features::extract;
use crate::prefs::learner::{Learner, LearnerConfig, PopulationPrior};

/// What `keel bench` reports for the learner.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LearnerBench {
    /// Median microseconds per learner update (one event).
    pub learner_update_us: f64,
    /// Median microseconds to compute the style features of a typical answer.
    pub feature_extract_us: f64,
    /// Events measured in all.
    pub learner_events: usize,
}

const DISTINCT_EVENTS: usize = 500;
const BATCHES: usize = 41;

/// Measure the learner.
pub fn measure() -> LearnerBench {
    let mut rng = SplitMix64::new(0x6b65_656c, 0);
    let person = SimPerson::draw(&mut rng);
    let choices = draw_choices(&person, DISTINCT_EVENTS, &mut rng);
    let observations: Vec<_> = choices.iter().map(|c| c.choice.observation()).collect();
    let mut learner = Learner::new(PopulationPrior::neutral(0), LearnerConfig::default())
        .expect("the neutral prior and default config are valid");
    let mut per_event = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let start = Instant::now();
        for o in &observations {
            learner
                .observe(std::hint::black_box(o))
                .expect("simulated observations are valid");
        }
        per_event.push(start.elapsed().as_secs_f64() * 1e6 / observations.len() as f64);
    }
    let text = "Bread rises because yeast ferments the sugars in the dough. Knead it until it \
                is smooth, then let it rest somewhere warm for about an hour.\n\n- Shape it.\n\
                - Bake it until golden. Would you like a recipe?";
    let mut extract_us = Vec::with_capacity(BATCHES);
    for _ in 0..BATCHES {
        let start = Instant::now();
        for _ in 0..100 {
            std::hint::black_box(extract(std::hint::black_box(text)));
        }
        extract_us.push(start.elapsed().as_secs_f64() * 1e6 / 100.0);
    }
    LearnerBench {
        learner_update_us: median(&mut per_event),
        feature_extract_us: median(&mut extract_us),
        learner_events: BATCHES * observations.len(),
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_update_is_well_under_the_budget() {
        let b = super::measure();
        assert!(
            b.learner_update_us > 0.0 && b.learner_update_us <= 100.0,
            "{b:?}"
        );
        assert!(b.feature_extract_us > 0.0);
    }
}
