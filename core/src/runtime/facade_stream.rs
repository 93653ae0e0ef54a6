//! What a façade chat hands back: [`ChatOptions`] in, a [`ChatStream`] of [`ChatEvent`]s out,
//! ending with a [`KeelReport`]. The stream is a `futures::Stream` for async callers and has
//! blocking reads for the rest; cancelling it — or dropping it — stops its generation, or
//! takes it out of the queue when it has not started yet.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde::Serialize;
use tokio::sync::mpsc;

use crate::engine::{CancelHandle, EngineError, GenerationParams, SamplingParams};
use crate::prefs::{ContextKey, Shaping, TurnId};
use crate::Error;

use super::{BestOf, TurnReport};

/// How to answer one chat request (the settings before personalization adjusts them).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ChatOptions {
    /// At most this many tokens are generated (a person's preference for brevity may lower
    /// it, never raise it past the envelope).
    pub max_tokens: u32,
    /// Softmax temperature; 0 is greedy (the same answer every time).
    pub temperature: f32,
    /// Nucleus sampling mass (1.0: off).
    pub top_p: f32,
    /// Random seed for sampling.
    pub seed: u32,
    /// Subtracted from a token's logit once per earlier use in the answer (-2 to 2; 0: off).
    pub frequency_penalty: f32,
    /// Subtracted from the logit of any token the answer already used (-2 to 2; 0: off).
    pub presence_penalty: f32,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
    /// The app's context key ("work", "cooking"): preferences can differ per context.
    /// Ignored by incognito chats.
    pub context: Option<String>,
    /// Answer with the best of this many candidates by the person's own model (1 to 8; 1: a
    /// streamed answer, the default). Above 1 the answer arrives as one chunk when all
    /// candidates are in, at about that many times the cost; the report's `best_of` says how
    /// it was chosen (ADR 0038). Ignored by incognito chats, which have no person's model.
    pub best_of: u32,
}

impl Default for ChatOptions {
    fn default() -> Self {
        let s = SamplingParams::default();
        Self {
            max_tokens: 256,
            temperature: s.temperature,
            top_p: s.top_p,
            seed: s.seed,
            frequency_penalty: 0.0,
            presence_penalty: 0.0,
            stop: Vec::new(),
            context: None,
            best_of: 1,
        }
    }
}

impl ChatOptions {
    /// Greedy decoding of at most `max_tokens` tokens: reproducible answers.
    pub fn greedy(max_tokens: u32) -> Self {
        let s = SamplingParams::greedy();
        Self {
            max_tokens,
            temperature: s.temperature,
            top_p: s.top_p,
            seed: s.seed,
            ..Self::default()
        }
    }

    /// The engine settings these options ask for, checked.
    pub fn params(&self) -> Result<GenerationParams, Error> {
        let base = if self.temperature == 0.0 {
            SamplingParams::greedy()
        } else {
            SamplingParams::default()
        };
        let params = GenerationParams {
            max_tokens: self.max_tokens,
            stop: self.stop.clone(),
            sampling: SamplingParams {
                temperature: self.temperature,
                top_p: self.top_p,
                seed: self.seed,
                frequency_penalty: self.frequency_penalty,
                presence_penalty: self.presence_penalty,
                ..base
            },
        };
        params.validate()?;
        super::personal_best_of::check_candidates(self.best_of)?;
        Ok(params)
    }

    /// The context key, checked.
    pub fn context_key(&self) -> Result<Option<ContextKey>, Error> {
        Ok(self.context.clone().map(ContextKey::new).transpose()?)
    }
}

/// What happened in one façade chat turn: the gated turn's report (gate decisions, bundle,
/// counts and timings) with the personalization that shaped it and the time it queued.
#[derive(Debug, Clone, Serialize)]
pub struct KeelReport {
    /// The id feedback refers to; `None` for an incognito turn (nothing was recorded).
    pub turn_id: Option<TurnId>,
    /// Whether the turn was incognito (no profile read, nothing written).
    pub incognito: bool,
    /// The context the turn was served in.
    pub context: Option<ContextKey>,
    /// The preferences that shaped the answer: value, weight, confidence, evidence, source
    /// and the instruction each one added (empty when incognito).
    pub shaped_by: Vec<Shaping>,
    /// The token budget used.
    pub max_tokens: u32,
    /// A concise answer was ended at its last full sentence.
    pub ended_on_sentence: bool,
    /// Stored records that could not be read while loading the person's preferences.
    pub skipped_records: usize,
    /// Time this request waited in the façade's fair queue for the engine, in milliseconds.
    pub waited_ms: f64,
    /// From the request to its report, in milliseconds.
    pub total_ms: f64,
    /// For a best-of-n answer: each candidate's score and tokens, the one chosen, and the
    /// total cost (the engine counts in `turn` are the chosen candidate's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub best_of: Option<BestOf>,
    /// Gate decisions, the bundle, and the engine's counts and timings.
    #[serde(flatten)]
    pub turn: TurnReport,
}

