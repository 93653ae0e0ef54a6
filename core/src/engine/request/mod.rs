//! What a generation request carries: the conversation and the generation settings, with
//! the range checks that turn a bad value into a clear error before any work starts.

use serde::{Deserialize, Serialize};

use crate::engine::EngineError;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Instructions for the assistant.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The role's name in chat templates.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// What it says.
    pub content: String,
}

impl ChatMessage {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }
    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }
    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// How the next token is chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingParams {
    /// Softmax temperature; 0 means greedy (always the most likely token).
    pub temperature: f32,
    /// Keep only the k most likely tokens (0: off).
    pub top_k: i32,
    /// Keep the smallest set of tokens whose probability adds up to p (1.0: off).
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one (0.0: off).
    pub min_p: f32,
    /// Penalty for repeating recent tokens (1.0: off).
    pub repeat_penalty: f32,
    /// How many recent tokens the repeat penalty looks at (-1: the whole context, 0: off).
    pub repeat_last_n: i32,
    /// Random seed, for reproducible sampling.
    pub seed: u32,
    /// Penalty per earlier occurrence of a token in the answer's last `repeat_last_n` tokens,
    /// subtracted from its logit (0.0: off).
    #[serde(default)]
    pub frequency_penalty: f32,
    /// Penalty once for any token already in the answer's last `repeat_last_n` tokens,
    /// subtracted from its logit (0.0: off).
    #[serde(default)]
    pub presence_penalty: f32,
    /// DRY ("don't repeat yourself") strength: a token that would extend a sequence already
    /// written in the answer is penalized by `dry_multiplier * dry_base^(length -
    /// dry_allowed_length)` (0.0: off).
    #[serde(default)]
    pub dry_multiplier: f32,
    /// How fast the DRY penalty grows with the repeated sequence's length.
    #[serde(default = "default_dry_base")]
    pub dry_base: f32,
    /// Repeated sequences up to this many tokens are not penalized by DRY.
    #[serde(default = "default_dry_allowed_length")]
    pub dry_allowed_length: i32,
    /// End of generation is barred until this many tokens have been generated (0: off); the
    /// token budget still ends the answer.
    #[serde(default)]
    pub min_tokens: u32,
}

fn default_dry_base() -> f32 {
    1.75
}

fn default_dry_allowed_length() -> i32 {
    2
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            repeat_penalty: 1.1,
            repeat_last_n: 64,
            seed: 0x4b45_454c,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            dry_multiplier: 0.0,
            dry_base: default_dry_base(),
            dry_allowed_length: default_dry_allowed_length(),
            min_tokens: 0,
        }
    }
}

impl SamplingParams {
    /// Greedy decoding: reproducible, the same answer every time.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repeat_penalty: 1.0,
            ..Self::default()
        }
    }

    /// Whether the most likely token is always taken.
    pub fn is_greedy(&self) -> bool {
        self.temperature == 0.0
    }

    /// Check every value's range.
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |parameter, value: String, expected| {
            Err(EngineError::InvalidSampling {
                parameter,
                value,
                expected,
            })
        };
        if !self.temperature.is_finite() || !(0.0..=100.0).contains(&self.temperature) {
            return bad(
                "temperature",
                self.temperature.to_string(),
                "a number from 0 (greedy) to 100",
            );
        }
        if self.top_k < 0 {
            return bad(
                "top_k",
                self.top_k.to_string(),
                "0 (off) or a positive count",
            );
        }
        if !(self.top_p.is_finite() && self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(
                "top_p",
                self.top_p.to_string(),
                "greater than 0 and at most 1",
            );
        }
        if !self.min_p.is_finite() || !(0.0..=1.0).contains(&self.min_p) {
            return bad("min_p", self.min_p.to_string(), "from 0 (off) to 1");
        }
        if !(self.repeat_penalty.is_finite()
            && self.repeat_penalty > 0.0
            && self.repeat_penalty <= 10.0)
        {
            return bad(
                "repeat_penalty",
                self.repeat_penalty.to_string(),
                "greater than 0 and at most 10 (1 is off)",
            );
        }
        for (parameter, value) in [
            ("frequency_penalty", self.frequency_penalty),
            ("presence_penalty", self.presence_penalty),
        ] {
            if !value.is_finite() || !(-2.0..=2.0).contains(&value) {
                return bad(parameter, value.to_string(), "from -2 to 2 (0 is off)");
            }
        }
        if !self.dry_multiplier.is_finite() || !(0.0..=10.0).contains(&self.dry_multiplier) {
            return bad(
                "dry_multiplier",
                self.dry_multiplier.to_string(),
                "from 0 (off) to 10",
            );
        }
        if !(self.dry_base.is_finite() && self.dry_base >= 1.0 && self.dry_base <= 10.0) {
            return bad("dry_base", self.dry_base.to_string(), "from 1 to 10");
        }
        if self.dry_allowed_length < 1 {
            return bad(
                "dry_allowed_length",
                self.dry_allowed_length.to_string(),
                "at least 1",
            );
        }
        if self.repeat_last_n < -1 {
            return bad(
                "repeat_last_n",
                self.repeat_last_n.to_string(),
                "-1 (whole context), 0 (off) or a positive count",
            );
        }
        Ok(())
    }
}

/// Everything about one generation except the conversation itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationParams {
    /// At most this many tokens are generated.
    pub max_tokens: u32,
    /// Generation stops before any of these strings; the stop string is not emitted.
    pub stop: Vec<String>,
    /// Sampling settings.
    pub sampling: SamplingParams,
}

impl Default for GenerationParams {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            stop: Vec::new(),
            sampling: SamplingParams::default(),
        }
    }
}

impl GenerationParams {
    /// Greedy generation of at most `max_tokens` tokens.
    pub fn greedy(max_tokens: u32) -> Self {
        Self {
            max_tokens,
            stop: Vec::new(),
            sampling: SamplingParams::greedy(),
        }
    }

    /// Check every value's range.
    pub fn validate(&self) -> Result<(), EngineError> {
        if self.max_tokens == 0 {
            return Err(EngineError::InvalidSampling {
                parameter: "max_tokens",
                value: "0".into(),
                expected: "at least 1",
            });
        }
        if self.stop.iter().any(String::is_empty) {
            return Err(EngineError::InvalidSampling {
                parameter: "stop",
                value: "an empty string".into(),
                expected: "non-empty stop sequences",
            });
        }
        self.sampling.validate()
    }
}

#[cfg(test)]
mod tests;
