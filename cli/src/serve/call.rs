//! A chat-completion request checked into a [`ChatCall`]: the server's limits and OpenAI's
//! ranges applied, the conversation reduced to text, the person named (the request's shape
//! is in `openai.rs`). Keel's own range for best-of is the façade's check, asked here so a
//! bad value is refused before the request waits for a generation slot.

use super::args::Limits;
use super::errors::ApiError;
use super::openai::{ChatRequest, Content, InMessage, Stop, DEFAULT_USER, MODEL_ID};

/// The role of a checked message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Instructions.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
}

/// A request, checked: what the route hands to Keel.
#[derive(Debug)]
pub struct ChatCall {
    /// The person.
    pub user: String,
    /// The conversation (text only).
    pub messages: Vec<(Role, String)>,
    /// Stream or not.
    pub stream: bool,
    /// Send usage in the last streamed chunk.
    pub include_usage: bool,
    /// Token budget (≤ the server's cap).
    pub max_tokens: u32,
    /// Temperature, if given.
    pub temperature: Option<f32>,
    /// Top-p, if given.
    pub top_p: Option<f32>,
    /// Seed, if given.
    pub seed: Option<u32>,
    /// Frequency penalty, if given.
    pub frequency_penalty: Option<f32>,
    /// Presence penalty, if given.
    pub presence_penalty: Option<f32>,
    /// Stop texts.
    pub stop: Vec<String>,
    /// Context key.
    pub context: Option<String>,
    /// Incognito turn.
    pub incognito: bool,
    /// Best-of-n candidates, if asked for (checked; ignored by incognito turns).
    pub best_of: Option<u32>,
}

impl ChatRequest {
    /// Check the request against the server's limits and OpenAI's ranges. `known_model`
    /// says whether a model id is served (unknown: 404).
    pub fn check(
        self,
        limits: &Limits,
        known_model: impl Fn(&str) -> bool,
    ) -> Result<ChatCall, ApiError> {
        if !known_model(&self.model) {
            return Err(ApiError::not_found(
                "model_not_found",
                format!(
                    "the model `{}` does not exist here; GET /v1/models lists `{MODEL_ID}`",
                    clip(&self.model, 64)
                ),
            )
            .with_param("model"));
        }
        if self.n.is_some_and(|n| n != 1) {
            return Err(bad("n", "only n = 1 is supported"));
        }
        let max_tokens = self
            .max_completion_tokens
            .or(self.max_tokens)
            .unwrap_or(limits.default_max_tokens);
        if max_tokens == 0 || max_tokens > limits.max_tokens {
            return Err(bad(
                "max_tokens",
                &format!(
                    "max_tokens must be between 1 and {} on this server",
                    limits.max_tokens
                ),
            ));
        }
        if self.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
            return Err(bad("temperature", "temperature must be between 0 and 2"));
        }
        if self.top_p.is_some_and(|p| !(p > 0.0 && p <= 1.0)) {
            return Err(bad("top_p", "top_p must be above 0 and at most 1"));
        }
        for (name, value) in [
            ("frequency_penalty", self.frequency_penalty),
            ("presence_penalty", self.presence_penalty),
        ] {
            if value.is_some_and(|v| !(-2.0..=2.0).contains(&v)) {
                return Err(bad(name, &format!("{name} must be between -2 and 2")));
            }
        }
        let seed = match self.seed {
            None => None,
            Some(s) => Some(
                u32::try_from(s.rem_euclid(1 << 32))
                    .map_err(|_| bad("seed", "seed must be an integer"))?,
            ),
        };
        let stop = match self.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s],
            Some(Stop::Many(v)) => v,
        };
        if stop.len() > 4 || stop.iter().any(|s| s.is_empty() || s.len() > 256) {
            return Err(bad(
                "stop",
                "stop takes at most 4 non-empty texts of at most 256 bytes",
            ));
        }
        let user = check_user(self.user)?;
        let messages = check_messages(self.messages)?;
        let ext = self.keel.unwrap_or_default();
        if let Some(n) = ext.best_of {
            keel::runtime::check_candidates(n).map_err(|e| match e {
                keel::engine::EngineError::InvalidSampling { expected, .. } => {
                    bad("keel.best_of", &format!("keel.best_of must be {expected}"))
                }
                e => bad("keel.best_of", &e.to_string()),
            })?;
        }
        Ok(ChatCall {
            user,
            messages,
            stream: self.stream,
            include_usage: self.stream_options.is_some_and(|o| o.include_usage),
            max_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            seed,
            frequency_penalty: self.frequency_penalty,
            presence_penalty: self.presence_penalty,
            stop,
            context: ext.context,
            incognito: ext.incognito,
            best_of: ext.best_of,
        })
    }
}