/// One item of a façade chat.
#[derive(Debug)]
pub enum ChatEvent {
    /// Text the gate released: safe to show.
    Chunk(String),
    /// The turn ended (and, unless incognito, was recorded); nothing follows.
    Done(Box<KeelReport>),
    /// The turn failed (or was cancelled before it started, or the runtime closed);
    /// nothing follows.
    Failed(Error),
}

/// Shared between a stream and the dispatcher: whether the stream was cancelled, and the
/// running generation's cancel handle once it has started.
#[derive(Debug, Default)]
pub(crate) struct Control {
    cancelled: AtomicBool,
    running: Mutex<Option<CancelHandle>>,
}

impl Control {
    pub(crate) fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        if let Some(h) = self.lock().as_ref() {
            h.cancel();
        }
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// The generation started: cancel it now if the stream was cancelled meanwhile.
    pub(crate) fn started(&self, handle: Option<CancelHandle>) {
        let mut running = self.lock();
        *running = handle;
        if self.is_cancelled() {
            if let Some(h) = running.as_ref() {
                h.cancel();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<CancelHandle>> {
        self.running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Cancels a [`ChatStream`] from anywhere (another thread, a UI button).
#[derive(Debug, Clone)]
pub struct ChatCancel(Arc<Control>);

impl ChatCancel {
    /// Stop the chat: a running answer ends at the next token (its report says
    /// `cancelled`); a queued one never starts and ends with [`Error::Cancelled`].
    pub fn cancel(&self) {
        self.0.cancel();
    }
}

/// A running façade chat. Read it as a `futures::Stream` or with
/// [`ChatStream::next_blocking`]; dropping it before the end cancels it.
#[derive(Debug)]
pub struct ChatStream {
    events: mpsc::UnboundedReceiver<ChatEvent>,
    control: Arc<Control>,
    finished: bool,
}

impl ChatStream {
    pub(crate) fn new(events: mpsc::UnboundedReceiver<ChatEvent>, control: Arc<Control>) -> Self {
        Self {
            events,
            control,
            finished: false,
        }
    }

    /// Stop the chat (see [`ChatCancel::cancel`]); keep reading to get its final event.
    pub fn cancel(&self) {
        self.control.cancel();
    }

    /// A handle that cancels this chat from elsewhere.
    pub fn cancel_handle(&self) -> ChatCancel {
        ChatCancel(Arc::clone(&self.control))
    }

    /// Whether the final event has been read.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The next event, waiting for it; `None` after the final event. Blocks the thread:
    /// inside an async task use the `Stream` instead.
    pub fn next_blocking(&mut self) -> Option<ChatEvent> {
        if self.finished {
            return None;
        }
        let event = futures::executor::block_on(self.events.recv());
        Some(self.note(event))
    }

    /// Read to the end: the text shown and the report.
    pub fn collect_blocking(mut self) -> Result<(String, KeelReport), Error> {
        let mut text = String::new();
        while let Some(event) = self.next_blocking() {
            match event {
                ChatEvent::Chunk(c) => text.push_str(&c),
                ChatEvent::Done(report) => return Ok((text, *report)),
                ChatEvent::Failed(e) => return Err(e),
            }
        }
        Err(EngineError::WorkerGone.into())
    }

    /// Read to the end, asynchronously: the text shown and the report.
    pub async fn collect(mut self) -> Result<(String, KeelReport), Error> {
        use futures::StreamExt as _;
        let mut text = String::new();
        while let Some(event) = self.next().await {
            match event {
                ChatEvent::Chunk(c) => text.push_str(&c),
                ChatEvent::Done(report) => return Ok((text, *report)),
                ChatEvent::Failed(e) => return Err(e),
            }
        }
        Err(EngineError::WorkerGone.into())
    }

    fn note(&mut self, event: Option<ChatEvent>) -> ChatEvent {
        match event {
            Some(ChatEvent::Chunk(c)) => ChatEvent::Chunk(c),
            Some(end) => {
                self.finished = true;
                end
            }
            // The dispatcher always sends a final event unless it is gone.
            None => {
                self.finished = true;
                ChatEvent::Failed(Error::Closed)
            }
        }
    }
}

impl futures::Stream for ChatStream {
    type Item = ChatEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<ChatEvent>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.events.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(event) => Poll::Ready(Some(self.note(event))),
        }
    }
}

impl Drop for ChatStream {
    fn drop(&mut self) {
        if !self.finished {
            self.control.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ChatOptions;

    #[test]
    fn penalties_reach_the_sampler_and_bad_options_are_refused() {
        let o = ChatOptions {
            frequency_penalty: 0.5,
            presence_penalty: -0.25,
            ..ChatOptions::greedy(16)
        };
        let p = o.params().expect("valid");
        assert_eq!(
            (p.sampling.frequency_penalty, p.sampling.presence_penalty),
            (0.5, -0.25)
        );
        for bad in [
            ChatOptions {
                frequency_penalty: 2.5,
                ..ChatOptions::default()
            },
            ChatOptions {
                best_of: 0,
                ..ChatOptions::default()
            },
            ChatOptions {
                best_of: 9,
                ..ChatOptions::default()
            },
        ] {
            assert!(bad.params().is_err(), "{bad:?}");
        }
    }
}
