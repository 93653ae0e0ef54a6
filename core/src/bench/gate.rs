//! Gate and bundle measurements for `keel bench`: gate throughput with normalization on
//! English prose and on mixed-script text (10,000 phrase rules and 100 regex rules), the
//! latency the gate adds per model token (without and with the default bundle's learned
//! classifier), and verification of a 1 MB bundle with 3 signatures.
//! This module only measures; it builds its own synthetic bundle and keys in memory.

use std::time::Instant;

use crate::safety::keys::SigningKey;
use crate::safety::payload::{Action, RuleKind, RuleSpec, RulesFile, Scope};
use crate::safety::trust::RootPayload;
use crate::safety::{
    BundleVerifier, Duration, Gate, OffsetDateTime, SafetyError, TrustRoot, VerifyPolicy,
};

/// What `keel bench` reports for the safety layer.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GateBench {
    /// The lower of the two throughputs below (MB/s, normalization included).
    pub gate_mb_s: f64,
    /// Throughput on English prose (MB/s).
    pub gate_mb_s_english: f64,
    /// Throughput on mixed-script text: Latin with accents, Cyrillic, Greek, CJK, emoji (MB/s).
    pub gate_mb_s_mixed: f64,
    /// Added latency per model token (about 4 bytes) on the output stream, microseconds.
    pub gate_us_per_token: f64,
    /// The same with the default bundle's learned classifier added to those rules (scored at
    /// each streaming checkpoint), microseconds.
    pub gate_us_per_token_classifier: f64,
    /// Verifying a 1 MB bundle with 3 signatures (threshold 3), milliseconds (median).
    pub bundle_verify_ms: f64,
    /// Phrase rules in the measured bundle.
    pub phrase_rules: usize,
    /// Regex rules in the measured bundle.
    pub regex_rules: usize,
    /// Bytes of text per throughput measurement.
    pub text_bytes: usize,
}

const PHRASE_RULES: usize = 10_000;
const REGEX_RULES: usize = 100;
const TEXT_BYTES: usize = 8 << 20;

/// A small deterministic generator so every run measures the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn word(rng: &mut Rng, min: usize) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "zu", "mor", "tel", "vin", "qua", "rex", "sol", "dra", "pix", "lum", "gor", "fen",
        "bry", "xo", "wy",
    ];
    (0..min + rng.below(3))
        .map(|_| SYLLABLES[rng.below(16)])
        .collect()
}

/// The measured rule set; with `payload_bytes > 0`, rules get extra phrases until the signed
/// payload is about that large.
fn rules(payload_bytes: usize) -> RulesFile {
    let mut rng = Rng(0x5eed_cafe_f00d_0001);
    let mut rules = Vec::with_capacity(PHRASE_RULES + REGEX_RULES);
    for i in 0..PHRASE_RULES {
        let words = 1 + rng.below(3);
        rules.push(RuleSpec {
            id: format!("phrase-{i}"),
            kind: RuleKind::Phrases,
            scope: Scope::Output,
            action: if i % 10 == 0 {
                Action::Redact
            } else {
                Action::Block
            },
            phrases: vec![(0..words)
                .map(|_| word(&mut rng, 2))
                .collect::<Vec<_>>()
                .join(" ")],
            pattern: None,
            max_len: None,
            detector: None,
            notice: None,
            model: None,
            thresholds: None,
            model_file: None,
        });
    }
    for i in 0..REGEX_RULES {
        rules.push(RuleSpec {
            id: format!("regex-{i}"),
            kind: RuleKind::Regex,
            scope: Scope::Output,
            action: Action::Redact,
            phrases: Vec::new(),
            pattern: Some(format!(
                "{}[-_ ]?(?:id|no)[:#]?[0-9]{{4,{}}}",
                word(&mut rng, 2),
                6 + i % 6
            )),
            max_len: Some(40),
            detector: None,
            notice: None,
            model: None,
            thresholds: None,
            model_file: None,
        });
    }
    let mut size: usize = rules
        .iter()
        .map(|r| serde_json::to_string(r).map_or(0, |t| t.len() + 1))
        .sum::<usize>()
        + 30_000;
    let mut i = 0;
    while size < payload_bytes {
        let extra = word(&mut rng, 3);
        size += extra.len() + 3;
        rules[i % PHRASE_RULES].phrases.push(extra);
        i += 1;
    }
    let mut file = RulesFile::from_toml(DEFAULT_RULES).expect("the default rules parse");
    file.bundle_id = "bench".into();
    file.rules = rules;
    file
}

