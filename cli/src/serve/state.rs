//! What every handler shares: the Keel runtime, the token, the limits and the generation
//! queue, the model ids served, and the shutdown signal.

use keel::Keel;
use tokio::sync::watch;

use super::args::Limits;
use super::limits::GenerationQueue;
use super::openai::MODEL_ID;
use super::token::Token;

/// The server's shared state.
#[derive(Debug)]
pub struct AppState {
    /// The runtime (a cheap handle; clones share one model and one store).
    pub keel: Keel,
    /// The bearer token every API call must present.
    pub token: Token,
    /// Request limits.
    pub limits: Limits,
    /// Admission to generation.
    pub queue: GenerationQueue,
    /// The loaded model's file stem, also accepted as a model id.
    pub model_alias: Option<String>,
    /// When the server started (Unix seconds).
    pub started: u64,
    /// Listening on loopback only: requests must name a loopback host.
    pub loopback_only: bool,
    /// Becomes `true` when the server starts shutting down.
    pub shutdown: watch::Receiver<bool>,
}

impl AppState {
    /// Whether `model` names the model served.
    pub fn knows_model(&self, model: &str) -> bool {
        model == MODEL_ID || self.model_alias.as_deref() == Some(model)
    }

    /// The model ids `GET /v1/models` lists.
    pub fn model_ids(&self) -> Vec<String> {
        std::iter::once(MODEL_ID.to_owned())
            .chain(self.model_alias.clone())
            .collect()
    }
}
