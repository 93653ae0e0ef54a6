//! Engine settings: threads, context size, batch size and GPU layers, with defaults chosen
//! by measurement (see docs/adr/0003-engine-defaults.md and docs/BENCHMARKS.md).

use crate::engine::EngineError;

/// The measured defaults, documented in one place.
#[derive(Debug, Clone, Copy)]
pub struct MeasuredDefaults;

impl MeasuredDefaults {
    /// Context size. The default model was trained on 8,192 tokens; 4,096 keeps the KV
    /// cache small (about 90 MB for SmolLM2-135M) while holding long conversations.
    pub const N_CTX: u32 = 4096;
    /// Prompt tokens evaluated per llama.cpp call.
    pub const N_BATCH: u32 = 512;
    /// Upper bound on the default decode thread count.
    pub const MAX_THREADS: u32 = 4;
    /// Upper bound on the default prompt-evaluation thread count.
    pub const MAX_BATCH_THREADS: u32 = 8;

    /// Cores available to this process.
    fn cores() -> u32 {
        std::thread::available_parallelism()
            .map(|n| u32::try_from(n.get()).unwrap_or(1))
            .unwrap_or(1)
    }

    /// Decode threads: half the cores, at least 1, at most [`Self::MAX_THREADS`]. Decoding
    /// one token of a small model is short work, and the threads' synchronisation costs more
    /// than a second core gives: on the 2-core development machine one decode thread ran at
    /// 141-158 tokens/s against 69-87 for two, side by side (docs/BENCHMARKS.md).
    pub fn threads() -> u32 {
        (Self::cores() / 2).clamp(1, Self::MAX_THREADS)
    }

    /// Prompt-evaluation threads: every core, at most [`Self::MAX_BATCH_THREADS`]; a batch
    /// of prompt tokens is large enough work to spread.
    pub fn threads_batch() -> u32 {
        Self::cores().clamp(1, Self::MAX_BATCH_THREADS)
    }
}

/// How the engine runs the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Threads for decoding one token at a time.
    pub threads: u32,
    /// Threads for evaluating prompts (batches).
    pub threads_batch: u32,
    /// Context size in tokens (0: the model's training length).
    pub n_ctx: u32,
    /// Prompt tokens evaluated per llama.cpp call.
    pub n_batch: u32,
    /// Layers offloaded to a GPU, where llama.cpp was built with one (0 on CPU).
    pub gpu_layers: u32,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            threads: MeasuredDefaults::threads(),
            threads_batch: MeasuredDefaults::threads_batch(),
            n_ctx: MeasuredDefaults::N_CTX,
            n_batch: MeasuredDefaults::N_BATCH,
            gpu_layers: 0,
        }
    }
}

impl EngineConfig {
    /// Check that every setting is in range.
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |setting, value: u32, expected| EngineError::InvalidConfig {
            setting,
            value: value.to_string(),
            expected,
        };
        if !(1..=256).contains(&self.threads) {
            return Err(bad("threads", self.threads, "between 1 and 256"));
        }
        if !(1..=256).contains(&self.threads_batch) {
            return Err(bad(
                "threads_batch",
                self.threads_batch,
                "between 1 and 256",
            ));
        }
        if self.n_ctx != 0 && !(64..=1_048_576).contains(&self.n_ctx) {
            return Err(bad(
                "n_ctx",
                self.n_ctx,
                "0 (model default) or 64 to 1048576",
            ));
        }
        if !(1..=65_536).contains(&self.n_batch) {
            return Err(bad("n_batch", self.n_batch, "between 1 and 65536"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        EngineConfig::default().validate().expect("defaults valid");
        assert!(MeasuredDefaults::threads() >= 1);
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        let cfg = EngineConfig {
            threads: 0,
            ..EngineConfig::default()
        };
        assert!(matches!(
            cfg.validate(),
            Err(EngineError::InvalidConfig {
                setting: "threads",
                ..
            })
        ));
        let cfg = EngineConfig {
            n_ctx: 10,
            ..EngineConfig::default()
        };
        assert!(matches!(
            cfg.validate(),
            Err(EngineError::InvalidConfig {
                setting: "n_ctx",
                ..
            })
        ));
    }
}