const DEFAULT_RULES: &str = include_str!("../../bundles/default/rules.toml");

fn english(len: usize) -> String {
    const WORDS: [&str; 24] = [
        "the",
        "model",
        "answers",
        "questions",
        "about",
        "history",
        "and",
        "science",
        "with",
        "care",
        "while",
        "people",
        "read",
        "carefully",
        "because",
        "every",
        "detail",
        "matters",
        "in",
        "a",
        "long",
        "explanation",
        "of",
        "things",
    ];
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut text = String::with_capacity(len + 64);
    while text.len() < len {
        text.push_str(WORDS[rng.below(WORDS.len())]);
        text.push_str(if rng.below(12) == 0 { ". " } else { " " });
    }
    text
}

fn mixed(len: usize) -> String {
    const WORDS: [&str; 12] = [
        "café",
        "naïve",
        "Привет",
        "мир",
        "Καλημέρα",
        "κόσμε",
        "你好",
        "世界",
        "こんにちは",
        "🙂",
        "résumé",
        "hello",
    ];
    let mut rng = Rng(0x0bad_5eed_0000_0002);
    let mut text = String::with_capacity(len + 64);
    while text.len() < len {
        text.push_str(WORDS[rng.below(WORDS.len())]);
        text.push(' ');
    }
    text
}

/// `text` in pieces of about `size` bytes, cut at character boundaries (as the engine's
/// decoder delivers text).
fn str_chunks(text: &str, size: usize) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut cut = size.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut += 1;
        }
        let (piece, tail) = rest.split_at(cut);
        rest = tail;
        Some(piece)
    })
}

/// Gate throughput in MB/s: text pushed in 4 KiB pieces through the output gate.
fn throughput(gate: &Gate, text: &str) -> f64 {
    let start = Instant::now();
    let mut out = gate.output();
    let mut shown = 0usize;
    for chunk in str_chunks(text, 4096) {
        shown += out.push(chunk).len();
    }
    let (rest, _) = out.finish();
    shown += rest.len();
    std::hint::black_box(shown);
    text.len() as f64 / 1e6 / start.elapsed().as_secs_f64()
}

/// Microseconds per 4-byte token pushed through the output gate.
fn per_token_us(gate: &Gate, text: &str) -> f64 {
    let tokens: Vec<&str> = str_chunks(text, 4).collect();
    let start = Instant::now();
    let mut out = gate.output();
    for t in &tokens {
        std::hint::black_box(out.push(t));
    }
    let (_, report) = std::hint::black_box(out.finish());
    let elapsed = start.elapsed();
    // A blocked stream stops working early and would measure nothing.
    if report.verdict != crate::safety::Verdict::Allow {
        return f64::NAN;
    }
    elapsed.as_secs_f64() * 1e6 / tokens.len() as f64
}

/// The bench rules plus the default bundle's classifier rule, signed and verified.
fn gate_with_classifier(now: OffsetDateTime) -> Result<Gate, SafetyError> {
    let mut file = rules(0);
    let classifier = crate::safety::default_bundle()?
        .payload()
        .rules
        .iter()
        .find(|r| r.kind == RuleKind::Classifier)
        .cloned()
        .ok_or_else(|| SafetyError::InvalidRules {
            reason: "the default bundle has no classifier rule".into(),
        })?;
    file.rules.push(classifier);
    let key = SigningKey::generate()?;
    let root =
        RootPayload::new(&[key.public_key()], 1, 1, now + Duration::days(1), false).sign(&[&key]);
    let root = TrustRoot::from_pinned(root.to_json().as_bytes())?;
    let payload = file.into_payload(1, now - Duration::days(1), now + Duration::days(1))?;
    let signed = payload.sign(&[&key])?.to_json();
    let bundle = BundleVerifier::new(root).check(signed.as_bytes(), &VerifyPolicy::now())?;
    Gate::new(&bundle)
}

