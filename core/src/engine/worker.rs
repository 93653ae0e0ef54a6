//! The worker thread: it loads the model, owns every llama.cpp context, and runs jobs one at
//! a time in arrival order. It keeps the tokens whose keys and values sit in the KV cache so
//! a request evaluates only what follows the longest common prefix with the previous one.

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::engine::embed;
use crate::engine::prompt::{self, chat_tokens, PromptToken};
use crate::engine::sampler::build_sampler;
use crate::engine::stop::{StopMatcher, StopOutcome};
use crate::engine::stream::EventSink;
use crate::engine::{
    context_params, load_model, shared_backend, ChatMessage, ChatTemplate, EngineConfig,
    EngineError, FinishReason, GenerationParams, GenerationReport, ModelInfo, StreamEvent,
    Utf8Stream,
};

/// What a generation starts from.
pub(crate) enum Prompt {
    /// A conversation, formatted with the chat template.
    Chat(Vec<ChatMessage>),
    /// Text used as it is.
    Raw(String),
}

/// Work for the worker thread.
pub(crate) enum Job {
    Generate {
        prompt: Prompt,
        params: GenerationParams,
        sink: EventSink,
    },
    Render {
        messages: Vec<ChatMessage>,
        reply: mpsc::Sender<Result<String, EngineError>>,
    },
    PromptTokens {
        messages: Vec<ChatMessage>,
        reply: mpsc::Sender<Result<Vec<PromptToken>, EngineError>>,
    },
    CountTokens {
        text: String,
        reply: mpsc::Sender<usize>,
    },
    TokenPieces {
        text: String,
        reply: mpsc::Sender<Vec<Vec<u8>>>,
    },
    Embed {
        text: String,
        reply: mpsc::Sender<Result<Vec<f32>, EngineError>>,
    },
    ResetCache {
        reply: mpsc::Sender<()>,
    },
}

