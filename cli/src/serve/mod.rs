//! `keel serve`: Keel as a local OpenAI-compatible HTTP API with bearer-token auth,
//! per-person preferences, feedback and the safety gate, and a chat page at `/`.
//!
//! The server holds no runtime logic: every turn, feedback and profile call is one call on
//! the shared [`keel::Keel`] façade. This module owns HTTP only, one concern per file:
//! options (`args.rs`), the token (`token.rs`), who may call (`guard.rs`), limits and the
//! generation queue (`limits.rs`), OpenAI's request (`openai.rs`), its checking
//! (`call.rs`) and responses (`responses.rs`), a turn's reading and report (`turn.rs`),
//! streaming (`sse.rs`), the routes (`routes_openai.rs`, `routes_keel.rs`), the page
//! (`page.rs`), errors (`errors.rs`), opening Keel (`open.rs`), shared state (`state.rs`)
//! and the accept loop with graceful shutdown (`server.rs`).

mod args;
mod call;
mod errors;
mod guard;
mod limits;
mod open;
mod openai;
mod page;
mod responses;
mod routes_keel;
mod routes_openai;
mod server;
mod sse;
mod state;
mod token;
mod turn;

use std::io::Write;
use std::sync::Arc;

pub use args::ServeArgs;

use crate::error::CliError;
use crate::globals::Globals;

/// Run `keel serve` until Ctrl-C (or SIGTERM).
pub fn run(args: ServeArgs, g: &Globals) -> Result<(), CliError> {
    let limits = args.limits.limits()?;
    let addr = args.bind_addr()?;
    let (token, origin) = token::resolve(&g.home, args.api_token.as_deref(), args.rotate_token)?;
    let (keel, model_alias) = open::open_keel(&args, g)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("keel-serve")
        .build()
        .map_err(|e| CliError::io("start the async runtime", e))?;
    let shared = keel.clone();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| CliError::io(format!("listen on {addr}"), e))?;
        let local = listener
            .local_addr()
            .map_err(|e| CliError::io("read the listening address", e))?;
        announce(&local, &origin, &token, &args);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let app = Arc::new(state::AppState {
            keel: shared,
            queue: limits::GenerationQueue::new(&limits),
            token,
            limits: limits.clone(),
            model_alias,
            started: responses::now_secs(),
            loopback_only: local.ip().is_loopback(),
            shutdown: stop_rx,
        });
        let router = server::router(Arc::clone(&app));
        let signal = {
            let app = Arc::clone(&app);
            async move {
                shutdown_signal().await;
                eprintln!("keel serve: shutting down: cancelling running answers");
                app.queue.close();
                let _ = stop_tx.send(true);
            }
        };
        server::serve(listener, router, limits.idle_timeout, signal).await;
        Ok::<(), CliError>(())
    })?;
    keel.close();
    eprintln!("keel serve: stopped; the store is closed");
    Ok(())
}

/// Say where the server listens and how to authenticate, on stdout (the port line is
/// what scripts read), and warn loudly when it is reachable from other machines.
fn announce(
    local: &std::net::SocketAddr,
    origin: &token::Origin,
    token: &token::Token,
    args: &ServeArgs,
) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "keel serve: listening on http://{local}");
    match origin {
        token::Origin::Env => {
            let _ = writeln!(out, "keel serve: API token: from KEEL_API_TOKEN");
        }
        token::Origin::Created(path) => {
            let _ = writeln!(
                out,
                "keel serve: new API token (shown this once; kept in {} with mode 0600):\n    {}",
                path.display(),
                token.expose()
            );
        }
        token::Origin::Stored(path) => {
            let _ = writeln!(
                out,
                "keel serve: API token: the one in {} (`keel serve --rotate-token` makes a new one)",
                path.display()
            );
        }
    }
    let _ = writeln!(
        out,
        "keel serve: chat page: http://{local}/   OpenAI base URL: http://{local}/v1"
    );
    let _ = out.flush();
    if !local.ip().is_loopback() && args.allow_remote {
        eprintln!(
            "\n!!! WARNING: keel serve is listening on {local}, reachable from other machines.\n\
             !!! Anyone who can reach it and holds the token can chat as any person and read,\n\
             !!! change or delete their profiles. Traffic is plain HTTP (not encrypted): put it\n\
             !!! behind TLS, or use the default 127.0.0.1.\n"
        );
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}
