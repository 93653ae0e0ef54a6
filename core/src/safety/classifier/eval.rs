//! Evaluation on the validation split only: precision, recall and false-positive rate per
//! source and per group, requests scored against the request threshold and answers against the
//! answer threshold at every streaming checkpoint (as the gate cuts them), and the mean time
//! of one check on a whole text. Beside the shipped thresholds it reports the operating curve:
//! the share of each group flagged at other thresholds, so that what more recall would cost in
//! false positives can be read off (thresholds are still chosen on calibration only).

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
    /// The share of each group flagged at thresholds 0.50, 0.55, … 0.95 (requests and answers
    /// alike; answers at every streaming checkpoint): recall for the harmful groups,
    /// false-positive rate for the others.
    pub curve: Vec<CurvePoint>,
}

/// One threshold of the operating curve.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurvePoint {
    /// The threshold, applied to requests and answers.
    pub threshold: f32,
    /// Per group, the share of its examples scoring at or above the threshold.
    pub flagged: BTreeMap<Group, f64>,
}

/// Thresholds of the operating curve, in hundredths.
const CURVE_HUNDREDTHS: std::ops::RangeInclusive<u8> = 50..=95;
const CURVE_STEP: usize = 5;

fn operating_curve(val: &[&Example], scores: &[f32]) -> Vec<CurvePoint> {
    CURVE_HUNDREDTHS
        .step_by(CURVE_STEP)
        .map(|h| {
            let threshold = f32::from(h) / 100.0;
            let mut counts: BTreeMap<Group, (usize, usize)> = BTreeMap::new();
            for (e, s) in val.iter().zip(scores) {
                let (flagged, n) = counts.entry(e.group).or_default();
                *flagged += usize::from(*s >= threshold);
                *n += 1;
            }
            let flagged = counts
                .into_iter()
                .map(|(g, (f, n))| (g, f as f64 / n as f64))
                .collect();
            CurvePoint { threshold, flagged }
        })
        .collect()
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
    let curve = operating_curve(&val, &scores);
    SafetyEval {
        thresholds: t,
        sources,
        groups,
        overall,
        classifier_us: elapsed.as_secs_f64() * 1e6 / val.len().max(1) as f64,
        model_bytes,
        curve,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example(group: Group) -> Example {
        Example {
            text: String::new(),
            group,
            source: "test",
            split: Split::Validation,
        }
    }

    #[test]
    fn the_operating_curve_counts_each_group_at_each_threshold() {
        let examples = [
            example(Group::HarmfulRequest),
            example(Group::HarmfulRequest),
            example(Group::HarmfulRequest),
            example(Group::HarmfulRequest),
            example(Group::LookalikePrompt),
            example(Group::LookalikePrompt),
            example(Group::SafeAnswer),
        ];
        let val: Vec<&Example> = examples.iter().collect();
        let scores = [0.99, 0.80, 0.62, 0.10, 0.70, 0.30, 0.51];
        let curve = operating_curve(&val, &scores);
        let thresholds: Vec<f32> = curve.iter().map(|p| p.threshold).collect();
        assert_eq!(thresholds.len(), 10);
        assert_eq!(thresholds[0], 0.50);
        assert_eq!(thresholds[9], 0.95);
        let at = |t: f32, g: Group| {
            curve
                .iter()
                .find(|p| (p.threshold - t).abs() < 1e-6)
                .expect("on the grid")
                .flagged[&g]
        };
        assert_eq!(at(0.50, Group::HarmfulRequest), 0.75);
        assert_eq!(at(0.65, Group::HarmfulRequest), 0.5);
        assert_eq!(at(0.80, Group::HarmfulRequest), 0.5, "at or above counts");
        assert_eq!(at(0.85, Group::HarmfulRequest), 0.25);
        assert_eq!(at(0.70, Group::LookalikePrompt), 0.5);
        assert_eq!(at(0.75, Group::LookalikePrompt), 0.0);
        assert_eq!(at(0.50, Group::SafeAnswer), 1.0);
        assert_eq!(at(0.55, Group::SafeAnswer), 0.0);
        assert!(
            !curve[0].flagged.contains_key(&Group::EverydayPrompt),
            "a group without examples has no rate"
        );
    }
}
