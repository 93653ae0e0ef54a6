//! Training: logistic regression on the train split by stochastic gradient descent with a
//! fixed seed (a shuffled order from a xorshift generator), class-balanced and per-source
//! capped example weights and L2 shrinkage. By default a request model is fitted on prompts
//! only and a separate answer model on answers and prompts, with safe answers also cut at their
//! streaming checkpoints as extra negatives (the gate scores those openings on their own);
//! then one threshold for requests and one for answers chosen on the calibration split (never
//! on validation), answers scored at every streaming checkpoint as the gate scores them. Same
//! data, same seed: the same bytes out.

use serde::{Deserialize, Serialize};

use super::data::{Example, Group, Split, KEEL_EVERYDAY};
use super::features;
use super::model::{sigmoid, Classifier, ClassifierSpec, ModelError};

/// Training settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrainConfig {
    /// log2 of the bucket count.
    pub bits: u32,
    /// Passes over the training split.
    pub epochs: u32,
    /// Initial learning rate (of the request model when answers have their own).
    pub learning_rate: f32,
    /// L2 strength per update (of the request model when answers have their own).
    pub l2: f32,
    /// Train the request model on prompts only and a separate answer model (format
    /// `keel-hashed-lr-v2`, ADR 0041); else one model on everything (v1).
    pub separate_answers: bool,
    /// The answer model also learns from the public corpora's prompts (it then recognizes
    /// harmful requests restated in an answer; measured in ADR 0041); else from answers only.
    /// Keel's own everyday requests are never among them: they were added for the request
    /// model, and in the answer model they cost restated requests (ADR 0044).
    pub answer_prompts: bool,
    /// Initial learning rate of the answer model.
    pub answer_learning_rate: f32,
    /// L2 strength of the answer model.
    pub answer_l2: f32,
    /// Shuffle seed.
    pub seed: u64,
    /// Each source weighs at most this many examples' worth.
    pub source_cap: f32,
    /// The most everyday false positives allowed on calibration when choosing thresholds.
    pub max_everyday_fpr: f32,
    /// The most look-alike (XSTest safe) false positives allowed on calibration.
    pub max_lookalike_fpr: f32,
    /// The most safe-answer false positives allowed on calibration.
    pub max_safe_answer_fpr: f32,
    /// Also train on safe answers cut at their streaming checkpoints, as negatives.
    pub prefix_negatives: bool,
    /// Those prefixes together weigh this fraction of one capped source.
    pub prefix_weight: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            bits: 18,
            epochs: 30,
            learning_rate: 1.0,
            l2: 3e-5,
            separate_answers: true,
            answer_prompts: true,
            answer_learning_rate: 2.0,
            answer_l2: 1e-4,
            seed: 20_261_128,
            source_cap: 400.0,
            max_everyday_fpr: 0.015,
            max_lookalike_fpr: 0.06,
            max_safe_answer_fpr: 0.02,
            prefix_negatives: true,
            prefix_weight: 0.5,
        }
    }
}

/// The thresholds per category: a score at or above blocks.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// For the user's text.
    pub request: f32,
    /// For the model's answer.
    pub answer: f32,
}

/// A trained model file: the weights and their thresholds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    /// The weights.
    pub model: ClassifierSpec,
    /// The thresholds.
    pub thresholds: Thresholds,
}

/// The result of training.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The quantized classifier.
    pub classifier: Classifier,
    /// The thresholds chosen on calibration.
    pub thresholds: Thresholds,
}

