//! Compiling a profile into what the engine uses, ranking candidate answers, and saying why.
//!
//! [`compile`] turns a (clamped) [`Profile`] into a short deterministic preamble that names only
//! confident preferences (stable wording, [`Dimension::ALL`] order), a token budget with a
//! length target, and small sampling tweaks. A concise profile gets a budget about twice its
//! length target, so the model ends its own answer on a sentence rather than being cut off
//! (the runtime's sentence hold drops an unfinished tail of the rare overrun); a detailed one asks for at least its target
//! in several paragraphs, raises the repetition penalty, and bars the end of generation until
//! the target's length ([`Conditioning::min_tokens`]). Every profile, neutral included, gets
//! DRY against loops ([`ANTI_LOOP_DRY`]); a turn whose own instructions state a length
//! ([`states_a_length`]) is not given the learned length. [`rank`] scores best-of-n
//! candidates by the person's model (ADR 0033, 0035).

use serde::Serialize;

use crate::prefs::features::{FeatureVector, StyleFeature};
use crate::prefs::feedback::ContextKey;
use crate::prefs::learner::Learner;
use crate::prefs::profile::{Preference, Profile, Source};
use crate::prefs::PrefsError;
use crate::safety::personalization::{Dimension, PersonalizationEnvelope};

/// A preference is named in the preamble when its direction is at least this sure...
pub const CONFIDENCE_THRESHOLD: f64 = 0.6;
/// ...and its value at least this far from the envelope default.
pub const MIN_SHIFT: f64 = 0.12;
/// Model tokens per English word, for budgets.
const TOKENS_PER_WORD: f64 = 1.3;
/// DRY strength every personalized answer gets, whatever the profile (neutral included), so
/// that a small model's greedy loops are broken rather than run to the budget (ADR 0035).
pub const ANTI_LOOP_DRY: f32 = 0.8;

/// The engine's settings before personalization.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConditioningBase {
    /// Token budget of an unpersonalized answer.
    pub max_tokens: u32,
    /// Sampling temperature.
    pub temperature: f32,
    /// Nucleus sampling mass.
    pub top_p: f32,
    /// Repetition penalty.
    pub repeat_penalty: f32,
    /// DRY strength asked for by the caller (0.0: none; Keel's anti-loop floor still holds).
    pub dry_multiplier: f32,
}

impl Default for ConditioningBase {
    fn default() -> Self {
        Self {
            max_tokens: 512,
            temperature: 0.7,
            top_p: 0.95,
            repeat_penalty: 1.1,
            dry_multiplier: 0.0,
        }
    }
}

/// One preference that shaped an answer, for the turn report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shaping {
    /// The dimension.
    pub dimension: Dimension,
    /// The value used.
    pub value: f64,
    /// How far it moves the answer from the default (value − default, signed).
    pub weight: f64,
    /// How sure the direction is, 0–1.
    pub confidence: f64,
    /// Feedback events behind it.
    pub evidence: u32,
    /// Where it came from.
    pub source: Source,
    /// The instruction it put in the preamble.
    pub instruction: String,
}

/// What the engine uses for one turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conditioning {
    /// Text to add to the system prompt; empty when no preference is confident.
    pub preamble: String,
    /// Token budget.
    pub max_tokens: u32,
    /// Length target in words, when the person has a confident length preference.
    pub target_words: Option<u32>,
    /// Sampling temperature.
    pub temperature: f32,
    /// Nucleus sampling mass.
    pub top_p: f32,
    /// Repetition penalty.
    pub repeat_penalty: f32,
    /// DRY strength against loops (every profile gets at least [`ANTI_LOOP_DRY`]).
    pub dry_multiplier: f32,
    /// End of generation is barred until this many tokens (0: off).
    pub min_tokens: u32,
    /// The preferences that shaped it, in [`Dimension::ALL`] order.
    pub shaped_by: Vec<Shaping>,
}

/// Compile `profile` (already clamped into `envelope`) against `base` settings. A preference
/// counts as a shift when it is [`MIN_SHIFT`] or more from the envelope's default.
pub fn compile(
    profile: &Profile,
    envelope: &PersonalizationEnvelope,
    base: &ConditioningBase,
) -> Conditioning {
    let mut out = Conditioning {
        preamble: String::new(),
        max_tokens: base.max_tokens,
        target_words: None,
        temperature: base.temperature,
        top_p: base.top_p,
        repeat_penalty: base.repeat_penalty,
        dry_multiplier: base.dry_multiplier.max(ANTI_LOOP_DRY),
        min_tokens: 0,
        shaped_by: Vec::new(),
    };
    let mut sentences = Vec::new();
    for p in &profile.preferences {
        let shift = p.value - envelope.range(p.dimension).default;
        if !is_confident(p) || shift.abs() < MIN_SHIFT {
            continue;
        }
        let high = shift > 0.0;
        let instruction = match p.dimension {
            Dimension::Verbosity => {
                let words = target_words(p.value);
                let budget = (f64::from(words) * TOKENS_PER_WORD * 2.0).ceil() as u32;
                out.target_words = Some(words);
                if high {
                    out.max_tokens = base.max_tokens.max(budget);
                    out.repeat_penalty = base.repeat_penalty + 0.05;
                    // At least the target: the preamble asks for it and the floor holds the
                    // end back until then; DRY keeps the extra tokens from being a loop.
                    out.min_tokens = (f64::from(words) * TOKENS_PER_WORD).floor() as u32;
                    format!(
                        "Give a long, thorough answer of at least {words} words, in several \
                         paragraphs: explain how and why, give steps, reasons and examples, \
                         and never repeat yourself."
                    )
                } else {
                    out.max_tokens = base.max_tokens.min(budget.max(48));
                    // In words, not digits: see `number_words`.
                    format!(
                        "Answer briefly, in about {} words or fewer: a complete, direct \
                         answer that ends on a full sentence.",
                        super::number_words::in_words(words)
                    )
                }
            }
            d => instruction(d, high).to_string(),
        };
        match (p.dimension, high) {
            (Dimension::Formality | Dimension::TechnicalDepth, true) => out.temperature -= 0.05,
            (Dimension::Humour, true) => out.temperature += 0.1,
            _ => {}
        }
        sentences.push(instruction.clone());
        out.shaped_by.push(Shaping {
            dimension: p.dimension,
            value: p.value,
            weight: shift,
            confidence: p.confidence,
            evidence: p.evidence,
            source: p.source,
            instruction,
        });
    }
    out.temperature = out.temperature.clamp(0.1, 1.5);
    if !sentences.is_empty() {
        out.preamble = format!(
            "The person you are helping prefers the following; follow it unless a safety rule \
             says otherwise. {}",
            sentences.join(" ")
        );
    }
    out
}

