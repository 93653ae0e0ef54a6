//! The façade's dispatcher: one thread that takes chat requests from the fair queue in turn,
//! starts each on the engine, and forwards its events to the request's stream. The engine
//! serves one generation at a time; starting the next request only when the previous one
//! has ended is what makes the queue's order the order of service.
//!
//! A personal request runs through [`PersonalChat`] (the person's profile read, the answer
//! recorded); an incognito request is served by [`serve_incognito`], which is given only the
//! [`GatedChat`] — it has no store to read from or write to.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::mpsc;

use crate::engine::{ChatMessage, GenerationParams};
use crate::prefs::ContextKey;
use crate::Error;

use super::facade_queue::{FairQueue, Lane};
use super::facade_stream::{ChatEvent, Control, KeelReport};
use super::{GatedChat, PersonalChat, PersonalEvent, PersonalReport, TurnEvent, TurnReport};

/// What to run.
pub(crate) enum Work {
    /// A person's turn, personalized and recorded.
    Personal {
        user: String,
        context: Option<ContextKey>,
    },
    /// A turn that reads and writes nothing personal.
    Incognito,
}

/// One queued chat request.
pub(crate) struct Request {
    pub(crate) work: Work,
    pub(crate) messages: Vec<ChatMessage>,
    pub(crate) params: GenerationParams,
    /// Candidates for a personal answer (1: streamed).
    pub(crate) best_of: u32,
    pub(crate) events: mpsc::UnboundedSender<ChatEvent>,
    pub(crate) control: Arc<Control>,
    pub(crate) submitted: Instant,
}

impl Request {
    fn fail(self, error: Error) {
        // A receiver that is gone no longer wants to know.
        let _ = self.events.send(ChatEvent::Failed(error));
    }
}

