//! The inference engine: loading a GGUF model, chat templates, the decode loop on its own
//! thread, sampling, streaming, cancellation, prefix (KV cache) reuse and embeddings.
//!
//! One worker thread owns the llama.cpp model and its contexts (contexts are not `Send`).
//! [`Engine`] sends jobs to it over a channel; each generation streams [`StreamEvent`]s back
//! over another. A [`Generation`] is both a `futures::Stream` and a blocking iterator; dropping
//! it cancels the generation, and the worker checks the cancel flag at every token and before
//! each batch of the prompt (a long prompt, or a request still queued, stops promptly).
//!
//! A conversation is tokenized so that message text cannot forge the chat template's control
//! tokens (`prompt.rs`).
//!
//! The worker keeps the tokens whose keys and values are in the KV cache; a new request
//! evaluates only the tokens after the longest common prefix (the system prompt, the
//! preamble and earlier turns of a conversation are not evaluated again).
//!
//! This module knows nothing of users, the store or the safety bundle.

mod backend;
mod config;
mod embed;
mod error;
mod gguf_check;
mod load;
mod prompt;
mod request;
mod sampler;
mod stop;
mod stream;
mod template;
mod utf8;
mod worker;

pub use backend::shared_backend;
pub use config::{EngineConfig, MeasuredDefaults};
pub use error::EngineError;
pub use gguf_check::check_gguf_file;
pub use load::{context_params, load_model};
pub use prompt::PromptToken;
pub use request::{ChatMessage, GenerationParams, Role, SamplingParams};
pub use stream::{CancelHandle, FinishReason, Generation, GenerationReport, StreamEvent};
pub use template::{ChatTemplate, FALLBACK_TEMPLATE};
pub use utf8::Utf8Stream;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::engine::worker::Job;

/// What the engine learned about the model when it loaded it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    /// The model file.
    pub path: PathBuf,
    /// The model's name from its GGUF metadata, when it has one.
    pub name: Option<String>,
    /// Parameter count.
    pub params: u64,
    /// Size of the weights in bytes.
    pub size_bytes: u64,
    /// Context length the model was trained with.
    pub n_ctx_train: u32,
    /// The context size in use.
    pub n_ctx: u32,
    /// Embedding width (the length of [`Engine::embed`]'s vectors).
    pub n_embd: usize,
    /// Whether the chat template came from the GGUF (`false`: the fallback).
    pub template_from_model: bool,
    /// Threads used for decoding.
    pub threads: u32,
}

/// A loaded model with its worker thread. Cheap to share behind an `Arc`; jobs run one at a
/// time, in the order they were submitted.
pub struct Engine {
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<JoinHandle<()>>,
    info: ModelInfo,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("info", &self.info).finish()
    }
}

impl Engine {
    /// Load the GGUF model at `path` on a new worker thread and wait until it is ready.
    pub fn load(path: &Path, config: EngineConfig) -> Result<Self, EngineError> {
        config.validate()?;
        check_gguf_file(path)?;
        let (jobs, info, handle) = worker::spawn(path.to_path_buf(), config)?;
        Ok(Self {
            jobs: Some(jobs),
            worker: Some(handle),
            info,
        })
    }

    /// What the engine knows about its model.
    pub fn info(&self) -> &ModelInfo {
        &self.info
    }

    /// Start generating the assistant's next message for `messages`. Chunks stream through
    /// the returned [`Generation`]; it ends with a report or an error.
    pub fn generate(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<Generation, EngineError> {
        params.validate()?;
        if messages.is_empty() {
            return Err(EngineError::EmptyConversation);
        }
        let (generation, sink) = stream::channel();
        self.send(Job::Generate {
            prompt: worker::Prompt::Chat(messages),
            params,
            sink,
        })?;
        Ok(generation)
    }

    /// Like [`Engine::generate`] but for text that is already formatted (no chat template).
    pub fn complete(
        &self,
        prompt: String,
        params: GenerationParams,
    ) -> Result<Generation, EngineError> {
        params.validate()?;
        let (generation, sink) = stream::channel();
        self.send(Job::Generate {
            prompt: worker::Prompt::Raw(prompt),
            params,
            sink,
        })?;
        Ok(generation)
    }

    /// The prompt text the chat template makes of `messages`, ending where the assistant's
    /// answer starts.
    pub fn render_prompt(&self, messages: Vec<ChatMessage>) -> Result<String, EngineError> {
        let (tx, rx) = mpsc::channel();
        self.send(Job::Render {
            messages,
            reply: tx,
        })?;
        rx.recv().map_err(|_| EngineError::WorkerGone)?
    }

    /// The tokens a generation for `messages` starts from: the chat template's markers are
    /// control tokens, while the messages' text is plain text, whatever it contains (a person
    /// cannot forge a template marker).
    pub fn prompt_tokens(
        &self,
        messages: Vec<ChatMessage>,
    ) -> Result<Vec<PromptToken>, EngineError> {
        let (tx, rx) = mpsc::channel();
        self.send(Job::PromptTokens {
            messages,
            reply: tx,
        })?;
        rx.recv().map_err(|_| EngineError::WorkerGone)?
    }

    /// The number of tokens `text` takes.
    pub fn count_tokens(&self, text: &str) -> Result<usize, EngineError> {
        let (tx, rx) = mpsc::channel();
        self.send(Job::CountTokens {
            text: text.to_owned(),
            reply: tx,
        })?;
        rx.recv().map_err(|_| EngineError::WorkerGone)
    }

    /// The bytes of each token of `text`, as the model splits it (a multi-byte character can
    /// be spread over several tokens).
    pub fn token_pieces(&self, text: &str) -> Result<Vec<Vec<u8>>, EngineError> {
        let (tx, rx) = mpsc::channel();
        self.send(Job::TokenPieces {
            text: text.to_owned(),
            reply: tx,
        })?;
        rx.recv().map_err(|_| EngineError::WorkerGone)
    }

    /// A mean-pooled, L2-normalised embedding of `text` from the model's hidden states.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, EngineError> {
        let (tx, rx) = mpsc::channel();
        self.send(Job::Embed {
            text: text.to_owned(),
            reply: tx,
        })?;
        rx.recv().map_err(|_| EngineError::WorkerGone)?
    }

    /// Forget the cached conversation prefix (the next request evaluates its whole prompt).
    pub fn reset_cache(&self) -> Result<(), EngineError> {
        let (tx, rx) = mpsc::channel();
        self.send(Job::ResetCache { reply: tx })?;
        rx.recv().map_err(|_| EngineError::WorkerGone)
    }

    fn send(&self, job: Job) -> Result<(), EngineError> {
        self.jobs
            .as_ref()
            .ok_or(EngineError::WorkerGone)?
            .send(job)
            .map_err(|_| EngineError::WorkerGone)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Closing the job channel ends the worker's loop once its current job is done.
        self.jobs.take();
        if let Some(handle) = self.worker.take() {
            if handle.join().is_err() {
                tracing::error!("the engine worker thread panicked");
            }
        }
    }
}
