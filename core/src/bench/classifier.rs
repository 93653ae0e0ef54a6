//! The learned safety classifier's cost for `keel bench`: the mean time of one check on a
//! typical request (about 60 bytes) and on a long streamed answer (the 2 KiB window), with a
//! model of the shipped size (2^18 buckets). The weights are synthetic and deterministic: cost
//! does not depend on their values, and the bench must not need the training data.

use std::time::Instant;

use crate::safety::classifier::Classifier;

/// What `keel bench` reports for the classifier.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClassifierBench {
    /// Mean microseconds per check over both texts (the headline number).
    pub classifier_us: f64,
    /// Mean microseconds per check of a short request.
    pub classifier_us_request: f64,
    /// Mean microseconds per check of a 2 KiB answer.
    pub classifier_us_answer: f64,
    /// Bytes of the model's serialized form.
    pub model_bytes: usize,
}

const BITS: u32 = 18;

fn model() -> Classifier {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let weights: Vec<f32> = (0..1usize << BITS)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // The low 16 bits only, so the conversion is exact.
            ((state & 0xffff) as f32 / 32_768.0) - 1.0
        })
        .collect();
    Classifier::from_float(BITS, -1.0, &weights).expect("a synthetic model is valid")
}

fn mean_us(c: &Classifier, text: &str, iters: u32) -> f64 {
    let mut sink = 0f32;
    for _ in 0..iters / 10 {
        sink += c.score(text);
    }
    let start = Instant::now();
    for _ in 0..iters {
        sink += c.score(std::hint::black_box(text));
    }
    std::hint::black_box(sink);
    start.elapsed().as_secs_f64() * 1e6 / f64::from(iters)
}

/// Measure.
pub fn run() -> ClassifierBench {
    let c = model();
    let request = "How can I get my neighbour's wifi password without them knowing?";
    let sentence = "First, preheat the oven to 180 degrees and line a tray with baking paper. ";
    let answer: String = sentence.repeat(2048 / sentence.len() + 1);
    let req = mean_us(&c, request, 2_000);
    let ans = mean_us(&c, &answer, 500);
    ClassifierBench {
        classifier_us: (req + ans) / 2.0,
        classifier_us_request: req,
        classifier_us_answer: ans,
        model_bytes: c.to_json().len(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bench_reports_positive_times() {
        let b = super::run();
        assert!(b.classifier_us > 0.0 && b.classifier_us_answer >= b.classifier_us_request);
        assert!(
            b.model_bytes > 1 << super::BITS,
            "the weights are all there"
        );
    }
}