/// The person a request names (`default` when it names none), checked: 1 to 64
/// characters, no control characters, no surrounding spaces.
pub fn check_user(user: Option<String>) -> Result<String, ApiError> {
    let user = user.unwrap_or_else(|| DEFAULT_USER.to_owned());
    if user.is_empty()
        || user.chars().count() > 64
        || user.chars().any(char::is_control)
        || user.trim() != user
    {
        return Err(bad(
            "user",
            "user must be 1 to 64 characters, without control characters or surrounding spaces",
        ));
    }
    Ok(user)
}

fn check_messages(messages: Vec<InMessage>) -> Result<Vec<(Role, String)>, ApiError> {
    if messages.is_empty() {
        return Err(bad("messages", "messages must hold at least one message"));
    }
    let mut out = Vec::with_capacity(messages.len());
    for m in messages {
        let role = match m.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            _ => {
                return Err(bad(
                    "messages",
                    "a message role must be system, developer, user or assistant (tools are not supported)",
                ))
            }
        };
        let text = match m.content {
            None => String::new(),
            Some(Content::Text(t)) => t,
            Some(Content::Parts(parts)) => {
                let mut text = String::new();
                for p in parts {
                    if p.kind != "text" {
                        return Err(bad(
                            "messages",
                            "only text content parts are supported (no images or audio)",
                        ));
                    }
                    text.push_str(p.text.as_deref().unwrap_or(""));
                }
                text
            }
        };
        out.push((role, text));
    }
    if out.last().map(|(r, _)| *r) != Some(Role::User) {
        return Err(bad(
            "messages",
            "the last message must be the person's (role user)",
        ));
    }
    Ok(out)
}

fn bad(param: &'static str, msg: &str) -> ApiError {
    ApiError::bad_request("invalid_value", msg).with_param(param)
}

