//! The classifier's weights and their serde form: logistic regression over hashed features
//! ([`super::features`]), weights quantized to `i8` with one scale and stored as canonical
//! base64 so that they fit in the signed bundle payload (2^18 buckets: 256 KiB, about 350 KiB
//! of base64). Format v1 is one model for requests and answers; v2 adds a separate answer
//! model of the same size (about 700 KiB in all). [`Classifier::score`] is `sigmoid(bias + scale * Σ w[i] / sqrt(n))` over the `n`
//! features of the text: deterministic, allocation-light, bounded by
//! [`super::features::MAX_TEXT_BYTES`].

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::features;

/// One logistic model for requests and answers (ADR 0040); still read.
pub const FORMAT: &str = "keel-hashed-lr-v1";
/// A request model and a separate answer model of the same size (ADR 0041): the top-level
/// weights score requests, [`ClassifierSpec::answer`] scores answers.
pub const FORMAT_SPLIT: &str = "keel-hashed-lr-v2";
/// Fewest and most hash bits a model may use.
pub const BITS_RANGE: std::ops::RangeInclusive<u32> = 10..=20;

/// Why a classifier model was refused (never quotes its contents).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// The file or field is not the expected JSON.
    #[error("the classifier model does not parse: {0}")]
    Parse(String),
    /// Unknown format, bad bit count, non-finite numbers or the wrong number of weights.
    #[error("the classifier model is invalid: {0}")]
    Invalid(&'static str),
}

/// The serialized model (a `classifier` field of a bundle rule, or a model file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassifierSpec {
    /// Always [`FORMAT`].
    pub format: String,
    /// log2 of the number of hash buckets.
    pub bits: u32,
    /// What one unit of an `i8` weight is worth.
    pub scale: f32,
    /// The intercept.
    pub bias: f32,
    /// `2^bits` signed bytes, standard base64 with padding.
    pub weights: String,
    /// The answer model: present exactly for [`FORMAT_SPLIT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<AnswerSpec>,
}

/// The answer model of a [`FORMAT_SPLIT`] model: same bits and form as the request model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerSpec {
    /// What one unit of an `i8` weight is worth.
    pub scale: f32,
    /// The intercept.
    pub bias: f32,
    /// `2^bits` signed bytes, standard base64 with padding.
    pub weights: String,
}

/// A decoded, ready-to-score classifier: the request model and, for [`FORMAT_SPLIT`], a
/// separate answer model. Cheap to share behind an `Arc`; immutable.
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    bits: u32,
    scale: f32,
    bias: f32,
    weights: Vec<i8>,
    answer: Option<Box<Classifier>>,
}

fn decode_weights(text: &str, bits: u32) -> Result<Vec<i8>, ModelError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|_| ModelError::Invalid("weights are not canonical base64"))?;
    if bytes.len() != 1usize << bits {
        return Err(ModelError::Invalid("wrong number of weights"));
    }
    Ok(bytes.into_iter().map(|b| b as i8).collect())
}

