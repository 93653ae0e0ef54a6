//! The receiving end of a generation: a stream of [`StreamEvent`]s that is both a
//! `futures::Stream` (async) and a blocking iterator, a cancel flag the worker checks at every
//! token and before each batch of the prompt, and the final [`GenerationReport`]. Dropping a
//! [`Generation`] cancels it.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::Serialize;
use tokio::sync::mpsc;

use crate::engine::EngineError;

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// The model ended its message.
    EndOfText,
    /// A stop sequence was found.
    StopSequence,
    /// `max_tokens` were generated.
    MaxTokens,
    /// The context is full.
    ContextFull,
    /// The caller cancelled.
    Cancelled,
}

/// Counts and timings of one generation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerationReport {
    /// Why it ended.
    pub finish: FinishReason,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Prompt tokens whose KV entries were reused from the previous request.
    pub reused_tokens: usize,
    /// Prompt tokens evaluated for this request (`prompt_tokens - reused_tokens`, fewer when
    /// the request was cancelled before its prompt was evaluated whole).
    pub evaluated_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Time waiting for the worker (other requests ahead), in milliseconds.
    pub queue_ms: f64,
    /// From the worker taking the request to the first generated token, in milliseconds.
    pub ttft_ms: f64,
    /// Generated tokens per second after the first.
    pub decode_tok_s: f64,
    /// From the worker taking the request to the end, in milliseconds.
    pub total_ms: f64,
}

/// One item of a generation's stream.
#[derive(Debug)]
pub enum StreamEvent {
    /// The next piece of the answer (whole characters).
    Chunk(String),
    /// Generation ended; nothing follows.
    Done(GenerationReport),
    /// Generation failed; nothing follows.
    Failed(EngineError),
}

/// Cancels a generation from anywhere (another thread, a signal handler).
#[derive(Debug, Clone)]
pub struct CancelHandle(Arc<AtomicBool>);

impl CancelHandle {
    /// Ask the worker to stop at the next token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// A running generation. Read it as a `Stream` or with [`Generation::next_blocking`].
#[derive(Debug)]
pub struct Generation {
    events: mpsc::UnboundedReceiver<StreamEvent>,
    cancel: CancelHandle,
    finished: bool,
}

/// The worker's end of a generation.
#[derive(Debug)]
pub(crate) struct EventSink {
    events: mpsc::UnboundedSender<StreamEvent>,
    pub(crate) cancel: CancelHandle,
    pub(crate) submitted: std::time::Instant,
}

impl EventSink {
    /// Send an event; `false` when the receiver is gone (which also means: cancel).
    pub(crate) fn send(&self, event: StreamEvent) -> bool {
        self.events.send(event).is_ok()
    }
    /// Whether the generation should stop.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel.is_cancelled() || self.events.is_closed()
    }
}

pub(crate) fn channel() -> (Generation, EventSink) {
    let (tx, rx) = mpsc::unbounded_channel();
    let cancel = CancelHandle(Arc::new(AtomicBool::new(false)));
    (
        Generation {
            events: rx,
            cancel: cancel.clone(),
            finished: false,
        },
        EventSink {
            events: tx,
            cancel,
            submitted: std::time::Instant::now(),
        },
    )
}

impl Generation {
    /// Ask the worker to stop; the stream then ends with `FinishReason::Cancelled`.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// A handle that cancels this generation from elsewhere.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Whether the final event has been read.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The next event, waiting for it; `None` after the final event. Do not call from
    /// inside an async task (use the `Stream` there).
    pub fn next_blocking(&mut self) -> Option<StreamEvent> {
        if self.finished {
            return None;
        }
        let event = futures::executor::block_on(self.events.recv());
        self.note(event)
    }

    /// Read to the end: the whole text and the report.
    pub fn collect_blocking(mut self) -> Result<(String, GenerationReport), EngineError> {
        let mut text = String::new();
        while let Some(event) = self.next_blocking() {
            match event {
                StreamEvent::Chunk(c) => text.push_str(&c),
                StreamEvent::Done(report) => return Ok((text, report)),
                StreamEvent::Failed(e) => return Err(e),
            }
        }
        Err(EngineError::WorkerGone)
    }

    fn note(&mut self, event: Option<StreamEvent>) -> Option<StreamEvent> {
        match &event {
            Some(StreamEvent::Chunk(_)) => {}
            Some(_) => self.finished = true,
            None => {
                self.finished = true;
                return Some(StreamEvent::Failed(EngineError::WorkerGone));
            }
        }
        event
    }
}

impl futures::Stream for Generation {
    type Item = StreamEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<StreamEvent>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.events.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(event) => Poll::Ready(self.note(event)),
        }
    }
}

impl Drop for Generation {
    fn drop(&mut self) {
        if !self.finished {
            self.cancel.cancel();
        }
    }
}
