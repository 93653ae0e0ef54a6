//! The HTTP server: the router (routes, the token and origin guards, OpenAI-shaped 404 and
//! 405), and the accept loop on hyper with a header-read timeout against idle or slow
//! clients and a graceful shutdown: on Ctrl-C new connections stop, running answers are
//! cancelled (they end at their next token with a proper last event), connections drain
//! for at most a few seconds, then the caller closes Keel's store.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::middleware;
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

use super::errors;
use super::guard;
use super::page;
use super::routes_keel;
use super::routes_openai;
use super::state::AppState;

/// How long open connections may take to finish after the shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

/// All routes.
pub fn router(app: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/v1/models", get(routes_openai::models))
        .route(
            "/v1/chat/completions",
            post(routes_openai::chat_completions),
        )
        .route("/v1/keel/feedback", post(routes_keel::feedback))
        .route(
            "/v1/keel/profile",
            get(routes_keel::get_profile)
                .patch(routes_keel::patch_profile)
                .delete(routes_keel::delete_profile),
        )
        .route("/v1/keel/status", get(routes_keel::status))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            guard::require_token,
        ));
    let open = Router::new()
        .route("/", get(page::index))
        .route("/page/app.js", get(page::script))
        .route("/page/style.css", get(page::style))
        .route("/favicon.ico", get(page::favicon))
        .route("/health", get(routes_keel::health));
    api.merge(open)
        .fallback(errors::unknown_path)
        .method_not_allowed_fallback(errors::wrong_method)
        .layer(middleware::from_fn_with_state(
            Arc::clone(&app),
            guard::same_origin_only,
        ))
        .with_state(app)
}

/// Serve `router` on `listener` until `shutdown` resolves, then drain.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    idle_timeout: Duration,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer): (tokio::net::TcpStream, SocketAddr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, keep serving.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        tracing::debug!(%peer, "connection");
        let _ = tcp.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(idle_timeout)
            .keep_alive(true);
        let conn = http.serve_connection(TokioIo::new(tcp), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!("connection ended: {e}");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(DRAIN) => tracing::warn!("connections still open after {DRAIN:?}; closing anyway"),
    }
}
