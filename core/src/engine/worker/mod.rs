//! The worker thread: it loads the model, owns every llama.cpp context, and runs jobs one at
//! a time in arrival order. This module owns the jobs, starting the thread and dispatching
//! each job; the session (`session.rs`) keeps the tokens whose keys and values sit in the KV
//! cache so a request evaluates only what follows the longest common prefix with the previous
//! one, and `generate.rs` runs a generation.

mod generate;
mod session;

use std::path::PathBuf;
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::engine::prompt::{self, PromptToken};
use crate::engine::stream::EventSink;
use crate::engine::worker::session::Session;
use crate::engine::{
    load_model, shared_backend, ChatMessage, EngineConfig, EngineError, GenerationParams,
    ModelInfo, StreamEvent,
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

impl Session<'_> {
    /// Run one job and send its answer; a failed generation is reported on its stream.
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
}
