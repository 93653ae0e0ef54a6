//! OpenAI's response shapes as the server writes them: the completion, the streamed chunk
//! (both with Keel's `keel` object), token usage, and the model list.

use serde::Serialize;

/// Token counts.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Answer tokens.
    pub completion_tokens: u64,
    /// Both.
    pub total_tokens: u64,
}

/// An assistant message in a response.
#[derive(Debug, Serialize)]
pub struct OutMessage {
    /// Always `assistant`.
    pub role: &'static str,
    /// The answer.
    pub content: String,
    /// Always null (no refusals as a separate field: a gate refusal is the content).
    pub refusal: Option<String>,
}

/// A non-streamed choice.
#[derive(Debug, Serialize)]
pub struct Choice {
    /// Always 0.
    pub index: u32,
    /// The answer.
    pub message: OutMessage,
    /// `stop`, `length`, `content_filter` or `cancelled`.
    pub finish_reason: &'static str,
    /// Always null.
    pub logprobs: Option<()>,
}

/// `POST /v1/chat/completions` response.
#[derive(Debug, Serialize)]
pub struct ChatResponse<K: Serialize> {
    /// `chatcmpl-...`.
    pub id: String,
    /// `chat.completion`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: u64,
    /// The model id asked for.
    pub model: String,
    /// One choice.
    pub choices: Vec<Choice>,
    /// Token counts.
    pub usage: Usage,
    /// Keel's extension.
    pub keel: K,
}

/// A streamed delta.
#[derive(Debug, Default, Serialize)]
pub struct Delta {
    /// `assistant` in the first chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// New text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// A streamed choice.
#[derive(Debug, Serialize)]
pub struct ChunkChoice {
    /// Always 0.
    pub index: u32,
    /// What is new.
    pub delta: Delta,
    /// Set in the last content chunk.
    pub finish_reason: Option<&'static str>,
    /// Always null.
    pub logprobs: Option<()>,
}

/// One `chat.completion.chunk` event.
#[derive(Debug, Serialize)]
pub struct Chunk<K: Serialize> {
    /// Same id in every chunk of a stream.
    pub id: String,
    /// `chat.completion.chunk`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: u64,
    /// The model id asked for.
    pub model: String,
    /// One choice (none in the usage chunk).
    pub choices: Vec<ChunkChoice>,
    /// Token counts, in the usage chunk only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Keel's extension, in the last content chunk only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keel: Option<K>,
}

/// `GET /v1/models` entry.
#[derive(Debug, Serialize)]
pub struct Model {
    /// The id to send as `model`.
    pub id: String,
    /// `model`.
    pub object: &'static str,
    /// Unix seconds (the server's start).
    pub created: u64,
    /// `keel`.
    pub owned_by: &'static str,
}

/// `GET /v1/models` response.
#[derive(Debug, Serialize)]
pub struct ModelList {
    /// `list`.
    pub object: &'static str,
    /// The models.
    pub data: Vec<Model>,
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
