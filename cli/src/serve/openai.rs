//! OpenAI's chat-completion request as the server reads it, with Keel's `keel` extension
//! object: the shapes only (checked into a `ChatCall` by `call.rs`; the response shapes are
//! in `responses.rs`). Fields Keel does not use are accepted and ignored, as
//! OpenAI-compatible servers do.

use serde::Deserialize;

/// The person a request without `user` is served as.
pub const DEFAULT_USER: &str = "default";
/// The model id Keel lists and answers to (the loaded GGUF's file stem is an alias).
pub const MODEL_ID: &str = "keel";

/// `POST /v1/chat/completions` body.
#[derive(Debug, Deserialize)]
pub struct ChatRequest {
    /// Which model: `keel` or the loaded model's file stem.
    pub model: String,
    /// The conversation.
    pub messages: Vec<InMessage>,
    /// Stream the answer as server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Streaming options (`include_usage`).
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Most tokens in the answer (legacy name).
    #[serde(default)]
    pub max_tokens: Option<u32>,
    /// Most tokens in the answer.
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    /// Sampling temperature, 0–2.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus mass, 0–1.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Sampling seed.
    #[serde(default)]
    pub seed: Option<i64>,
    /// Penalty per earlier use of a token, -2 to 2.
    #[serde(default)]
    pub frequency_penalty: Option<f32>,
    /// Penalty for any token already used, -2 to 2.
    #[serde(default)]
    pub presence_penalty: Option<f32>,
    /// Stop text: a string or a list.
    #[serde(default)]
    pub stop: Option<Stop>,
    /// How many answers: only 1 is served.
    #[serde(default)]
    pub n: Option<u32>,
    /// The Keel person this request is for.
    #[serde(default)]
    pub user: Option<String>,
    /// Keel's extension: a context key, an incognito turn, best-of-n.
    #[serde(default)]
    pub keel: Option<KeelRequest>,
}

/// `stream_options`.
#[derive(Debug, Default, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with token usage.
    #[serde(default)]
    pub include_usage: bool,
}

/// The `keel` object a request may carry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeelRequest {
    /// The app's context key ("work", "cooking").
    #[serde(default)]
    pub context: Option<String>,
    /// Answer without reading or writing the person's profile; the turn is not recorded.
    #[serde(default)]
    pub incognito: bool,
    /// Answer with the best of this many candidates by the person's own model (1 to 8, as
    /// the façade checks; the answer then arrives whole). Incognito turns ignore it, as the
    /// façade does: they have no person's model to rank by.
    #[serde(default)]
    pub best_of: Option<u32>,
}

/// `stop`: one string or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop text.
    One(String),
    /// Several.
    Many(Vec<String>),
}

/// One message of the conversation.
#[derive(Debug, Deserialize)]
pub struct InMessage {
    /// `system`, `developer`, `user` or `assistant`.
    pub role: String,
    /// Text, or a list of content parts of which only `text` parts are served.
    #[serde(default)]
    pub content: Option<Content>,
}

/// Message content: a string or parts.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Content parts.
    Parts(Vec<Part>),
}

/// One content part.
#[derive(Debug, Deserialize)]
pub struct Part {
    /// The part's type; only `text` is served.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default)]
    pub text: Option<String>,
}
