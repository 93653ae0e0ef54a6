//! Embeddings: a separate llama.cpp context with mean pooling, made on first use, and an
//! L2-normalised vector per text.

use std::num::NonZeroU32;

use llama_cpp_2::context::params::LlamaPoolingType;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::engine::{context_params, EngineConfig, EngineError};

/// The embedding context: at most 2,048 tokens (and no more than the generation context).
pub(crate) fn context<'m>(
    backend: &LlamaBackend,
    model: &'m LlamaModel,
    config: &EngineConfig,
    n_ctx: u32,
) -> Result<LlamaContext<'m>, EngineError> {
    const EMBED_CTX: u32 = 2048;
    let n = EMBED_CTX.min(n_ctx);
    let params = context_params(config)
        .with_n_ctx(NonZeroU32::new(n))
        .with_n_batch(n)
        .with_n_ubatch(n)
        .with_embeddings(true)
        .with_pooling_type(LlamaPoolingType::Mean);
    model
        .new_context(backend, params)
        .map_err(|e| EngineError::Embedding(e.to_string()))
}

/// The mean-pooled, L2-normalised embedding of `tokens` (cut to the context size).
pub(crate) fn embed(
    ctx: &mut LlamaContext<'_>,
    mut tokens: Vec<LlamaToken>,
) -> Result<Vec<f32>, EngineError> {
    tokens.truncate(usize::try_from(ctx.n_ctx()).unwrap_or(512));
    if tokens.is_empty() {
        return Err(EngineError::Embedding("the text has no tokens".into()));
    }
    ctx.clear_kv_cache();
    let mut batch = LlamaBatch::new(tokens.len(), 1);
    batch
        .add_sequence(&tokens, 0, false)
        .map_err(|e| EngineError::Embedding(e.to_string()))?;
    ctx.decode(&mut batch)
        .map_err(|e| EngineError::Embedding(e.to_string()))?;
    let raw = ctx
        .embeddings_seq_ith(0)
        .map_err(|e| EngineError::Embedding(e.to_string()))?;
    let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt();
    let out = if norm > 0.0 {
        raw.iter().map(|x| x / norm).collect()
    } else {
        raw.to_vec()
    };
    ctx.clear_kv_cache();
    Ok(out)
}
