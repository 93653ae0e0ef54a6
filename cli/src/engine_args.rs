//! Command-line options for the engine and sampling, shared by `chat`, `demo` and `bench`,
//! and how a command finds (or fetches) its model.

use std::path::PathBuf;

use keel::engine::{EngineConfig, GenerationParams, SamplingParams};

use crate::error::CliError;
use crate::globals::Globals;
use crate::progress;

/// Engine settings.
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// Decode threads (default: measured, see docs/adr/0003).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Prompt-evaluation threads (default: one per core, at most 8).
    #[arg(long)]
    pub threads_batch: Option<u32>,
    /// Context size in tokens.
    #[arg(long)]
    pub ctx_size: Option<u32>,
    /// Prompt tokens per batch.
    #[arg(long)]
    pub batch_size: Option<u32>,
    /// Layers to offload to a GPU (needs a GPU build of llama.cpp).
    #[arg(long, default_value_t = 0)]
    pub gpu_layers: u32,
}

impl EngineArgs {
    /// The engine configuration these options describe.
    pub fn config(&self) -> EngineConfig {
        let d = EngineConfig::default();
        EngineConfig {
            threads: self.threads.unwrap_or(d.threads),
            threads_batch: self.threads_batch.unwrap_or(d.threads_batch),
            n_ctx: self.ctx_size.unwrap_or(d.n_ctx),
            n_batch: self.batch_size.unwrap_or(d.n_batch),
            gpu_layers: self.gpu_layers,
        }
    }
}

/// Generation and sampling settings.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Sampling", allow_negative_numbers = true)]
pub struct SamplingArgs {
    /// Most tokens in an answer.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: u32,
    /// Temperature (0: greedy, reproducible).
    #[arg(long)]
    pub temperature: Option<f32>,
    /// Top-k (0: off).
    #[arg(long)]
    pub top_k: Option<i32>,
    /// Top-p (1: off).
    #[arg(long)]
    pub top_p: Option<f32>,
    /// Min-p (0: off).
    #[arg(long)]
    pub min_p: Option<f32>,
    /// Repeat penalty (1: off).
    #[arg(long)]
    pub repeat_penalty: Option<f32>,
    /// Frequency penalty: subtracted once per earlier use of a token (0: off).
    #[arg(long)]
    pub frequency_penalty: Option<f32>,
    /// Presence penalty: subtracted once for any token already used (0: off).
    #[arg(long)]
    pub presence_penalty: Option<f32>,
    /// DRY strength against repeated phrases and loops (0: off; 0.8 is a common choice).
    #[arg(long)]
    pub dry_multiplier: Option<f32>,
    /// Random seed.
    #[arg(long)]
    pub seed: Option<u32>,
    /// Stop before this text (repeatable).
    #[arg(long)]
    pub stop: Vec<String>,
}

impl SamplingArgs {
    /// The generation parameters these options describe (checked later by the engine).
    pub fn params(&self) -> GenerationParams {
        let d = SamplingParams::default();
        GenerationParams {
            max_tokens: self.max_tokens,
            stop: self.stop.clone(),
            sampling: SamplingParams {
                temperature: self.temperature.unwrap_or(d.temperature),
                top_k: self.top_k.unwrap_or(d.top_k),
                top_p: self.top_p.unwrap_or(d.top_p),
                min_p: self.min_p.unwrap_or(d.min_p),
                repeat_penalty: self.repeat_penalty.unwrap_or(d.repeat_penalty),
                repeat_last_n: d.repeat_last_n,
                seed: self.seed.unwrap_or(d.seed),
                frequency_penalty: self.frequency_penalty.unwrap_or(d.frequency_penalty),
                presence_penalty: self.presence_penalty.unwrap_or(d.presence_penalty),
                dry_multiplier: self.dry_multiplier.unwrap_or(d.dry_multiplier),
                ..d
            },
        }
    }
}

/// The model to use: `--model`/`KEEL_MODEL`, else the default model, fetched if missing.
pub fn resolve_model(g: &Globals) -> Result<PathBuf, CliError> {
    if let Some(path) = &g.model {
        return Ok(path.clone());
    }
    let (bar, mut report) = progress::fetch_reporter();
    let path =
        keel::model_fetch::ensure_default_model(&g.home, &mut report).map_err(keel::Error::from)?;
    bar.finish_and_clear();
    Ok(path)
}

/// Load the engine with a spinner.
pub fn load_engine(
    path: &std::path::Path,
    args: &EngineArgs,
) -> Result<keel::engine::Engine, CliError> {
    let bar = progress::spinner("loading the model");
    let engine = keel::engine::Engine::load(path, args.config());
    bar.finish_and_clear();
    Ok(engine?)
}

#[cfg(test)]
mod tests {
    use super::SamplingArgs;
    use clap::Parser;

    #[derive(Parser)]
    struct Wrapper {
        #[command(flatten)]
        sampling: SamplingArgs,
    }

    fn params(args: &[&str]) -> keel::engine::GenerationParams {
        let w = Wrapper::try_parse_from(std::iter::once("keel").chain(args.iter().copied()))
            .expect("the options parse");
        w.sampling.params()
    }

    #[test]
    fn penalty_and_dry_options_reach_the_sampler_and_bad_values_are_refused() {
        let p = params(&[
            "--frequency-penalty",
            "0.2",
            "--presence-penalty",
            "-0.5",
            "--dry-multiplier",
            "0.8",
        ]);
        let s = &p.sampling;
        assert_eq!(
            (s.frequency_penalty, s.presence_penalty, s.dry_multiplier),
            (0.2, -0.5, 0.8)
        );
        assert!(p.validate().is_ok());
        let off = params(&[]);
        assert_eq!(off.sampling.dry_multiplier, 0.0);
        assert!(params(&["--frequency-penalty", "3"]).validate().is_err());
        assert!(params(&["--dry-multiplier", "-1"]).validate().is_err());
    }
}
