//! Who may call the API: the bearer-token check on every `/v1` route, the refusal of
//! browser requests from other web origins (no CORS: a page elsewhere can neither read the
//! answers nor, since preflights fail, send JSON with a token), and — on loopback — of any
//! `Host` but a loopback name, so a web page cannot reach the server by DNS rebinding.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;
use super::state::AppState;
use super::token;

/// Middleware: the request must carry `Authorization: Bearer <the server's token>`.
pub async fn require_token(State(app): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let presented = token::bearer(
        req.headers()
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes()),
    );
    match presented {
        None => ApiError::unauthorized(
            "missing API token: send `Authorization: Bearer <token>` (the token `keel serve` \
             printed on its first start, or KEEL_API_TOKEN)",
        )
        .into_response(),
        Some(t) if !app.token.matches(t) => ApiError::unauthorized(
            "wrong API token: use the token `keel serve` printed on its first start (or \
             KEEL_API_TOKEN); `keel serve --rotate-token` makes a new one",
        )
        .into_response(),
        Some(_) => next.run(req).await,
    }
}

/// Middleware: refuse preflights, requests whose `Origin` is not this server, and (when
/// listening on loopback) requests addressed to a non-loopback host name.
pub async fn same_origin_only(
    State(app): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    if req.method() == Method::OPTIONS
        || is_cross_origin(req.headers())
        || (app.loopback_only && !is_loopback_host(req.headers()))
    {
        return ApiError::forbidden_origin().into_response();
    }
    next.run(req).await
}

/// Whether the `Host` header names this machine's loopback (any port); no header passes
/// (HTTP/1.0 tools), since browsers always send one.
fn is_loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let host = host.to_str().unwrap_or("");
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(n, _)| n)
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a browser marked the request as coming from another origin.
fn is_cross_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site") {
            return true;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    let origin = origin.to_str().unwrap_or("");
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    match origin_host {
        Some(h) => host.is_empty() || !h.eq_ignore_ascii_case(host),
        // `Origin: null` (sandboxed frames, file://) and anything unparsable.
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_loopback_host_names_pass() {
        for ok in [
            "127.0.0.1:8808",
            "localhost:1",
            "LOCALHOST",
            "[::1]:8808",
            "127.0.0.2",
        ] {
            assert!(is_loopback_host(&headers(&[("host", ok)])), "{ok}");
        }
        for bad in [
            "evil.example:8808",
            "192.168.1.2:8808",
            "[2001:db8::1]:80",
            "localhost.evil",
        ] {
            assert!(!is_loopback_host(&headers(&[("host", bad)])), "{bad}");
        }
        assert!(is_loopback_host(&HeaderMap::new()));
    }

    #[test]
    fn only_requests_from_this_origin_or_no_browser_pass() {
        assert!(!is_cross_origin(&headers(&[("host", "127.0.0.1:8808")])));
        assert!(!is_cross_origin(&headers(&[
            ("host", "127.0.0.1:8808"),
            ("origin", "http://127.0.0.1:8808"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(is_cross_origin(&headers(&[
            ("host", "127.0.0.1:8808"),
            ("origin", "http://evil.example"),
        ])));
        assert!(is_cross_origin(&headers(&[
            ("host", "127.0.0.1:8808"),
            ("origin", "http://127.0.0.1:9999"),
        ])));
        assert!(is_cross_origin(&headers(&[
            ("host", "127.0.0.1:8808"),
            ("origin", "null"),
        ])));
        assert!(is_cross_origin(&headers(&[
            ("host", "127.0.0.1:8808"),
            ("sec-fetch-site", "cross-site"),
        ])));
    }
}