/// Whether `instructions` (a turn's own system message) say how long the answer should be
/// ("answer in one short sentence", "be thorough"): then that turn's explicit word beats the
/// learned length preference, whose preamble, budget and floor would contradict it.
pub fn states_a_length(instructions: &str, envelope: &PersonalizationEnvelope) -> bool {
    crate::prefs::parse_statement(instructions, envelope)
        .iter()
        .any(|o| {
            matches!(
                o,
                crate::prefs::StatementOutcome::Applied {
                    dimension: Dimension::Verbosity,
                    ..
                }
            )
        })
}

/// Whether a preference is sure enough to be named: the person's own word, or learned with a
/// confident direction.
pub fn is_confident(p: &Preference) -> bool {
    match p.source {
        Source::Stated | Source::Edited => true,
        Source::Learned => p.evidence > 0 && p.confidence >= CONFIDENCE_THRESHOLD,
        Source::Population => false,
    }
}

/// Length target in words for a verbosity value: about 30 words at 0.1, 120 at 0.5, 400 at 1.
pub fn target_words(verbosity: f64) -> u32 {
    let words = 25.0 + 375.0 * verbosity.clamp(0.0, 1.0).powi(2);
    ((words / 10.0).round() * 10.0) as u32
}

fn instruction(dimension: Dimension, high: bool) -> &'static str {
    match (dimension, high) {
        (Dimension::Formality, false) => "Use a casual, conversational tone.",
        (Dimension::Formality, true) => "Use a formal, professional register.",
        (Dimension::TechnicalDepth, false) => "Explain in plain language without jargon.",
        (Dimension::TechnicalDepth, true) => {
            "Go into expert technical detail with precise terminology."
        }
        (Dimension::Warmth, false) => "Keep a neutral, matter-of-fact tone.",
        (Dimension::Warmth, true) => "Be warm and encouraging.",
        (Dimension::Humour, false) => "Stay serious.",
        (Dimension::Humour, true) => "A light, playful touch is welcome.",
        (Dimension::Format, false) => "Write in flowing prose rather than lists.",
        (Dimension::Format, true) => "Structure the answer with bullet points or numbered steps.",
        (Dimension::Emoji, false) => "Do not use emoji.",
        (Dimension::Emoji, true) => "A few emoji are welcome.",
        (Dimension::Verbosity, false) => "Answer briefly.",
        (Dimension::Verbosity, true) => "Answer in detail.",
    }
}

/// One candidate's place in a best-of-n ranking.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedCandidate {
    /// Index into the candidates given.
    pub index: usize,
    /// The person's utility (higher is better).
    pub score: f64,
    /// Per dimension, how much it added to the score relative to the candidates' mean.
    pub contributions: Vec<(Dimension, f64)>,
}

/// Rank `candidates` by the person's model in `context`, best first (ties: lower index first).
pub fn rank(
    learner: &Learner,
    context: Option<&ContextKey>,
    candidates: &[FeatureVector],
) -> Result<Vec<RankedCandidate>, PrefsError> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let w = learner.weights(context);
    let n = candidates.len() as f64;
    let mut mean = [0.0; crate::prefs::STYLE_FEATURES];
    for c in candidates {
        for (m, x) in mean.iter_mut().zip(&c.style) {
            *m += x / n;
        }
    }
    let mut ranked = candidates
        .iter()
        .enumerate()
        .map(|(index, c)| {
            let score = learner.utility(c, context)?;
            let contributions = Dimension::ALL
                .iter()
                .map(|&d| {
                    let amount = StyleFeature::indices_of(d)
                        .map(|i| w.mean[i] * (c.style[i] - mean[i]))
                        .sum::<f64>();
                    (d, amount)
                })
                .collect();
            Ok(RankedCandidate {
                index,
                score,
                contributions,
            })
        })
        .collect::<Result<Vec<_>, PrefsError>>()?;
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    Ok(ranked)
}

#[cfg(test)]
mod tests;
