//! Learner measurements for `keel bench`: the time of one online update of the preference
//! learner (a pairwise choice in a context, features already computed), as the median over
//! batches of many events — from the neutral prior the runtime starts people on, and from a
//! four-component mixture prior (the size `keel eval prefs` fits, ADR 0036), whose update
//! costs one step per component, and from that mixture with a context setting (ADR 0047),
//! whose setting learners double the work — and the time to compute the style features of a
//! typical answer.
//! This module only measures; it builds its own synthetic events in memory.

use std::time::Instant;

use crate::prefs::eval::population::{draw_choices, SimPerson};
use crate::prefs::eval::rng::SplitMix64;
use crate::prefs::features::extract;
use crate::prefs::learner::{
    ContextSetting, Learner, LearnerConfig, PopulationPrior, StyleComponent,
};

/// What `keel bench` reports for the learner.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LearnerBench {
    /// Median microseconds per learner update (one event), from the neutral prior.
    pub learner_update_us: f64,
    /// The same from a four-component mixture prior.
    pub learner_update_mixture_us: f64,
    /// The same from that mixture with a context setting for "work" and "cooking".
    pub learner_update_setting_us: f64,
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
    let neutral = PopulationPrior::neutral(0);
    let mixed = four_sided(&neutral);
    let setting = with_setting(&mixed);
    let per_event = [neutral, mixed, setting].map(|prior| {
        let mut learner = Learner::new(prior, LearnerConfig::default())
            .expect("the bench priors and the default config are valid");
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
        median(&mut per_event)
    });
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
        learner_update_us: per_event[0],
        learner_update_mixture_us: per_event[1],
        learner_update_setting_us: per_event[2],
        feature_extract_us: median(&mut extract_us),
        learner_events: 3 * BATCHES * observations.len(),
    }
}

/// `prior` with its style block a mixture of four components: long or short answers, lists
/// or prose (means ±3 and ±2 on those weights), each a quarter as wide as `prior`.
fn four_sided(prior: &PopulationPrior) -> PopulationPrior {
    use crate::prefs::features::StyleFeature;
    let base = prior.components().remove(0);
    let (length, list) = (
        StyleFeature::Length as usize,
        StyleFeature::ListShare as usize,
    );
    let components: Vec<StyleComponent> = [(3.0, 2.0), (3.0, -2.0), (-3.0, 2.0), (-3.0, -2.0)]
        .iter()
        .map(|&(a, b)| {
            let mut mean = base.mean.clone();
            mean[length] += a;
            mean[list] += b;
            StyleComponent {
                weight: 0.25,
                mean,
                covariance: base.covariance.iter().map(|c| c * 0.25).collect(),
            }
        })
        .collect();
    let mut mixed = prior.clone();
    crate::prefs::eval::mixture::with_mixture(&mut mixed, &components, 1.0);
    mixed
}

/// `prior` where "work" sets short answers and "cooking" long ones for 40% of people (the
/// length and paragraph weights together).
fn with_setting(prior: &PopulationPrior) -> PopulationPrior {
    use crate::prefs::features::{StyleFeature, STYLE_FEATURES};
    let mut direction = vec![0.0; STYLE_FEATURES];
    direction[StyleFeature::Length as usize] = 0.6;
    direction[StyleFeature::Paragraphs as usize] = 0.8;
    let mut with = prior.clone();
    with.context_setting = Some(ContextSetting {
        share: 0.4,
        direction,
        value: [("work".to_string(), -5.0), ("cooking".to_string(), 5.0)].into(),
    });
    with
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
        assert!(
            b.learner_update_mixture_us > 0.0 && b.learner_update_mixture_us <= 100.0,
            "{b:?}"
        );
        // Four learners per person: measured against the budget in BENCHMARKS.md, not here,
        // where a busy machine running other tests beside it would make a bound flaky.
        assert!(
            b.learner_update_setting_us > 0.0 && b.learner_update_setting_us.is_finite(),
            "{b:?}"
        );
        assert!(b.feature_extract_us > 0.0);
    }

    #[test]
    fn the_mixture_bench_prior_has_four_valid_components() {
        let mixed = super::four_sided(&super::PopulationPrior::neutral(0));
        assert_eq!(mixed.mixture.len(), 4);
        assert!(super::Learner::new(mixed, super::LearnerConfig::default()).is_ok());
    }
}