fn verify_ms() -> Result<f64, SafetyError> {
    let keys = [
        SigningKey::generate()?,
        SigningKey::generate()?,
        SigningKey::generate()?,
    ];
    let now = OffsetDateTime::now_utc();
    let public: Vec<_> = keys.iter().map(SigningKey::public_key).collect();
    let signers: Vec<&SigningKey> = keys.iter().collect();
    let root = RootPayload::new(&public, 3, 1, now + Duration::days(1), false).sign(&signers);
    let root = TrustRoot::from_pinned(root.to_json().as_bytes())?;
    let payload =
        rules(1 << 20).into_payload(1, now - Duration::days(1), now + Duration::days(1))?;
    let file = payload.sign(&signers)?.to_json();
    let verifier = BundleVerifier::new(root);
    let policy = VerifyPolicy::now();
    let mut times: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            let ok = verifier
                .check(file.as_bytes(), &policy)
                .map(|b| b.version());
            (start.elapsed().as_secs_f64() * 1e3, ok)
        })
        .map(|(ms, ok)| ok.map(|_| ms))
        .collect::<Result<_, _>>()?;
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Measure the gate and bundle verification (takes a few seconds).
pub fn run() -> Result<GateBench, SafetyError> {
    crate::safety::normalize::warm_up();
    let now = OffsetDateTime::now_utc();
    let key = SigningKey::generate()?;
    let root =
        RootPayload::new(&[key.public_key()], 1, 1, now + Duration::days(1), false).sign(&[&key]);
    let root = TrustRoot::from_pinned(root.to_json().as_bytes())?;
    let payload = rules(0).into_payload(1, now - Duration::days(1), now + Duration::days(1))?;
    let file = payload.sign(&[&key])?.to_json();
    let bundle = BundleVerifier::new(root).check(file.as_bytes(), &VerifyPolicy::now())?;
    let gate = Gate::new(&bundle)?;
    let (prose, multi) = (english(TEXT_BYTES), mixed(TEXT_BYTES));
    // One warm-up pass each (lazy DFA caches), then the best of three.
    let best = |text: &str| {
        (0..4)
            .map(|_| throughput(&gate, text))
            .skip(1)
            .fold(0.0, f64::max)
    };
    let gate_mb_s_english = best(&prose);
    let gate_mb_s_mixed = best(&multi);
    let token_text = &prose[..1 << 20];
    per_token_us(&gate, token_text);
    let gate_us_per_token = per_token_us(&gate, token_text);
    let with_classifier = gate_with_classifier(now)?;
    per_token_us(&with_classifier, token_text);
    let gate_us_per_token_classifier = per_token_us(&with_classifier, token_text);
    Ok(GateBench {
        gate_mb_s: gate_mb_s_english.min(gate_mb_s_mixed),
        gate_mb_s_english,
        gate_mb_s_mixed,
        gate_us_per_token,
        gate_us_per_token_classifier,
        bundle_verify_ms: verify_ms()?,
        phrase_rules: PHRASE_RULES,
        regex_rules: REGEX_RULES,
        text_bytes: TEXT_BYTES,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bench_bundle_compiles_and_gates() {
        let text = super::english(10_000);
        assert!(!text.is_empty());
        let file = super::rules(0);
        assert_eq!(file.rules.len(), super::PHRASE_RULES + super::REGEX_RULES);
    }

    #[test]
    fn the_bench_prose_streams_through_the_classifier_unblocked() {
        let now = crate::safety::OffsetDateTime::now_utc();
        let gate = super::gate_with_classifier(now).expect("gate");
        assert!(gate.has_classifier(false));
        let us = super::per_token_us(&gate, &super::english(64 * 1024));
        assert!(us.is_finite() && us > 0.0, "{us}");
    }
}
