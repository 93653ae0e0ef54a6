//! Keel's own routes: `POST /v1/keel/feedback`, `GET/PATCH/DELETE /v1/keel/profile`,
//! `GET /v1/keel/status` (token required), and `GET /health` (no token). Each parses,
//! hands one call to Keel on the blocking pool, and prints the result as JSON.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use keel::prefs::{ContextKey, FeedbackEvent, FeedbackKind, Profile, TurnId};
use keel::safety::personalization::Dimension;
use keel::Keel;
use serde::Deserialize;
use serde_json::{json, Value};

use super::call::check_user;
use super::errors::ApiError;
use super::limits::read_json;
use super::state::AppState;

/// `POST /v1/keel/feedback` body: the person, the turn, and what they did
/// (`{"kind": "rating", "up": false}`, `{"kind": "pairwise", "other": "<turn id>"}`, ...).
#[derive(Debug, Deserialize)]
pub struct FeedbackBody {
    /// The person (default: `default`).
    #[serde(default)]
    user: Option<String>,
    /// The `keel.turn_id` of the answer.
    turn_id: String,
    /// The context the answer was given in.
    #[serde(default)]
    context: Option<String>,
    /// What the person did.
    #[serde(flatten)]
    kind: FeedbackKind,
}

/// `?user=...&context=...`.
#[derive(Debug, Deserialize)]
pub struct PersonQuery {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    context: Option<String>,
}

/// `PATCH /v1/keel/profile` body: set or clear preferences, or state one in words.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    context: Option<String>,
    /// Preferences to set, 0–1.
    #[serde(default)]
    set: BTreeMap<Dimension, f64>,
    /// Preferences to reset to the starting point.
    #[serde(default)]
    clear: Vec<Dimension>,
    /// A statement such as "I prefer short answers".
    #[serde(default)]
    statement: Option<String>,
}

fn person(user: Option<String>) -> Result<String, ApiError> {
    check_user(user)
}

fn query(q: Result<Query<PersonQuery>, QueryRejection>) -> Result<PersonQuery, ApiError> {
    q.map(|Query(q)| q).map_err(|_| {
        ApiError::bad_request(
            "invalid_query",
            "the query string must be `user=NAME` and optionally `context=KEY`",
        )
    })
}

/// Run one blocking Keel call off the async threads.
async fn offload<T, F>(app: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Keel) -> Result<T, keel::Error> + Send + 'static,
{
    Ok(app.keel.offload(f).await?)
}

fn profile_json(user: &str, profile: &Profile) -> Value {
    json!({
        "object": "keel.profile",
        "user": user,
        "context": profile.context.as_ref().map(ContextKey::as_str),
        "preferences": profile.preferences,
        "description": profile.describe(),
    })
}

/// `POST /v1/keel/feedback`: record the feedback; answers with what it did and the
/// person's profile afterwards.
pub async fn feedback(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let b: FeedbackBody = read_json(&headers, body, &app.limits).await?;
    let user = person(b.user)?;
    let turn = TurnId::new(b.turn_id)
        .map_err(|e| ApiError::bad_request("invalid_value", e.to_string()).with_param("turn_id"))?;
    let context =
        b.context.map(ContextKey::new).transpose().map_err(|e| {
            ApiError::bad_request("invalid_value", e.to_string()).with_param("context")
        })?;
    let ctx = context.as_ref().map(|c| c.as_str().to_owned());
    let event = FeedbackEvent {
        turn,
        context,
        kind: b.kind,
    };
    let u = user.clone();
    let (report, profile) = offload(&app, move |k| {
        let report = k.feedback(&u, &event)?;
        Ok((report, k.profile(&u, ctx.as_deref())?))
    })
    .await?;
    Ok(Json(json!({
        "object": "keel.feedback",
        "feedback": report,
        "profile": profile_json(&user, &profile),
    })))
}

/// `GET /v1/keel/profile?user=...&context=...`.
pub async fn get_profile(
    State(app): State<Arc<AppState>>,
    q: Result<Query<PersonQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let q = query(q)?;
    let user = person(q.user)?;
    let (u, ctx) = (user.clone(), q.context);
    let profile = offload(&app, move |k| k.profile(&u, ctx.as_deref())).await?;
    Ok(Json(profile_json(&user, &profile)))
}

/// `PATCH /v1/keel/profile`: set, clear or state preferences; answers with what each
/// change amounted to (the envelope may move or refuse a value) and the profile.
pub async fn patch_profile(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let b: PatchBody = read_json(&headers, body, &app.limits).await?;
    let user = person(b.user)?;
    if b.set.is_empty() && b.clear.is_empty() && b.statement.is_none() {
        return Err(ApiError::bad_request(
            "invalid_value",
            "nothing to change: send `set` ({\"verbosity\": 0.2}), `clear` ([\"verbosity\"]) \
             or `statement` (\"I prefer short answers\")",
        ));
    }
    if b.set.values().any(|v| !(0.0..=1.0).contains(v)) {
        return Err(ApiError::bad_request(
            "invalid_value",
            "a preference value must be a number from 0 to 1",
        )
        .with_param("set"));
    }
    let u = user.clone();
    let (outcomes, profile) = offload(&app, move |k| {
        let ctx = b.context.as_deref();
        let mut outcomes = Vec::new();
        for (dim, value) in &b.set {
            outcomes.extend(k.edit(&u, *dim, *value, ctx)?.outcomes);
        }
        for dim in &b.clear {
            outcomes.extend(k.delete_preference(&u, *dim, ctx)?.outcomes);
        }
        if let Some(text) = &b.statement {
            outcomes.extend(k.state(&u, text, ctx)?.outcomes);
        }
        Ok((outcomes, k.profile(&u, ctx)?))
    })
    .await?;
    Ok(Json(json!({
        "object": "keel.profile.update",
        "outcomes": outcomes,
        "profile": profile_json(&user, &profile),
    })))
}

/// `DELETE /v1/keel/profile?user=...`: forget the person (crypto-shredding).
pub async fn delete_profile(
    State(app): State<Arc<AppState>>,
    q: Result<Query<PersonQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let user = person(query(q)?.user)?;
    let u = user.clone();
    let known = offload(&app, move |k| k.forget(&u)).await?;
    Ok(Json(
        json!({"object": "keel.profile.deleted", "user": user, "deleted": known}),
    ))
}

/// `GET /v1/keel/status`: the model, the safety bundle in force and the queue.
pub async fn status(State(app): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let s = offload(&app, |k| k.status()).await?;
    Ok(Json(json!({
        "object": "keel.status",
        "model": {"id": super::openai::MODEL_ID, "name": s.model.name, "params": s.model.params},
        "bundle": s.bundle,
        "people": s.store.users,
        "queue": {
            "running": app.queue.running(),
            "waiting_for_slot": app.queue.waiting(),
            "waiting_for_engine": s.waiting,
            "max_concurrent": app.limits.max_concurrent,
            "max_queue": app.limits.max_queue,
        },
    })))
}

/// `GET /health`: no token, nothing about anyone.
pub async fn health(State(app): State<Arc<AppState>>) -> Json<Value> {
    let state = if *app.shutdown.borrow() || app.keel.is_closed() {
        "shutting_down"
    } else {
        "ok"
    };
    Json(json!({"status": state}))
}