fn encode_weights(weights: &[i8]) -> String {
    let bytes: Vec<u8> = weights.iter().map(|&w| w as u8).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Classifier {
    /// Quantize float weights (one per bucket) into a classifier.
    pub fn from_float(bits: u32, bias: f32, weights: &[f32]) -> Result<Self, ModelError> {
        if !BITS_RANGE.contains(&bits) || weights.len() != 1usize << bits {
            return Err(ModelError::Invalid("bits and weight count disagree"));
        }
        let max = weights.iter().fold(0f32, |m, w| m.max(w.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        let weights = weights
            .iter()
            // Rounded and clamped to the i8 range, so the cast cannot wrap.
            .map(|w| (w / scale).round().clamp(-127.0, 127.0) as i8)
            .collect();
        let c = Self {
            bits,
            scale,
            bias,
            weights,
            answer: None,
        };
        c.check()?;
        Ok(c)
    }

    /// Join a request model and an answer model (both single models of the same bits).
    pub fn split(request: Self, answer: Self) -> Result<Self, ModelError> {
        if request.bits != answer.bits || request.answer.is_some() || answer.answer.is_some() {
            return Err(ModelError::Invalid(
                "request and answer models must be single models of the same bits",
            ));
        }
        Ok(Self {
            answer: Some(Box::new(answer)),
            ..request
        })
    }

    /// Decode and check a serialized model. Both formats are read; an unknown one (e.g. from
    /// a newer Keel) is refused, as is an answer model on a v1 model or none on a v2 one.
    pub fn from_spec(spec: &ClassifierSpec) -> Result<Self, ModelError> {
        match (spec.format.as_str(), spec.answer.is_some()) {
            (FORMAT, false) | (FORMAT_SPLIT, true) => {}
            (FORMAT, true) | (FORMAT_SPLIT, false) => {
                return Err(ModelError::Invalid(
                    "an answer model belongs to, and only to, keel-hashed-lr-v2",
                ))
            }
            _ => {
                return Err(ModelError::Invalid(
                    "unknown format (this Keel reads keel-hashed-lr-v1 and -v2; update Keel)",
                ))
            }
        }
        if !BITS_RANGE.contains(&spec.bits) {
            return Err(ModelError::Invalid("bits out of range"));
        }
        let answer = match &spec.answer {
            Some(a) => {
                let c = Self {
                    bits: spec.bits,
                    scale: a.scale,
                    bias: a.bias,
                    weights: decode_weights(&a.weights, spec.bits)?,
                    answer: None,
                };
                c.check()?;
                Some(Box::new(c))
            }
            None => None,
        };
        let c = Self {
            bits: spec.bits,
            scale: spec.scale,
            bias: spec.bias,
            weights: decode_weights(&spec.weights, spec.bits)?,
            answer,
        };
        c.check()?;
        Ok(c)
    }

    fn check(&self) -> Result<(), ModelError> {
        if !self.scale.is_finite() || self.scale <= 0.0 || !self.bias.is_finite() {
            return Err(ModelError::Invalid(
                "scale and bias must be finite, scale > 0",
            ));
        }
        Ok(())
    }

    /// The serialized form.
    pub fn to_spec(&self) -> ClassifierSpec {
        let answer = self.answer.as_ref().map(|a| AnswerSpec {
            scale: a.scale,
            bias: a.bias,
            weights: encode_weights(&a.weights),
        });
        ClassifierSpec {
            format: if answer.is_some() {
                FORMAT_SPLIT
            } else {
                FORMAT
            }
            .to_owned(),
            bits: self.bits,
            scale: self.scale,
            bias: self.bias,
            weights: encode_weights(&self.weights),
            answer,
        }
    }

    /// Parse a model file (the JSON of a [`ClassifierSpec`]).
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let spec: ClassifierSpec =
            serde_json::from_str(text).map_err(|e| ModelError::Parse(e.classify_str()))?;
        Self::from_spec(&spec)
    }

    /// The model file's JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.to_spec()).expect("a classifier spec always serializes")
    }

    /// log2 of the bucket count.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// The model that scores answers: the answer model, or the only one.
    pub fn answer_model(&self) -> &Self {
        self.answer.as_deref().unwrap_or(self)
    }

    /// The probability (0–1) that the request `text` is harmful (the answer model scores
    /// answers: [`Self::answer_model`]).
    pub fn score(&self, text: &str) -> f32 {
        let mut feats = Vec::with_capacity(256);
        features::extract(text, self.bits, &mut feats);
        self.score_features(&feats)
    }

    /// The probability for already-extracted features.
    pub fn score_features(&self, feats: &[u32]) -> f32 {
        if feats.is_empty() {
            return sigmoid(self.bias);
        }
        let sum: i64 = feats
            .iter()
            .map(|&i| i64::from(self.weights[i as usize]))
            .sum();
        // Feature counts are far below 2^24, so the conversions are exact enough.
        let z = self.bias + self.scale * (sum as f32) / (feats.len() as f32).sqrt();
        sigmoid(z)
    }
}

trait ClassifyStr {
    fn classify_str(&self) -> String;
}

impl ClassifyStr for serde_json::Error {
    /// The error's category and position only (serde messages may quote input).
    fn classify_str(&self) -> String {
        format!(
            "{:?} error at line {} column {}",
            self.classify(),
            self.line(),
            self.column()
        )
    }
}

/// The logistic function.
pub fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Classifier {
        let mut w = vec![0f32; 1 << 10];
        for (i, x) in w.iter_mut().enumerate() {
            *x = ((i % 7) as f32 - 3.0) / 3.0;
        }
        Classifier::from_float(10, -0.5, &w).expect("valid")
    }

    #[test]
    fn the_spec_round_trips_and_scores_identically() {
        let c = tiny();
        let back = Classifier::from_json(&c.to_json()).expect("round trip");
        assert_eq!(back, c);
        let text = "Explain how photosynthesis works.";
        assert_eq!(c.score(text).to_bits(), back.score(text).to_bits());
    }

    #[test]
    fn malformed_specs_are_refused() {
        let mut spec = tiny().to_spec();
        spec.bits = 11;
        assert!(Classifier::from_spec(&spec).is_err(), "weight count");
        let mut spec = tiny().to_spec();
        spec.format = "other".into();
        assert!(Classifier::from_spec(&spec).is_err(), "format");
        let mut spec = tiny().to_spec();
        spec.scale = f32::NAN;
        assert!(Classifier::from_spec(&spec).is_err(), "scale");
        assert!(Classifier::from_json("{").is_err());
    }

    fn other() -> Classifier {
        let w: Vec<f32> = (0..1 << 10).map(|i| ((i % 5) as f32 - 2.0) / 2.0).collect();
        Classifier::from_float(10, 0.3, &w).expect("valid")
    }

    #[test]
    fn a_split_model_scores_answers_with_its_answer_model_and_round_trips() {
        let split = Classifier::split(tiny(), other()).expect("same bits");
        let spec = split.to_spec();
        assert_eq!(spec.format, FORMAT_SPLIT);
        let back = Classifier::from_json(&split.to_json()).expect("round trip");
        assert_eq!(back, split);
        let text = "Explain how photosynthesis works, step by step.";
        assert_eq!(back.score(text).to_bits(), tiny().score(text).to_bits());
        assert_eq!(
            back.answer_model().score(text).to_bits(),
            other().score(text).to_bits()
        );
        assert_ne!(back.score(text), back.answer_model().score(text));
    }

    #[test]
    fn a_v1_model_is_still_read_and_scores_both_kinds_alike() {
        let v1 = tiny();
        assert_eq!(v1.to_spec().format, FORMAT);
        assert!(!v1.to_json().contains("answer"), "v1 files are unchanged");
        let back = Classifier::from_json(&v1.to_json()).expect("v1 is read");
        let text = "How do I bake bread?";
        assert_eq!(
            back.answer_model().score(text).to_bits(),
            back.score(text).to_bits()
        );
    }

    #[test]
    fn formats_and_answer_models_must_agree() {
        let mut spec = Classifier::split(tiny(), other()).expect("split").to_spec();
        spec.format = FORMAT.into();
        let err = Classifier::from_spec(&spec).expect_err("v1 with an answer model");
        assert!(err.to_string().contains("v2"), "{err}");
        let mut spec = tiny().to_spec();
        spec.format = FORMAT_SPLIT.into();
        assert!(
            Classifier::from_spec(&spec).is_err(),
            "v2 without an answer model"
        );
        let mut spec = tiny().to_spec();
        spec.format = "keel-hashed-lr-v9".into();
        let err = Classifier::from_spec(&spec).expect_err("a newer format");
        assert!(err.to_string().contains("update Keel"), "{err}");
        let mut spec = Classifier::split(tiny(), other()).expect("split").to_spec();
        if let Some(a) = spec.answer.as_mut() {
            a.weights.truncate(a.weights.len() - 4);
        }
        assert!(
            Classifier::from_spec(&spec).is_err(),
            "truncated answer weights"
        );
        let w = vec![0.5f32; 1 << 11];
        let eleven = Classifier::from_float(11, 0.0, &w).expect("valid");
        assert!(Classifier::split(tiny(), eleven).is_err(), "bits differ");
        let nested = Classifier::split(tiny(), other()).expect("split");
        assert!(Classifier::split(nested, other()).is_err(), "nested split");
    }
}