/// Start the worker, wait for the model to load, and return the job queue.
pub(crate) fn spawn(
    path: PathBuf,
    config: EngineConfig,
) -> Result<(mpsc::Sender<Job>, ModelInfo, JoinHandle<()>), EngineError> {
    let (jobs_tx, jobs_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("keel-engine".into())
        .spawn(move || run(path, config, ready_tx, jobs_rx))
        .map_err(|e| EngineError::Backend(format!("could not start the worker thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(info)) => Ok((jobs_tx, info, handle)),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => {
            let _ = handle.join();
            Err(EngineError::WorkerGone)
        }
    }
}

fn run(
    path: PathBuf,
    config: EngineConfig,
    ready: mpsc::Sender<Result<ModelInfo, EngineError>>,
    jobs: mpsc::Receiver<Job>,
) {
    let loaded = shared_backend().and_then(|backend| {
        let model = load_model(backend, &path, &config)?;
        Ok((backend, model))
    });
    let (backend, model) = match loaded {
        Ok(pair) => pair,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let mut session = match Session::new(backend, &model, &config) {
        Ok(s) => s,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let info = ModelInfo {
        path,
        name: model.meta_val_str("general.name").ok(),
        params: model.n_params(),
        size_bytes: model.size(),
        n_ctx_train: model.n_ctx_train(),
        n_ctx: session.ctx.n_ctx(),
        n_embd: usize::try_from(model.n_embd()).unwrap_or(0),
        template_from_model: session.template.from_model(),
        threads: config.threads,
    };
    if ready.send(Ok(info)).is_err() {
        return;
    }
    for job in jobs {
        session.handle(job);
    }
}

/// The worker's state: the model, the generation context and what its KV cache holds.
struct Session<'m> {
    backend: &'static LlamaBackend,
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    embed_ctx: Option<LlamaContext<'m>>,
    template: ChatTemplate,
    batch: LlamaBatch<'static>,
    n_batch: usize,
    /// Tokens whose keys and values are in `ctx`'s KV cache (sequence 0), in order.
    cached: Vec<LlamaToken>,
    config: EngineConfig,
}

impl<'m> Session<'m> {
    fn new(
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

    fn handle(&mut self, job: Job) {
        match job {
            Job::Generate {
                prompt,
                params,
                sink,
            } => {
                if let Err(e) = self.generate(prompt, &params, &sink) {
                    sink.send(StreamEvent::Failed(e));
                }
            }
            Job::Render { messages, reply } => {
                let _ = reply.send(self.template.render(self.model, &messages));
            }
            Job::PromptTokens { messages, reply } => {
                let _ = reply.send(prompt::inspect(&self.template, self.model, &messages));
            }
            Job::CountTokens { text, reply } => {
                let _ = reply.send(self.tokenize(&text, false).len());
            }
            Job::TokenPieces { text, reply } => {
                let vocab = self.model.vocab();
                let pieces = self
                    .tokenize(&text, false)
                    .into_iter()
                    .map(|t| vocab.token_to_piece(t, false, None))
                    .collect();
                let _ = reply.send(pieces);
            }
            Job::Embed { text, reply } => {
                let _ = reply.send(self.embed(&text));
            }
            Job::ResetCache { reply } => {
                self.forget_cache();
                let _ = reply.send(());
            }
        }
    }

    fn tokenize(&self, text: &str, add_bos: bool) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        let add_special = add_bos && vocab.should_add_bos();
        vocab.tokenize(text.as_bytes(), add_special, true)
    }

    fn forget_cache(&mut self) {
        self.ctx.clear_kv_cache();
        self.cached.clear();
    }

    /// Drop KV entries after the longest common prefix with `tokens`; return how many prompt
    /// tokens are reused. At least one token is always left to evaluate (for its logits).
    fn reuse_prefix(&mut self, tokens: &[LlamaToken]) -> usize {
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
    fn evaluate(
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

    fn generate(
        &mut self,
        prompt: Prompt,
        params: &GenerationParams,
        sink: &EventSink,
    ) -> Result<(), EngineError> {
        let queue_ms = ms(sink.submitted.elapsed());
        let started = Instant::now();
        let tokens = match prompt {
            // Message text is tokenized without special-token parsing (prompt.rs).
            Prompt::Chat(messages) => chat_tokens(&self.template, self.model, &messages)?,
            Prompt::Raw(text) => self.tokenize(&text, true),
        };
        let n_ctx = usize::try_from(self.ctx.n_ctx()).unwrap_or(usize::MAX);
        if tokens.is_empty() {
            return Err(EngineError::EmptyConversation);
        }
        if tokens.len() >= n_ctx {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: tokens.len(),
                context_size: n_ctx,
            });
        }
        let reused = self.reuse_prefix(&tokens);
        // The cancel flag is checked before each batch of the prompt, so cancelling a turn
        // with a long prompt (or one still queued) returns without evaluating the rest.
        let Some(mut logits_at) = self.evaluate(&tokens[reused..], Some(sink))? else {
            sink.send(StreamEvent::Done(GenerationReport {
                finish: FinishReason::Cancelled,
                prompt_tokens: tokens.len(),
                reused_tokens: reused,
                evaluated_tokens: self.cached.len().saturating_sub(reused),
                generated_tokens: 0,
                queue_ms,
                ttft_ms: 0.0,
                decode_tok_s: 0.0,
                total_ms: ms(started.elapsed()),
            }));
            return Ok(());
        };

        let vocab = self.model.vocab();
        let mut sampler = build_sampler(&params.sampling, self.model, self.ctx.n_ctx());
        let mut utf8 = Utf8Stream::new();
        let mut stops = StopMatcher::new(&params.stop);
        let mut generated = 0usize;
        let mut first_token_at: Option<Instant> = None;
        let finish = loop {
            if sink.cancelled() {
                break FinishReason::Cancelled;
            }
            let token = sampler.sample(&self.ctx, logits_at);
            first_token_at.get_or_insert_with(Instant::now);
            if vocab.is_eog(token) {
                break FinishReason::EndOfText;
            }
            generated += 1;
            let piece = vocab.token_to_piece(token, false, None);
            match stops.push(&utf8.push(&piece)) {
                StopOutcome::Continue(text) => {
                    if !text.is_empty() && !sink.send(StreamEvent::Chunk(text)) {
                        break FinishReason::Cancelled;
                    }
                }
                StopOutcome::Stopped(text) => {
                    if !text.is_empty() {
                        sink.send(StreamEvent::Chunk(text));
                    }
                    break FinishReason::StopSequence;
                }
            }
            if generated >= usize::try_from(params.max_tokens).unwrap_or(usize::MAX) {
                break FinishReason::MaxTokens;
            }
            if self.cached.len() + 1 >= n_ctx {
                break FinishReason::ContextFull;
            }
            logits_at = self
                .evaluate(&[token], None)?
                .ok_or_else(|| EngineError::Decode("no logits for the sampled token".into()))?;
        };
        if matches!(
            finish,
            FinishReason::EndOfText | FinishReason::MaxTokens | FinishReason::ContextFull
        ) {
            let rest = match stops.push(&utf8.finish()) {
                StopOutcome::Continue(t) | StopOutcome::Stopped(t) => t,
            } + &stops.finish();
            if !rest.is_empty() {
                sink.send(StreamEvent::Chunk(rest));
            }
        }
        let ended = Instant::now();
        let decode_tok_s = match first_token_at {
            Some(first) if generated > 1 => {
                let secs = ended.duration_since(first).as_secs_f64();
                if secs > 0.0 {
                    (generated - 1) as f64 / secs
                } else {
                    0.0
                }
            }
            _ => 0.0,
        };
        sink.send(StreamEvent::Done(GenerationReport {
            finish,
            prompt_tokens: tokens.len(),
            reused_tokens: reused,
            evaluated_tokens: tokens.len() - reused,
            generated_tokens: generated,
            queue_ms,
            ttft_ms: first_token_at.map_or(0.0, |t| ms(t.duration_since(started))),
            decode_tok_s,
            total_ms: ms(ended.duration_since(started)),
        }));
        Ok(())
    }

    fn embed(&mut self, text: &str) -> Result<Vec<f32>, EngineError> {
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

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
