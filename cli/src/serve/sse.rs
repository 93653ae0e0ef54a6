//! Streaming a turn as OpenAI's server-sent events: a first chunk with the role, one chunk
//! per piece of text the gate released, a last chunk with the finish reason and the `keel`
//! object, a usage chunk when asked for, then `data: [DONE]`. A failure mid-stream is sent
//! as `data: {"error": ...}`. A task drives the turn and hands events over a small channel;
//! when the client goes away (or stops reading for the idle timeout) the task drops the
//! turn, which cancels its generation, and frees the slot.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use keel::runtime::{ChatEvent, ChatStream};
use serde::Serialize;
use tokio::sync::mpsc;

use super::call::ChatCall;
use super::limits::Slot;
use super::responses::{Chunk, ChunkChoice, Delta};
use super::state::AppState;
use super::turn::{self, KeelExt, Turn};

/// Events buffered between the turn and a slow client.
const BUFFER: usize = 32;

/// Identity of one streamed completion.
pub struct StreamMeta {
    /// `chatcmpl-...`.
    pub id: String,
    /// Unix seconds.
    pub created: u64,
    /// The model id the client asked for.
    pub model: String,
}

/// The SSE response for a started turn.
pub fn respond(
    app: Arc<AppState>,
    call: ChatCall,
    stream: ChatStream,
    slot: Slot,
    meta: StreamMeta,
) -> Response {
    let (tx, rx) = mpsc::channel::<Event>(BUFFER);
    tokio::spawn(drive(app, call, stream, slot, meta, tx));
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok::<_, Infallible>(ev), rx))
    });
    Sse::new(body)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(10)))
        .into_response()
}

fn chunk(
    meta: &StreamMeta,
    delta: Delta,
    finish: Option<&'static str>,
    keel: Option<KeelExt>,
) -> Event {
    json_event(&Chunk {
        id: meta.id.clone(),
        object: "chat.completion.chunk",
        created: meta.created,
        model: meta.model.clone(),
        choices: vec![ChunkChoice {
            index: 0,
            delta,
            finish_reason: finish,
            logprobs: None,
        }],
        usage: None,
        keel,
    })
}

fn json_event<T: Serialize>(value: &T) -> Event {
    // Our own types always serialize; an empty event is the safe fallback.
    Event::default()
        .json_data(value)
        .unwrap_or_else(|_| Event::default().data("{}"))
}

async fn drive(
    app: Arc<AppState>,
    call: ChatCall,
    stream: ChatStream,
    slot: Slot,
    meta: StreamMeta,
    tx: mpsc::Sender<Event>,
) {
    let idle = app.limits.idle_timeout;
    let send = |ev: Event| {
        let tx = tx.clone();
        async move { matches!(tokio::time::timeout(idle, tx.send(ev)).await, Ok(Ok(()))) }
    };
    let first = chunk(
        &meta,
        Delta {
            role: Some("assistant"),
            content: Some(String::new()),
        },
        None,
        None,
    );
    if !send(first).await {
        return;
    }
    let mut turn = Turn::new(stream, app.limits.generation_timeout, app.shutdown.clone());
    loop {
        let ev = tokio::select! {
            ev = turn.next() => ev,
            _ = tx.closed() => return, // the client left: dropping the turn cancels it
        };
        match ev {
            Some(ChatEvent::Chunk(text)) => {
                let delta = Delta {
                    role: None,
                    content: Some(text),
                };
                if !send(chunk(&meta, delta, None, None)).await {
                    return;
                }
            }
            Some(ChatEvent::Done(report)) => {
                let out = turn::outcome(&call, &report, slot.waited);
                drop(slot);
                let last = chunk(
                    &meta,
                    Delta::default(),
                    Some(out.finish_reason),
                    Some(out.keel),
                );
                if !send(last).await {
                    return;
                }
                if call.include_usage {
                    let usage = json_event(&Chunk::<KeelExt> {
                        id: meta.id.clone(),
                        object: "chat.completion.chunk",
                        created: meta.created,
                        model: meta.model.clone(),
                        choices: Vec::new(),
                        usage: Some(out.usage),
                        keel: None,
                    });
                    if !send(usage).await {
                        return;
                    }
                }
                break;
            }
            Some(ChatEvent::Failed(e)) => {
                let e = turn.failure(e);
                let body = serde_json::json!({"error": {
                    "message": e.message, "type": e.kind, "param": e.param, "code": e.code,
                }});
                if !send(json_event(&body)).await {
                    return;
                }
                break;
            }
            None => break,
        }
    }
    let _ = send(Event::default().data("[DONE]")).await;
}
