//! Evaluation on the validation split only: precision, recall and false-positive rate per
//! source and per group, requests scored against the request threshold and answers against the
//! answer threshold at every streaming checkpoint (as the gate cuts them), and the mean time
//! of one check on a whole text.

use std::collections::BTreeMap;
use std::time::Instant;

use serde::Serialize;

use super::data::{Example, Group, Split};
use super::model::Classifier;
use super::train::Thresholds;

/// Counts and rates for one source or group.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metrics {
    /// Examples.
    pub n: usize,
    /// Harmful examples.
    pub positives: usize,
    /// Harmful and flagged.
    pub tp: usize,
    /// Safe but flagged.
    pub fp: usize,
    /// TP / (TP + FP); `null` when nothing was flagged.
    pub precision: Option<f64>,
    /// TP / positives; `null` without positives.
    pub recall: Option<f64>,
    /// FP / negatives; `null` without negatives.
    pub fpr: Option<f64>,
}

impl Metrics {
    fn add(&mut self, harmful: bool, flagged: bool) {
        self.n += 1;
        self.positives += usize::from(harmful);
        self.tp += usize::from(harmful && flagged);
        self.fp += usize::from(!harmful && flagged);
    }

    fn finish(&mut self) {
        let ratio = |a: usize, b: usize| (b > 0).then(|| a as f64 / b as f64);
        self.precision = ratio(self.tp, self.tp + self.fp);
        self.recall = ratio(self.tp, self.positives);
        self.fpr = ratio(self.fp, self.n - self.positives);
    }
}

/// The evaluation report.
#[derive(Debug, Clone, Serialize)]
pub struct SafetyEval {
    /// The thresholds used.
    pub thresholds: Thresholds,
    /// Per source.
    pub sources: BTreeMap<&'static str, Metrics>,
    /// Per group (harmful requests, look-alike prompts, everyday prompts, harmful answers,
    /// safe answers).
    pub groups: BTreeMap<Group, Metrics>,
    /// All prompts (`requests`) and all answers (`answers`): where precision means something.
    pub overall: BTreeMap<&'static str, Metrics>,
    /// Mean microseconds per check over the validation texts.
    pub classifier_us: f64,
    /// Size of the model file in bytes.
    pub model_bytes: usize,
}

/// Evaluate `c` with `t` on `data`'s validation split.
pub fn evaluate(c: &Classifier, t: Thresholds, data: &[Example]) -> SafetyEval {
    evaluate_split(c, t, data, Split::Validation)
}

/// Evaluate on one split (the calibration split is for choosing settings, never validation).
pub fn evaluate_split(c: &Classifier, t: Thresholds, data: &[Example], split: Split) -> SafetyEval {
    let mut sources: BTreeMap<&'static str, Metrics> = BTreeMap::new();
    let mut groups: BTreeMap<Group, Metrics> = BTreeMap::new();
    let mut overall: BTreeMap<&'static str, Metrics> = BTreeMap::new();
    let val: Vec<&Example> = data.iter().filter(|e| e.split == split).collect();
    let start = Instant::now();
    let scores: Vec<f32> = val
        .iter()
        .map(|e| {
            if e.group.is_answer() {
                c.answer_model().score(&e.text)
            } else {
                c.score(&e.text)
            }
        })
        .collect();
    let elapsed = start.elapsed();
    // Answers are judged as the streaming gate judges them: cut if any checkpoint flags.
    let scores: Vec<f32> = val
        .iter()
        .zip(scores)
        .map(|(e, s)| {
            if e.group.is_answer() {
                super::check::stream_score(c, &e.text)
            } else {
                s
            }
        })
        .collect();
    for (e, s) in val.iter().zip(&scores) {
        let threshold = if e.group.is_answer() {
            t.answer
        } else {
            t.request
        };
        let flagged = *s >= threshold;
        let harmful = e.group.harmful();
        sources.entry(e.source).or_default().add(harmful, flagged);
        groups.entry(e.group).or_default().add(harmful, flagged);
        let kind = if e.group.is_answer() {
            "answers"
        } else {
            "requests"
        };
        overall.entry(kind).or_default().add(harmful, flagged);
    }
    overall.values_mut().for_each(Metrics::finish);
    sources.values_mut().for_each(Metrics::finish);
    groups.values_mut().for_each(Metrics::finish);
    let model_bytes = c.to_json().len();
    SafetyEval {
        thresholds: t,
        sources,
        groups,
        overall,
        classifier_us: elapsed.as_secs_f64() * 1e6 / val.len().max(1) as f64,
        model_bytes,
    }
}
