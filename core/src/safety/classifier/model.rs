//! The classifier's weights and their serde form: logistic regression over hashed features
//! ([`super::features`]), weights quantized to `i8` with one scale and stored as canonical
//! base64 so that they fit in the signed bundle payload (2^18 buckets: 256 KiB, about 350 KiB
//! of base64). [`Classifier::score`] is `sigmoid(bias + scale * Σ w[i] / sqrt(n))` over the `n`
//! features of the text: deterministic, allocation-light, bounded by
//! [`super::features::MAX_TEXT_BYTES`].

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::features;

/// The only format this runtime reads.
pub const FORMAT: &str = "keel-hashed-lr-v1";
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
}

/// A decoded, ready-to-score classifier. Cheap to share behind an `Arc`; immutable.
#[derive(Debug, Clone, PartialEq)]
pub struct Classifier {
    bits: u32,
    scale: f32,
    bias: f32,
    weights: Vec<i8>,
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
        };
        c.check()?;
        Ok(c)
    }

    /// Decode and check a serialized model.
    pub fn from_spec(spec: &ClassifierSpec) -> Result<Self, ModelError> {
        if spec.format != FORMAT {
            return Err(ModelError::Invalid("unknown format"));
        }
        if !BITS_RANGE.contains(&spec.bits) {
            return Err(ModelError::Invalid("bits out of range"));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(spec.weights.as_bytes())
            .map_err(|_| ModelError::Invalid("weights are not canonical base64"))?;
        if bytes.len() != 1usize << spec.bits {
            return Err(ModelError::Invalid("wrong number of weights"));
        }
        let c = Self {
            bits: spec.bits,
            scale: spec.scale,
            bias: spec.bias,
            weights: bytes.into_iter().map(|b| b as i8).collect(),
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
        let bytes: Vec<u8> = self.weights.iter().map(|&w| w as u8).collect();
        ClassifierSpec {
            format: FORMAT.to_owned(),
            bits: self.bits,
            scale: self.scale,
            bias: self.bias,
            weights: base64::engine::general_purpose::STANDARD.encode(bytes),
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

    /// The probability (0–1) that `text` is harmful.
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
}
