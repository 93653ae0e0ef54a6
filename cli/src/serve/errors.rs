//! The server's errors in OpenAI's error shape: `{"error": {"message", "type", "param",
//! "code"}}` with the matching HTTP status, so existing OpenAI clients raise their usual
//! exceptions. Messages say what to do and never echo a person's text or the token.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One API error: the status and the body OpenAI clients expect.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong and what to do, in words.
    pub message: String,
    /// OpenAI's error type (`invalid_request_error`, `authentication_error`, ...).
    pub kind: &'static str,
    /// A stable machine-readable code.
    pub code: &'static str,
    /// The request field at fault, if one is.
    pub param: Option<&'static str>,
    /// Seconds after which a retry may succeed (sent as `Retry-After`).
    pub retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: &'a str,
}

impl ApiError {
    fn new(status: StatusCode, kind: &'static str, code: &'static str, msg: String) -> Self {
        Self {
            status,
            message: msg,
            kind,
            code,
            param: None,
            retry_after: None,
        }
    }

    /// The request is malformed or asks for something invalid (400).
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message.into(),
        )
    }

    /// Names the request field at fault.
    pub fn with_param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    /// No token or a wrong token (401).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "invalid_api_key",
            message.into(),
        )
    }

    /// A browser request from another origin (403).
    pub fn forbidden_origin() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "cross_origin_forbidden",
            "requests from other web origins are not allowed; call the API from a local \
             program, or use the chat page this server serves at /"
                .into(),
        )
    }

    /// Nothing at this path, or an unknown model (404).
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            code,
            message.into(),
        )
    }

    /// The method is not served at this path (405).
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            "method_not_allowed",
            "this method is not allowed on this path; see GET /v1/models, POST \
             /v1/chat/completions, POST /v1/keel/feedback, GET/PATCH/DELETE /v1/keel/profile"
                .into(),
        )
    }

    /// The body is larger than the server accepts (413).
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!(
                "the request body is larger than {limit} bytes; send a shorter conversation \
                 or start the server with a larger --max-body-bytes"
            ),
        )
    }

    /// The body must be JSON (415).
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            "unsupported_media_type",
            "send the request body as JSON with `Content-Type: application/json`".into(),
        )
    }

    /// The client was too slow sending its request (408).
    pub fn request_timeout(secs: u64) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            "request_timeout",
            format!("the request body did not arrive within {secs} s; send it in one go"),
        )
    }

    /// All generation slots stayed busy for the whole queue timeout, or the queue is full (503).
    pub fn busy(message: String, retry_after: u64) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_overloaded",
            "queue_timeout",
            message,
        );
        e.retry_after = Some(retry_after);
        e
    }

    /// The answer waited for the engine for the whole generation timeout and never
    /// started (503).
    pub fn generation_timeout(secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_overloaded",
            "generation_timeout",
            format!(
                "the answer waited {secs} s for the model and was cancelled before it started; \
                 retry later, or start keel serve with a larger --generation-timeout-secs or a \
                 smaller --max-concurrent"
            ),
        );
        e.retry_after = Some(secs.max(1));
        e
    }

    /// The server is shutting down (503).
    pub fn shutting_down() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_overloaded",
            "shutting_down",
            "the server is shutting down; start it again and retry".into(),
        )
    }

    /// Keel failed in a way the client cannot fix (500). The detail goes to the log only
    /// when it holds no user text (Keel's errors never do).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal_error",
            message.into(),
        )
    }
}

impl From<keel::Error> for ApiError {
    /// Keel's errors by who can fix them: the request (400/404), the server's state (503),
    /// or nobody but the operator (500, with the detail in the server's log only).
    fn from(e: keel::Error) -> Self {
        use keel::engine::EngineError as E;
        use keel::prefs::PrefsError as P;
        match &e {
            keel::Error::Engine(
                E::InvalidSampling { .. } | E::PromptTooLong { .. } | E::EmptyConversation,
            ) => ApiError::bad_request("invalid_request", e.to_string()),
            keel::Error::Prefs(P::UnknownTurn) => ApiError::not_found(
                "unknown_turn",
                "no such turn for this person: send the `keel.turn_id` of one of their \
                 answers, with the same `user`",
            )
            .with_param("turn_id"),
            keel::Error::Prefs(_) => ApiError::bad_request("invalid_feedback", e.to_string()),
            keel::Error::Closed | keel::Error::Cancelled => ApiError::shutting_down(),
            _ => {
                tracing::error!(error = %e, "keel failed");
                ApiError::internal(
                    "Keel failed to serve this request; the server's log has the detail",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                message: &self.message,
                kind: self.kind,
                param: self.param,
                code: self.code,
            },
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        // These are answered before (all of) the body is read; the connection cannot carry
        // another request, and saying so keeps clients from reusing it and failing.
        if matches!(self.status.as_u16(), 401 | 403 | 408 | 413 | 415) {
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"keel\""),
            );
        }
        resp
    }
}

/// The router's fallback: an OpenAI-shaped 404 for unknown paths.
pub async fn unknown_path() -> ApiError {
    ApiError::not_found(
        "unknown_url",
        "no such endpoint; see GET /v1/models, POST /v1/chat/completions, POST \
         /v1/keel/feedback, GET/PATCH/DELETE /v1/keel/profile, GET /health",
    )
}

/// The router's fallback for a known path with the wrong method.
pub async fn wrong_method() -> ApiError {
    ApiError::method_not_allowed()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_json(resp: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("json")
    }

    #[tokio::test]
    async fn errors_have_openais_shape_and_status() {
        let resp = ApiError::too_large(1024).into_response();
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let v = body_json(resp).await;
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "request_too_large");
        assert!(v["error"]["param"].is_null());
        assert!(v["error"]["message"]
            .as_str()
            .expect("message")
            .contains("1024"));
    }

    #[test]
    fn keel_errors_map_to_who_can_fix_them() {
        use keel::engine::EngineError;
        use keel::prefs::PrefsError;
        let e = ApiError::from(keel::Error::Prefs(PrefsError::UnknownTurn));
        assert_eq!(
            (e.status.as_u16(), e.code, e.param),
            (404, "unknown_turn", Some("turn_id"))
        );
        let e = ApiError::from(keel::Error::Prefs(PrefsError::SameAnswer));
        assert_eq!((e.status.as_u16(), e.code), (400, "invalid_feedback"));
        let e = ApiError::from(keel::Error::Engine(EngineError::EmptyConversation));
        assert_eq!(e.status.as_u16(), 400);
        let e = ApiError::from(keel::Error::Closed);
        assert_eq!((e.status.as_u16(), e.code), (503, "shutting_down"));
        // Operator-side failures say nothing of their detail to the client.
        let e = ApiError::from(keel::Error::Config("secret detail at /home/x".into()));
        assert_eq!(e.status.as_u16(), 500);
        assert!(!e.message.contains("secret") && !e.message.contains("/home"));
    }

    #[tokio::test]
    async fn busy_says_when_to_retry_and_401_names_the_scheme() {
        let resp = ApiError::busy("busy".into(), 7).into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "7");
        let resp = ApiError::unauthorized("no").into_response();
        assert!(resp.headers().contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(resp.headers()[header::CONNECTION], "close");
        let resp = ApiError::bad_request("x", "y")
            .with_param("model")
            .into_response();
        assert_eq!(body_json(resp).await["error"]["param"], "model");
    }
}
