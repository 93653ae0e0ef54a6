//! Loading a GGUF model and the llama.cpp context parameters, from the engine settings.

use std::num::NonZeroU32;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;

use crate::engine::{EngineConfig, EngineError};

/// Load the model file with the configured GPU layers.
pub fn load_model(
    backend: &LlamaBackend,
    path: &std::path::Path,
    config: &EngineConfig,
) -> Result<LlamaModel, EngineError> {
    let params = LlamaModelParams::default().with_n_gpu_layers(config.gpu_layers);
    LlamaModel::load_from_file(backend, path, &params).map_err(|e| EngineError::LoadModel {
        path: path.to_path_buf(),
        reason: match e {
            llama_cpp_2::LlamaModelLoadError::NullResult => "llama.cpp rejected the file (truncated, damaged, or an unsupported architecture; run with -v for its log)".into(),
            other => other.to_string(),
        },
    })
}

/// Context parameters from the engine settings.
pub fn context_params(config: &EngineConfig) -> LlamaContextParams {
    let threads = i32::try_from(config.threads).unwrap_or(1);
    let threads_batch = i32::try_from(config.threads_batch).unwrap_or(1);
    LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(config.n_ctx))
        .with_n_batch(config.n_batch)
        .with_n_ubatch(config.n_batch.min(512))
        .with_n_threads(threads)
        .with_n_threads_batch(threads_batch)
}