/// At most `n` characters of `s` (for echoing an id in an error).
fn clip(s: &str, n: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits() -> Limits {
        Limits {
            max_body_bytes: 1024,
            max_tokens: 64,
            default_max_tokens: 32,
            max_concurrent: 1,
            max_queue: 1,
            queue_timeout: Duration::from_secs(1),
            idle_timeout: Duration::from_secs(1),
            generation_timeout: Duration::from_secs(1),
        }
    }

    fn check(v: serde_json::Value) -> Result<ChatCall, ApiError> {
        let req: ChatRequest = serde_json::from_value(v).expect("shape");
        req.check(&limits(), |m| m == MODEL_ID)
    }

    #[test]
    fn an_openai_request_becomes_a_call() {
        let c = check(serde_json::json!({
            "model": "keel",
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": " there"}]}
            ],
            "stream": true, "stream_options": {"include_usage": true},
            "max_completion_tokens": 10, "temperature": 0, "seed": -1, "stop": "\n\n",
            "user": "alice", "keel": {"context": "work", "best_of": 3}, "frequency_penalty": 0.5
        }))
        .expect("valid");
        assert_eq!(c.user, "alice");
        assert_eq!(
            c.messages,
            vec![
                (Role::System, "Be brief.".into()),
                (Role::User, "Hi there".into())
            ]
        );
        assert!(c.stream && c.include_usage && !c.incognito);
        assert_eq!(
            (c.max_tokens, c.seed, c.stop.len()),
            (10, Some(u32::MAX), 1)
        );
        assert_eq!((c.context.as_deref(), c.best_of), (Some("work"), Some(3)));
        assert_eq!((c.frequency_penalty, c.presence_penalty), (Some(0.5), None));
        let d = check(
            serde_json::json!({"model": "keel", "messages": [{"role": "user", "content": "x"}]}),
        )
        .expect("valid");
        assert_eq!(
            (d.user.as_str(), d.max_tokens, d.stream, d.best_of),
            (DEFAULT_USER, 32, false, None)
        );
    }

    #[test]
    fn best_of_outside_the_facades_range_is_a_400_that_says_the_range() {
        let ask = |keel: serde_json::Value| {
            check(serde_json::json!({
                "model": "keel", "keel": keel, "messages": [{"role": "user", "content": "x"}]
            }))
        };
        let max = keel::runtime::MAX_CANDIDATES;
        for n in [0, max + 1, u32::MAX] {
            let e = ask(serde_json::json!({"best_of": n})).expect_err("out of range");
            assert_eq!(
                (e.status.as_u16(), e.code, e.param),
                (400, "invalid_value", Some("keel.best_of")),
                "n = {n}"
            );
            assert_eq!(
                e.message,
                format!("keel.best_of must be from 1 to {max} candidates")
            );
        }
        for n in [1, max] {
            let c = ask(serde_json::json!({"best_of": n})).expect("in range");
            assert_eq!(c.best_of, Some(n));
        }
        // The façade ignores best-of for incognito turns (no person's model to rank by), and
        // so does the server; the range is still checked.
        let c = ask(serde_json::json!({"incognito": true, "best_of": 2})).expect("valid");
        assert!(c.incognito && c.best_of == Some(2));
        let e = ask(serde_json::json!({"incognito": true, "best_of": 0})).expect_err("range");
        assert_eq!(e.param, Some("keel.best_of"));
        // Not a whole number at all: the body's shape is wrong, said as for any field.
        for body in [
            r#"{"model": "keel", "keel": {"best_of": -1}, "messages": []}"#,
            r#"{"model": "keel", "keel": {"best_of": 2.5}, "messages": []}"#,
        ] {
            let e = super::super::limits::parse_json::<ChatRequest>(body.as_bytes())
                .expect_err("not a count");
            assert_eq!((e.status.as_u16(), e.code), (400, "invalid_request"));
            assert!(e.message.contains("expected u32"), "{}", e.message);
        }
    }

    #[test]
    fn bad_requests_are_refused_with_the_field_named() {
        let e = check(
            serde_json::json!({"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]}),
        )
        .expect_err("unknown model");
        assert_eq!(
            (e.status.as_u16(), e.code, e.param),
            (404, "model_not_found", Some("model"))
        );
        let cases = [
            (
                serde_json::json!({"model": "keel", "messages": []}),
                "messages",
            ),
            (
                serde_json::json!({"model": "keel", "messages": [{"role": "tool", "content": "x"}]}),
                "messages",
            ),
            (
                serde_json::json!({"model": "keel", "messages": [{"role": "assistant", "content": "x"}]}),
                "messages",
            ),
            (
                serde_json::json!({"model": "keel", "max_tokens": 65, "messages": [{"role": "user", "content": "x"}]}),
                "max_tokens",
            ),
            (
                serde_json::json!({"model": "keel", "temperature": 3, "messages": [{"role": "user", "content": "x"}]}),
                "temperature",
            ),
            (
                serde_json::json!({"model": "keel", "n": 2, "messages": [{"role": "user", "content": "x"}]}),
                "n",
            ),
            (
                serde_json::json!({"model": "keel", "frequency_penalty": 2.5, "messages": [{"role": "user", "content": "x"}]}),
                "frequency_penalty",
            ),
            (
                serde_json::json!({"model": "keel", "presence_penalty": -3, "messages": [{"role": "user", "content": "x"}]}),
                "presence_penalty",
            ),
            (
                serde_json::json!({"model": "keel", "user": " bob", "messages": [{"role": "user", "content": "x"}]}),
                "user",
            ),
            (
                serde_json::json!({"model": "keel", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}),
                "messages",
            ),
        ];
        for (v, param) in cases {
            let e = check(v).expect_err("invalid");
            assert_eq!(
                (e.status.as_u16(), e.param),
                (400, Some(param)),
                "{}",
                e.message
            );
        }
    }
}
