//! The OpenAI-compatible routes: `GET /v1/models` and `POST /v1/chat/completions`
//! (non-streamed, or streamed by `sse.rs`). Parsing, limits and shapes only; the turn is
//! Keel's.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use keel::runtime::ChatEvent;

use super::errors::ApiError;
use super::limits::read_json;
use super::openai::ChatRequest;
use super::responses::{now_secs, ChatResponse, Choice, Model, ModelList, OutMessage};
use super::sse::{self, StreamMeta};
use super::state::AppState;
use super::turn::{self, Turn};

/// `GET /v1/models`.
pub async fn models(State(app): State<Arc<AppState>>) -> Json<ModelList> {
    Json(ModelList {
        object: "list",
        data: app
            .model_ids()
            .into_iter()
            .map(|id| Model {
                id,
                object: "model",
                created: app.started,
                owned_by: "keel",
            })
            .collect(),
    })
}

/// `POST /v1/chat/completions`.
pub async fn chat_completions(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let req: ChatRequest = read_json(&headers, body, &app.limits).await?;
    let model = req.model.clone();
    let call = req.check(&app.limits, |m| app.knows_model(m))?;
    let slot = app.queue.acquire().await?;
    let stream = turn::start(&app, &call)?;
    let meta = StreamMeta {
        id: completion_id(),
        created: now_secs(),
        model,
    };
    if call.stream {
        return Ok(sse::respond(Arc::clone(&app), call, stream, slot, meta));
    }
    let mut turn = Turn::new(stream, app.limits.generation_timeout, app.shutdown.clone());
    let mut text = String::new();
    let report = loop {
        match turn.next().await {
            Some(ChatEvent::Chunk(c)) => text.push_str(&c),
            Some(ChatEvent::Done(report)) => break report,
            Some(ChatEvent::Failed(e)) => return Err(turn.failure(e)),
            None => return Err(ApiError::shutting_down()),
        }
    };
    let out = turn::outcome(&call, &report, slot.waited);
    drop(slot);
    Ok(Json(ChatResponse {
        id: meta.id,
        object: "chat.completion",
        created: meta.created,
        model: meta.model,
        choices: vec![Choice {
            index: 0,
            message: OutMessage {
                role: "assistant",
                content: text,
                refusal: None,
            },
            finish_reason: out.finish_reason,
            logprobs: None,
        }],
        usage: out.usage,
        keel: out.keel,
    })
    .into_response())
}

/// A fresh completion id: `chatcmpl-` and 24 random hex digits.
fn completion_id() -> String {
    use ring::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 12];
    if SystemRandom::new().fill(&mut b).is_err() {
        // Ids only need to be unique per server; the clock is a fine fallback.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b.copy_from_slice(&nanos.to_le_bytes()[..12]);
    }
    format!("chatcmpl-{}", hex::encode(b))
}
