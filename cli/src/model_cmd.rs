//! `keel model fetch|info`: get the default model, or describe a model file.

use keel::engine::{Engine, EngineConfig};
use keel::model_fetch::{self, DefaultModel};

use crate::engine_args;
use crate::error::CliError;
use crate::globals::Globals;

/// `keel model` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ModelCmd {
    /// Download the default model (SmolLM2-135M-Instruct Q4_1) and verify its SHA-256.
    Fetch,
    /// Describe the model in use: path, size, SHA-256, and what llama.cpp reads from it.
    Info,
}

/// Run a `keel model` subcommand.
pub fn run(cmd: ModelCmd, g: &Globals) -> Result<(), CliError> {
    match cmd {
        ModelCmd::Fetch => {
            let path = engine_args::resolve_model(&Globals {
                model: None,
                ..g.clone()
            })?;
            if g.json {
                println!(
                    "{}",
                    serde_json::json!({"path": path, "sha256": DefaultModel::SHA256, "size": DefaultModel::SIZE})
                );
            } else {
                println!("default model ready: {}", path.display());
                println!(
                    "sha256 {} ({} bytes), verified",
                    DefaultModel::SHA256,
                    DefaultModel::SIZE
                );
            }
            Ok(())
        }
        ModelCmd::Info => {
            let path = match &g.model {
                Some(p) => p.clone(),
                None => model_fetch::find_default_model(&g.home).ok_or_else(|| {
                    CliError::Usage(
                        "no model yet; run `keel model fetch` or pass --model PATH".into(),
                    )
                })?,
            };
            let (sha256, size) = model_fetch::hash_file(&path).map_err(keel::Error::from)?;
            let is_default = sha256 == DefaultModel::SHA256 && size == DefaultModel::SIZE;
            let engine = Engine::load(&path, EngineConfig::default())?;
            let info = engine.info();
            if g.json {
                let mut v =
                    serde_json::to_value(info).map_err(|e| CliError::Usage(e.to_string()))?;
                v["sha256"] = sha256.into();
                v["file_bytes"] = size.into();
                v["is_default_model"] = is_default.into();
                println!("{v}");
            } else {
                println!("path          {}", path.display());
                println!(
                    "name          {}",
                    info.name.as_deref().unwrap_or("(unnamed)")
                );
                println!("file bytes    {size}");
                println!(
                    "sha256        {sha256}{}",
                    if is_default {
                        " (the default model, verified)"
                    } else {
                        ""
                    }
                );
                println!("parameters    {}", info.params);
                println!("trained ctx   {}", info.n_ctx_train);
                println!("embedding     {}", info.n_embd);
                println!(
                    "chat template {}",
                    if info.template_from_model {
                        "from the GGUF"
                    } else {
                        "fallback (chatml)"
                    }
                );
            }
            Ok(())
        }
    }
}
