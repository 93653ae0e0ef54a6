//! The chat report as it crosses the boundary: the mirror of `keel::KeelReport` — the turn id
//! feedback refers to, the preferences that shaped the answer and why, the gate's decisions,
//! the bundle, and the counts and timings — for the app's "why this answer" sheet.

use keel::engine::{FinishReason as CoreFinish, GenerationReport};
use keel::safety::GateReport;

use crate::records::{BundleInfo, Dimension, Source, Verdict};

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum FinishReason {
    /// The model ended its message.
    EndOfText,
    /// A stop sequence was found.
    StopSequence,
    /// `max_tokens` were generated.
    MaxTokens,
    /// The context is full.
    ContextFull,
    /// The caller cancelled.
    Cancelled,
}

impl From<CoreFinish> for FinishReason {
    fn from(f: CoreFinish) -> Self {
        match f {
            CoreFinish::EndOfText => Self::EndOfText,
            CoreFinish::StopSequence => Self::StopSequence,
            CoreFinish::MaxTokens => Self::MaxTokens,
            CoreFinish::ContextFull => Self::ContextFull,
            CoreFinish::Cancelled => Self::Cancelled,
        }
    }
}

/// One preference that shaped an answer.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Shaping {
    /// The dimension.
    pub dimension: Dimension,
    /// The value used.
    pub value: f64,
    /// How far it moves the answer from the default (signed).
    pub weight: f64,
    /// How sure the direction is, 0–1.
    pub confidence: f64,
    /// Feedback events behind it.
    pub evidence: u32,
    /// Where it came from.
    pub source: Source,
    /// The instruction it added.
    pub instruction: String,
}

/// What the gate did to one text.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct GateDecision {
    /// The strictest action taken.
    pub verdict: Verdict,
    /// The ids of the rules that matched.
    pub rules: Vec<String>,
    /// Nothing was checked (explicit developer mode).
    pub developer_mode: bool,
}

impl From<GateReport> for GateDecision {
    fn from(g: GateReport) -> Self {
        Self {
            verdict: g.verdict.into(),
            rules: g.rules,
            developer_mode: g.developer_mode,
        }
    }
}

/// The engine's counts and timings for one answer.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct GenerationStats {
    /// Why it ended.
    pub finish: FinishReason,
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Prompt tokens reused from the KV cache.
    pub reused_tokens: u64,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// To the first generated token, in milliseconds.
    pub ttft_ms: f64,
    /// Generated tokens per second after the first.
    pub decode_tok_s: f64,
    /// The whole generation, in milliseconds.
    pub total_ms: f64,
}

impl From<GenerationReport> for GenerationStats {
    fn from(g: GenerationReport) -> Self {
        Self {
            finish: g.finish.into(),
            prompt_tokens: g.prompt_tokens as u64,
            reused_tokens: g.reused_tokens as u64,
            generated_tokens: g.generated_tokens as u64,
            ttft_ms: g.ttft_ms,
            decode_tok_s: g.decode_tok_s,
            total_ms: g.total_ms,
        }
    }
}

/// How one chat turn ended, and why the answer is what it is.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChatReport {
    /// The id feedback refers to; absent for an incognito turn (nothing was recorded).
    pub turn_id: Option<String>,
    /// Whether the turn was incognito.
    pub incognito: bool,
    /// The context the turn was served in.
    pub context: Option<String>,
    /// The preferences that shaped the answer, and why.
    pub shaped_by: Vec<Shaping>,
    /// The strictest gate decision of the turn.
    pub verdict: Verdict,
    /// The input gate's decision.
    pub input: GateDecision,
    /// The output gate's decision (absent when the input was blocked).
    pub output: Option<GateDecision>,
    /// The engine's counts and timings (absent when nothing was generated).
    pub generation: Option<GenerationStats>,
    /// The bundle that judged the turn.
    pub bundle: BundleInfo,
    /// The token budget used.
    pub max_tokens: u32,
    /// A concise answer was ended at its last full sentence.
    pub ended_on_sentence: bool,
    /// Time waiting in the fair queue, in milliseconds.
    pub waited_ms: f64,
    /// From the request to the report, in milliseconds.
    pub total_ms: f64,
    /// For a best-of-n answer: how it was chosen and what it cost.
    pub best_of: Option<BestOf>,
}

/// One candidate of a best-of-n answer.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Candidate {
    /// The person's utility for it (`None`: blocked by the gate, not ranked).
    pub score: Option<f64>,
    /// Tokens generated for it.
    pub tokens: u32,
    /// Whether the gate blocked it.
    pub blocked: bool,
}

/// How a best-of-n answer was chosen and what it cost.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct BestOf {
    /// Which candidate (in generation order) is the answer.
    pub chosen: u32,
    /// Every candidate, in generation order.
    pub candidates: Vec<Candidate>,
    /// Tokens generated for all candidates together.
    pub total_tokens: u32,
    /// Wall time for all candidates, in milliseconds.
    pub total_ms: f64,
}

impl From<keel::runtime::BestOf> for BestOf {
    fn from(b: keel::runtime::BestOf) -> Self {
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            chosen: count(b.chosen),
            candidates: b
                .candidates
                .into_iter()
                .map(|c| Candidate {
                    score: c.score,
                    tokens: count(c.tokens),
                    blocked: c.blocked,
                })
                .collect(),
            total_tokens: count(b.total_tokens),
            total_ms: b.total_ms,
        }
    }
}

impl From<keel::KeelReport> for ChatReport {
    fn from(r: keel::KeelReport) -> Self {
        Self {
            turn_id: r.turn_id.map(|t| t.as_str().to_owned()),
            incognito: r.incognito,
            context: r.context.map(|c| c.as_str().to_owned()),
            shaped_by: r
                .shaped_by
                .into_iter()
                .map(|s| Shaping {
                    dimension: s.dimension.into(),
                    value: s.value,
                    weight: s.weight,
                    confidence: s.confidence,
                    evidence: s.evidence,
                    source: s.source.into(),
                    instruction: s.instruction,
                })
                .collect(),
            verdict: r.turn.verdict.into(),
            input: r.turn.input.into(),
            output: r.turn.output.map(Into::into),
            generation: r.turn.generation.map(Into::into),
            bundle: r.turn.bundle.into(),
            max_tokens: r.max_tokens,
            ended_on_sentence: r.ended_on_sentence,
            waited_ms: r.waited_ms,
            total_ms: r.total_ms,
            best_of: r.best_of.map(Into::into),
        }
    }
}

/// A whole answer: the text shown and its report.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChatResult {
    /// The text the gate released.
    pub text: String,
    /// How the turn ended.
    pub report: ChatReport,
}

impl From<(String, keel::KeelReport)> for ChatResult {
    fn from((text, report): (String, keel::KeelReport)) -> Self {
        Self {
            text,
            report: report.into(),
        }
    }
}