impl Trained {
    /// The model file (pretty JSON is not used: the file is compact and byte-stable).
    pub fn to_file(&self) -> ModelFile {
        ModelFile {
            model: self.classifier.to_spec(),
            thresholds: self.thresholds,
        }
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Train on `data`'s train split and calibrate on its calibration split.
pub fn train(data: &[Example], cfg: &TrainConfig) -> Result<Trained, ModelError> {
    let prefixes = answer_prefixes(data, cfg);
    let train_split = data.iter().filter(|e| e.split == Split::Train);
    let classifier = if cfg.separate_answers {
        let requests: Vec<&Example> = train_split
            .clone()
            .filter(|e| !e.group.is_answer())
            .collect();
        let answers: Vec<&Example> = train_split
            .filter(|e| e.group.is_answer() || (cfg.answer_prompts && e.source != KEEL_EVERYDAY))
            .chain(&prefixes)
            .collect();
        Classifier::split(
            fit(&requests, cfg, cfg.learning_rate, cfg.l2)?,
            fit(&answers, cfg, cfg.answer_learning_rate, cfg.answer_l2)?,
        )?
    } else {
        let all: Vec<&Example> = train_split.chain(&prefixes).collect();
        fit(&all, cfg, cfg.learning_rate, cfg.l2)?
    };
    let thresholds = calibrate(&classifier, data, cfg);
    Ok(Trained {
        classifier,
        thresholds,
    })
}

/// Fit one logistic model on `train` by SGD (fixed seed).
fn fit(
    train: &[&Example],
    cfg: &TrainConfig,
    learning_rate: f32,
    l2: f32,
) -> Result<Classifier, ModelError> {
    let feats: Vec<Vec<u32>> = train
        .iter()
        .map(|e| {
            let mut f = Vec::new();
            features::extract(&e.text, cfg.bits, &mut f);
            f
        })
        .collect();
    let weights = example_weights(train, cfg.source_cap, cfg.prefix_weight);
    let mut w = vec![0f32; 1usize << cfg.bits];
    let mut bias = 0f32;
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut rng = XorShift(cfg.seed | 1);
    for epoch in 0..cfg.epochs {
        for i in (1..order.len()).rev() {
            // The modulus is at most order.len(), so the cast back fits.
            let j = (rng.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        let lr = learning_rate / (1.0 + epoch as f32 * 0.5);
        for &k in &order {
            let f = &feats[k];
            if f.is_empty() {
                continue;
            }
            let v = 1.0 / (f.len() as f32).sqrt();
            let z = bias + v * f.iter().map(|&i| w[i as usize]).sum::<f32>();
            let y = if train[k].group.harmful() { 1.0 } else { 0.0 };
            let g = (sigmoid(z) - y) * weights[k];
            bias -= lr * g * 0.1;
            for &i in f {
                let wi = &mut w[i as usize];
                *wi -= lr * (g * v + l2 * *wi);
            }
        }
    }
    Classifier::from_float(cfg.bits, bias, &w)
}

const PREFIX_SOURCE: &str = "safe_answer_prefixes";

/// Safe answers cut at their streaming checkpoints (the end excluded): extra negatives, so
/// that the opening of a safe answer, which the gate scores on its own, is known to be safe.
fn answer_prefixes(data: &[Example], cfg: &TrainConfig) -> Vec<Example> {
    if !cfg.prefix_negatives {
        return Vec::new();
    }
    let mut out = Vec::new();
    for e in data
        .iter()
        .filter(|e| e.split == Split::Train && e.group == Group::SafeAnswer)
    {
        let points = super::check::checkpoints(&e.text);
        for &p in points.iter().take(points.len().saturating_sub(1)) {
            out.push(Example {
                text: e.text[..p].to_owned(),
                group: e.group,
                source: PREFIX_SOURCE,
                split: Split::Train,
            });
        }
    }
    out
}

fn example_weights(train: &[&Example], cap: f32, prefix_weight: f32) -> Vec<f32> {
    use std::collections::BTreeMap;
    let mut per_source: BTreeMap<&str, f32> = BTreeMap::new();
    for e in train {
        *per_source.entry(e.source).or_default() += 1.0;
    }
    let source_w = |s: &str| {
        let w = (cap / per_source[s]).min(1.0);
        if s == PREFIX_SOURCE {
            w * prefix_weight
        } else {
            w
        }
    };
    let (mut pos, mut neg) = (0f32, 0f32);
    for e in train {
        if e.group.harmful() {
            pos += source_w(e.source);
        } else {
            neg += source_w(e.source);
        }
    }
    let total = pos + neg;
    train
        .iter()
        .map(|e| {
            let class = if e.group.harmful() {
                total / (2.0 * pos)
            } else {
                total / (2.0 * neg)
            };
            source_w(e.source) * class
        })
        .collect()
}

fn rate(scores: &[f32], t: f32) -> f32 {
    if scores.is_empty() {
        return 0.0;
    }
    scores.iter().filter(|&&s| s >= t).count() as f32 / scores.len() as f32
}

/// The lowest threshold (0.05–0.95 in steps of 0.01) whose calibration false-positive rates
/// stay within the limits: the most recall the limits allow.
fn calibrate(c: &Classifier, data: &[Example], cfg: &TrainConfig) -> Thresholds {
    let mut by_group = std::collections::BTreeMap::<Group, Vec<f32>>::new();
    for e in data.iter().filter(|e| e.split == Split::Calibration) {
        // Answers are scored as the streaming gate scores them: at every checkpoint.
        let score = if e.group.is_answer() {
            super::check::stream_score(c, &e.text)
        } else {
            c.score(&e.text)
        };
        by_group.entry(e.group).or_default().push(score);
    }
    let get = |g: Group| by_group.get(&g).map(Vec::as_slice).unwrap_or(&[]);
    let grid = (5..=95).map(|i| i as f32 / 100.0);
    let request = grid
        .clone()
        .find(|&t| {
            rate(get(Group::EverydayPrompt), t) <= cfg.max_everyday_fpr
                && rate(get(Group::LookalikePrompt), t) <= cfg.max_lookalike_fpr
        })
        .unwrap_or(0.95);
    let answer = grid
        .clone()
        .find(|&t| rate(get(Group::SafeAnswer), t) <= cfg.max_safe_answer_fpr)
        .unwrap_or(0.95);
    Thresholds { request, answer }
}
