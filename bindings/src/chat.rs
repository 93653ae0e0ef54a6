//! A running chat across the boundary: the foreign [`TokenListener`] the app implements to
//! receive the answer in batches of chunks and then the final report, and the [`ChatHandle`]
//! it gets back (cancel, is_finished, cancel on drop).
//!
//! uniffi cannot carry a Rust `Stream`, so one thread per chat reads the core's `ChatStream`
//! and calls the listener: the chunks that are ready together go in one call (fewer
//! crossings), then exactly one `on_done` or `on_error`. A listener that throws cancels the
//! generation and gets `on_error(Callback)`: the host never crashes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::{FutureExt as _, StreamExt as _};
use keel::{ChatCancel, ChatEvent, ChatStream};

use crate::{ChatReport, KeelError};

/// Receives one chat's answer. Called on a background thread; hop to the UI thread yourself.
#[uniffi::export(with_foreign)]
pub trait TokenListener: Send + Sync {
    /// The next pieces of the answer, in order (text the safety gate released).
    fn on_chunks(&self, chunks: Vec<String>) -> Result<(), KeelError>;
    /// The turn ended; nothing follows.
    fn on_done(&self, report: ChatReport) -> Result<(), KeelError>;
    /// The turn failed (or was cancelled before it started, or the runtime closed, or this
    /// listener threw); nothing follows.
    fn on_error(&self, error: KeelError) -> Result<(), KeelError>;
}

/// A running chat. Keep it while the answer streams: dropping (closing) it cancels the
/// generation.
#[derive(uniffi::Object)]
pub struct ChatHandle {
    cancel: ChatCancel,
    finished: Arc<AtomicBool>,
}

impl std::fmt::Debug for ChatHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatHandle")
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

#[uniffi::export]
impl ChatHandle {
    /// Stop the answer: a running one ends at the next token (its report says `Cancelled`);
    /// a queued one never starts (`on_error(Cancelled)`). Calling it again does nothing.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Whether the listener has been given (or is being given) the final event.
    pub fn is_finished(&self) -> bool {
        self.finished.load(Ordering::SeqCst)
    }
}

impl Drop for ChatHandle {
    fn drop(&mut self) {
        if !self.is_finished() {
            self.cancel.cancel();
        }
    }
}

/// Start delivering `stream` to `listener` on its own thread; the handle controls it.
pub(crate) fn deliver(
    stream: ChatStream,
    listener: Arc<dyn TokenListener>,
) -> Result<Arc<ChatHandle>, KeelError> {
    let handle = ChatHandle {
        cancel: stream.cancel_handle(),
        finished: Arc::new(AtomicBool::new(false)),
    };
    let finished = Arc::clone(&handle.finished);
    std::thread::Builder::new()
        .name("keel-ffi-chat".into())
        .spawn(move || pump(stream, listener.as_ref(), &finished))
        .map_err(|_| KeelError::Model {
            reason: "could not start a thread for the chat".into(),
        })?;
    Ok(Arc::new(handle))
}

fn pump(mut stream: ChatStream, listener: &dyn TokenListener, finished: &AtomicBool) {
    while let Some(event) = stream.next_blocking() {
        let end = match event {
            ChatEvent::Chunk(first) => {
                let (batch, end) = ready_batch(&mut stream, first);
                if let Err(e) = listener.on_chunks(batch) {
                    stream.cancel();
                    drain(&mut stream);
                    finished.store(true, Ordering::SeqCst);
                    let reason = format!("the token listener failed: {e}");
                    // Nothing more to tell if the listener fails again.
                    let _ = listener.on_error(KeelError::Callback { reason });
                    return;
                }
                match end {
                    Some(end) => end,
                    None => continue,
                }
            }
            end => end,
        };
        finished.store(true, Ordering::SeqCst);
        // The turn is over either way: a listener failing here has nothing left to stop.
        let _ = match end {
            ChatEvent::Done(report) => listener.on_done((*report).into()),
            ChatEvent::Failed(e) => listener.on_error(e.into()),
            ChatEvent::Chunk(_) => Ok(()),
        };
        return;
    }
    finished.store(true, Ordering::SeqCst);
}

/// `first` and every chunk already waiting behind it; the final event if it was reached.
fn ready_batch(stream: &mut ChatStream, first: String) -> (Vec<String>, Option<ChatEvent>) {
    let mut batch = vec![first];
    while let Some(Some(event)) = stream.next().now_or_never() {
        match event {
            ChatEvent::Chunk(c) => batch.push(c),
            end => return (batch, Some(end)),
        }
    }
    (batch, None)
}

fn drain(stream: &mut ChatStream) {
    while stream.next_blocking().is_some() {}
}
