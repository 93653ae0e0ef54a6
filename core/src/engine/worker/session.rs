//! The worker's state and its KV cache: the model, the generation context, the tokens whose
//! keys and values sit in the cache, and the operations on them (tokenizing, reusing the
//! longest common prefix, evaluating tokens in batches, embeddings).

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::engine::embed;
use crate::engine::stream::EventSink;
use crate::engine::{context_params, ChatTemplate, EngineConfig, EngineError};

/// The worker's state: the model, the generation context and what its KV cache holds.
pub(super) struct Session<'m> {
    backend: &'static LlamaBackend,
    pub(super) model: &'m LlamaModel,
    pub(super) ctx: LlamaContext<'m>,
    embed_ctx: Option<LlamaContext<'m>>,
    pub(super) template: ChatTemplate,
    batch: LlamaBatch<'static>,
    n_batch: usize,
    /// Tokens whose keys and values are in `ctx`'s KV cache (sequence 0), in order.
    pub(super) cached: Vec<LlamaToken>,
    config: EngineConfig,
}

impl<'m> Session<'m> {
    pub(super) fn new(
        backend: &'static LlamaBackend,
        model: &'m LlamaModel,
        config: &EngineConfig,
    ) -> Result<Self, EngineError> {
        let ctx = model
            .new_context(backend, context_params(config))
            .map_err(|e| EngineError::CreateContext {
                n_ctx: config.n_ctx,
                reason: e.to_string(),
            })?;
        let n_batch = usize::try_from(ctx.n_batch()).unwrap_or(512).max(1);
        Ok(Self {
            backend,
            model,
            template: ChatTemplate::for_model(model)?,
            ctx,
            embed_ctx: None,
            batch: LlamaBatch::new(n_batch, 1),
            n_batch,
            cached: Vec::new(),
            config: config.clone(),
        })
    }

    pub(super) fn tokenize(&self, text: &str, add_bos: bool) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        let add_special = add_bos && vocab.should_add_bos();
        vocab.tokenize(text.as_bytes(), add_special, true)
    }

    pub(super) fn forget_cache(&mut self) {
        self.ctx.clear_kv_cache();
        self.cached.clear();
    }

    /// Drop KV entries after the longest common prefix with `tokens`; return how many prompt
    /// tokens are reused. At least one token is always left to evaluate (for its logits).
    pub(super) fn reuse_prefix(&mut self, tokens: &[LlamaToken]) -> usize {
        let mut common = self
            .cached
            .iter()
            .zip(tokens)
            .take_while(|(a, b)| a == b)
            .count();
        if common == tokens.len() {
            common = common.saturating_sub(1);
        }
        if common < self.cached.len() {
            let from = u32::try_from(common).unwrap_or(u32::MAX);
            match self.ctx.clear_kv_cache_seq(Some(0), Some(from), None) {
                Ok(true) => self.cached.truncate(common),
                _ => {
                    self.forget_cache();
                    return 0;
                }
            }
        }
        common
    }

    /// Evaluate `tokens` at positions starting at `self.cached.len()`, in batches; the last
    /// token's logits are kept. Returns the batch index of those logits, or `None` when
    /// `cancel` asked to stop before a batch (what was evaluated stays in the cache).
    pub(super) fn evaluate(
        &mut self,
        tokens: &[LlamaToken],
        cancel: Option<&EventSink>,
    ) -> Result<Option<i32>, EngineError> {
        let mut last_index = 0;
        let total = tokens.len();
        for (chunk_no, chunk) in tokens.chunks(self.n_batch).enumerate() {
            if cancel.is_some_and(EventSink::cancelled) {
                return Ok(None);
            }
            self.batch.clear();
            for (i, token) in chunk.iter().enumerate() {
                let pos = i32::try_from(self.cached.len() + i).unwrap_or(i32::MAX);
                let is_last = chunk_no * self.n_batch + i + 1 == total;
                self.batch
                    .add(*token, pos, &[0], is_last)
                    .map_err(|e| EngineError::Decode(e.to_string()))?;
            }
            if let Err(e) = self.ctx.decode(&mut self.batch) {
                self.forget_cache();
                return Err(EngineError::Decode(e.to_string()));
            }
            self.cached.extend_from_slice(chunk);
            last_index = self.batch.n_tokens() - 1;
        }
        Ok(Some(last_index))
    }

    pub(super) fn embed(&mut self, text: &str) -> Result<Vec<f32>, EngineError> {
        if self.embed_ctx.is_none() {
            self.embed_ctx = Some(embed::context(
                self.backend,
                self.model,
                &self.config,
                self.ctx.n_ctx(),
            )?);
        }
        let tokens = self.tokenize(text, true);
        let ctx = self
            .embed_ctx
            .as_mut()
            .ok_or_else(|| EngineError::Embedding("no embedding context".into()))?;
        embed::embed(ctx, tokens)
    }
}