/// The queue and the thread serving it.
pub(crate) struct Dispatcher {
    queue: Arc<FairQueue<Request>>,
    current: Arc<Mutex<Option<Arc<Control>>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    /// Start serving with `gated` (incognito) and `personal` (everyone else).
    pub(crate) fn start(gated: GatedChat, personal: PersonalChat) -> Result<Self, Error> {
        let queue: Arc<FairQueue<Request>> = Arc::default();
        let current: Arc<Mutex<Option<Arc<Control>>>> = Arc::default();
        let thread = {
            let queue = Arc::clone(&queue);
            let current = Arc::clone(&current);
            std::thread::Builder::new()
                .name("keel-dispatch".into())
                .spawn(move || {
                    while let Some(request) = queue.pop_blocking() {
                        *lock(&current) = Some(Arc::clone(&request.control));
                        // `close` may have looked for a running request just before this
                        // one was marked current: it must not start after the close.
                        if queue.is_closed() {
                            request.fail(Error::Closed);
                            break;
                        }
                        serve(&gated, &personal, request);
                        *lock(&current) = None;
                    }
                })
                .map_err(|_| Error::Config("could not start the dispatcher thread".into()))?
        };
        Ok(Self {
            queue,
            current,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queue `request` in `lane`; a closed runtime fails it at once.
    pub(crate) fn submit(&self, lane: Lane, request: Request) {
        if let Err(request) = self.queue.push(lane, request) {
            request.fail(Error::Closed);
        }
    }

    /// Requests waiting (not counting the one being served).
    pub(crate) fn waiting(&self) -> usize {
        self.queue.len()
    }

    /// Stop: waiting requests fail with [`Error::Closed`], the running one is cancelled, and
    /// the thread (with the engine and store it holds) is gone when this returns.
    pub(crate) fn close(&self) {
        for request in self.queue.close() {
            request.fail(Error::Closed);
        }
        if let Some(control) = lock(&self.current).as_ref() {
            control.cancel();
        }
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            if thread.thread().id() == std::thread::current().id() {
                return;
            }
            if thread.join().is_err() {
                tracing::error!("the façade dispatcher thread panicked");
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn serve(gated: &GatedChat, personal: &PersonalChat, request: Request) {
    if request.control.is_cancelled() || request.events.is_closed() {
        request.fail(Error::Cancelled);
        return;
    }
    let Request {
        work,
        messages,
        params,
        best_of,
        events,
        control,
        submitted,
    } = request;
    let reply = Reply {
        waited_ms: ms_since(submitted),
        events,
        control,
        submitted,
    };
    match work {
        Work::Personal { user, context } if best_of > 1 => serve_best_of(
            personal,
            &user,
            context.as_ref(),
            messages,
            params,
            best_of,
            reply,
        ),
        Work::Personal { user, context } => {
            serve_personal(personal, &user, context.as_ref(), messages, params, reply)
        }
        Work::Incognito => serve_incognito(gated, messages, params, reply),
    }
}

/// Where a served request's events go.
struct Reply {
    events: mpsc::UnboundedSender<ChatEvent>,
    control: Arc<Control>,
    submitted: Instant,
    waited_ms: f64,
}

impl Reply {
    /// Send `event`; when the stream is gone, cancel the generation and say so (`false`).
    fn send(&self, event: ChatEvent) -> bool {
        let sent = self.events.send(event).is_ok();
        if !sent {
            self.control.cancel();
        }
        sent
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

fn serve_personal(
    chat: &PersonalChat,
    user: &str,
    context: Option<&ContextKey>,
    messages: Vec<ChatMessage>,
    params: GenerationParams,
    reply: Reply,
) {
    let mut turn = match chat.start(user, context, messages, params) {
        Ok(t) => t,
        Err(e) => {
            reply.send(ChatEvent::Failed(e.into()));
            return;
        }
    };
    reply.control.started(turn.cancel_handle());
    while let Some(event) = turn.next_blocking() {
        let event = match event {
            PersonalEvent::Chunk(c) => ChatEvent::Chunk(c),
            PersonalEvent::Done(r) => ChatEvent::Done(Box::new(personal_report(*r, &reply))),
            PersonalEvent::Failed(e) => ChatEvent::Failed(e.into()),
        };
        if !reply.send(event) {
            // The stream was dropped: dropping the turn unread records nothing.
            return;
        }
    }
}

/// Serve a best-of-n personal request: candidates one after another (each cancellable
/// through the stream), then the chosen answer as one chunk and its report.
fn serve_best_of(
    chat: &PersonalChat,
    user: &str,
    context: Option<&ContextKey>,
    messages: Vec<ChatMessage>,
    params: GenerationParams,
    n: u32,
    reply: Reply,
) {
    let control = Arc::clone(&reply.control);
    let mut go_on = |handle: Option<crate::engine::CancelHandle>| {
        if handle.is_some() {
            control.started(handle);
        }
        !control.is_cancelled() && !reply.events.is_closed()
    };
    match chat.best_of_with(user, context, messages, params, n, &mut go_on) {
        Ok((text, r)) => {
            let mut report = personal_report(r.turn, &reply);
            report.best_of = Some(r.best_of);
            if reply.send(ChatEvent::Chunk(text)) {
                reply.send(ChatEvent::Done(Box::new(report)));
            }
        }
        Err(e) => {
            reply.send(ChatEvent::Failed(e.into()));
        }
    }
}

/// Serve an incognito request. It is given the gated chat only: no store, no profile, no
/// person — so nothing personal can be read or written here.
fn serve_incognito(
    chat: &GatedChat,
    messages: Vec<ChatMessage>,
    params: GenerationParams,
    reply: Reply,
) {
    let max_tokens = params.max_tokens;
    let mut turn = match chat.chat(messages, params) {
        Ok(t) => t,
        Err(e) => {
            reply.send(ChatEvent::Failed(e));
            return;
        }
    };
    reply.control.started(turn.cancel_handle());
    while let Some(event) = turn.next_blocking() {
        let event = match event {
            TurnEvent::Chunk(c) => ChatEvent::Chunk(c),
            TurnEvent::Done(r) => {
                ChatEvent::Done(Box::new(incognito_report(*r, max_tokens, &reply)))
            }
            TurnEvent::Failed(e) => ChatEvent::Failed(e),
        };
        if !reply.send(event) {
            return;
        }
    }
}

fn personal_report(r: PersonalReport, reply: &Reply) -> KeelReport {
    KeelReport {
        turn_id: Some(r.turn_id),
        incognito: false,
        context: r.context,
        shaped_by: r.shaped_by,
        max_tokens: r.max_tokens,
        ended_on_sentence: r.ended_on_sentence,
        skipped_records: r.skipped_records,
        waited_ms: reply.waited_ms,
        total_ms: ms_since(reply.submitted),
        best_of: None,
        turn: r.turn,
    }
}

fn incognito_report(turn: TurnReport, max_tokens: u32, reply: &Reply) -> KeelReport {
    KeelReport {
        turn_id: None,
        incognito: true,
        context: None,
        shaped_by: Vec::new(),
        max_tokens,
        ended_on_sentence: false,
        skipped_records: 0,
        waited_ms: reply.waited_ms,
        total_ms: ms_since(reply.submitted),
        best_of: None,
        turn,
    }
}
