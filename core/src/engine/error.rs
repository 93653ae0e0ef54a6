//! Errors of the engine. Texts name sizes, paths and settings, never prompt or answer text.

use std::path::PathBuf;

/// What can go wrong loading a model or generating.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The model file does not exist.
    #[error("model file {0} not found; run `keel model fetch` for the default model or pass --model PATH")]
    ModelNotFound(PathBuf),
    /// The file is not a GGUF model.
    #[error("{0} is not a GGUF model file (it does not start with the GGUF magic bytes)")]
    NotGguf(PathBuf),
    /// The file starts like a GGUF but is cut short or damaged.
    #[error("{path} is a damaged or truncated GGUF file ({reason}); fetch it again")]
    DamagedGguf {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading the model file failed.
    #[error("could not read the model file {path}: {source}")]
    ReadModel {
        /// The file.
        path: PathBuf,
        /// The underlying failure.
        source: std::io::Error,
    },
    /// llama.cpp refused the model.
    #[error("llama.cpp could not load {path}: {reason}")]
    LoadModel {
        /// The file.
        path: PathBuf,
        /// llama.cpp's reason.
        reason: String,
    },
    /// The llama.cpp backend could not start.
    #[error("the llama.cpp backend could not start: {0}")]
    Backend(String),
    /// A context could not be created (often: not enough memory for the context size).
    #[error("could not create a llama.cpp context of {n_ctx} tokens: {reason}; try a smaller context size")]
    CreateContext {
        /// Requested context size.
        n_ctx: u32,
        /// llama.cpp's reason.
        reason: String,
    },
    /// An engine setting is out of range.
    #[error("invalid engine setting {setting} = {value}: {expected}")]
    InvalidConfig {
        /// The setting.
        setting: &'static str,
        /// Its value.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A sampling parameter is out of range.
    #[error("invalid sampling parameter {parameter} = {value}: {expected}")]
    InvalidSampling {
        /// The parameter.
        parameter: &'static str,
        /// Its value.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// The prompt does not fit in the context.
    #[error("the prompt is {prompt_tokens} tokens but the context holds {context_size}; shorten the conversation or raise the context size")]
    PromptTooLong {
        /// Tokens in the prompt.
        prompt_tokens: usize,
        /// The context size.
        context_size: usize,
    },
    /// A chat request had no messages.
    #[error("a chat request needs at least one message")]
    EmptyConversation,
    /// The chat template could not be applied.
    #[error("the chat template could not be applied: {0}")]
    Template(String),
    /// llama.cpp failed while evaluating tokens.
    #[error("llama.cpp failed to evaluate tokens: {0}")]
    Decode(String),
    /// Computing an embedding failed.
    #[error("could not compute an embedding: {0}")]
    Embedding(String),
    /// The worker thread is gone (the engine was dropped or crashed).
    #[error("the engine's worker thread has stopped; load the model again")]
    WorkerGone,
}
