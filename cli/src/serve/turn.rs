//! One chat turn as the server runs it: a checked [`ChatCall`] handed to Keel (personal or
//! incognito), its events read under the generation timeout and the shutdown signal
//! (either cancels the turn, which then ends at its next token), and Keel's report turned
//! into the response's `keel` object (with the best-of report when one was asked for),
//! finish reason and usage.

use std::time::Duration;

use keel::engine::{ChatMessage, FinishReason};
use keel::prefs::Shaping;
use keel::runtime::{BestOf, ChatEvent, ChatOptions, ChatStream, KeelReport};
use keel::safety::Verdict;
use serde::Serialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::call::{ChatCall, Role};
use super::errors::ApiError;
use super::responses::Usage;
use super::state::AppState;

/// Start `call` on Keel: the person's turn, or an incognito one.
pub fn start(app: &AppState, call: &ChatCall) -> Result<ChatStream, ApiError> {
    let messages = call
        .messages
        .iter()
        .map(|(role, text)| match role {
            Role::System => ChatMessage::system(text.clone()),
            Role::User => ChatMessage::user(text.clone()),
            Role::Assistant => ChatMessage::assistant(text.clone()),
        })
        .collect();
    let d = ChatOptions::default();
    let options = ChatOptions {
        max_tokens: call.max_tokens,
        temperature: call.temperature.unwrap_or(d.temperature),
        top_p: call.top_p.unwrap_or(d.top_p),
        seed: call.seed.unwrap_or(d.seed),
        frequency_penalty: call.frequency_penalty.unwrap_or(d.frequency_penalty),
        presence_penalty: call.presence_penalty.unwrap_or(d.presence_penalty),
        stop: call.stop.clone(),
        context: call.context.clone(),
        best_of: call.best_of.unwrap_or(d.best_of),
    };
    let stream = if call.incognito {
        app.keel.incognito()?.chat(messages, options)?
    } else {
        app.keel.chat(&call.user, messages, options)?
    };
    Ok(stream)
}

/// A running turn read with a deadline and the shutdown signal.
pub struct Turn {
    stream: ChatStream,
    deadline: Instant,
    timeout: Duration,
    shutdown: watch::Receiver<bool>,
    cancelled: bool,
    timed_out: bool,
}

impl Turn {
    /// Read `stream` until `timeout` from now, or until the server shuts down.
    pub fn new(stream: ChatStream, timeout: Duration, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            stream,
            deadline: Instant::now() + timeout,
            timeout,
            shutdown,
            cancelled: false,
            timed_out: false,
        }
    }

    /// The next event; `None` after the last. Past the deadline or on shutdown the turn is
    /// cancelled and its remaining events (the report, saying `cancelled`) still arrive.
    pub async fn next(&mut self) -> Option<ChatEvent> {
        use futures::StreamExt;
        loop {
            if self.cancelled || *self.shutdown.borrow() {
                self.cancel();
                return self.stream.next().await;
            }
            tokio::select! {
                ev = self.stream.next() => return ev,
                _ = tokio::time::sleep_until(self.deadline) => {
                    tracing::warn!("an answer ran past the generation timeout; cancelling it");
                    self.timed_out = true;
                    self.cancel();
                }
                changed = self.shutdown.changed() => {
                    if changed.is_err() || *self.shutdown.borrow() {
                        self.cancel();
                    }
                }
            }
        }
    }

    /// The error to answer for a turn that failed with `e`: a turn the generation timeout
    /// cancelled before it started (it waited for the engine all that time) is a timeout,
    /// not the shutdown that is the only other reason the server cancels a turn.
    pub fn failure(&self, e: keel::Error) -> ApiError {
        failure(e, self.timed_out, self.timeout)
    }

    fn cancel(&mut self) {
        if !self.cancelled {
            self.cancelled = true;
            self.stream.cancel();
        }
    }
}

fn failure(e: keel::Error, timed_out: bool, timeout: Duration) -> ApiError {
    match e {
        keel::Error::Cancelled if timed_out => ApiError::generation_timeout(timeout.as_secs()),
        e => ApiError::from(e),
    }
}

/// The `keel` object of a response.
#[derive(Debug, Clone, Serialize)]
pub struct KeelExt {
    /// The id to send feedback about (absent for an incognito turn).
    pub turn_id: Option<String>,
    /// The person served (absent when incognito).
    pub user: Option<String>,
    /// The context served in.
    pub context: Option<String>,
    /// Whether nothing personal was read or written.
    pub incognito: bool,
    /// The preferences that shaped the answer, with why.
    pub applied_preferences: Vec<Shaping>,
    /// The gate's decision: allow, annotate, redact or block.
    pub verdict: Verdict,
    /// The gate's rules that fired (ids only).
    pub rules: Vec<String>,
    /// The bundle in force.
    pub bundle_id: Option<String>,
    /// Its version.
    pub bundle_version: Option<u64>,
    /// Its digest.
    pub bundle_digest: Option<String>,
    /// True when no bundle gates answers.
    pub developer_mode: bool,
    /// Time waiting for a generation slot and then for the engine, in milliseconds.
    pub queue_wait_ms: f64,
    /// From the request reaching Keel to its report, in milliseconds.
    pub total_ms: f64,
    /// For a best-of-n answer (`keel.best_of` above 1): each candidate's score, tokens and
    /// whether the gate blocked it, the one chosen, and the cost of all candidates together
    /// (`usage` counts the chosen one). Null for any other answer.
    pub best_of: Option<BestOf>,
}

/// What a report amounts to for the response.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The `keel` object.
    pub keel: KeelExt,
    /// OpenAI's finish reason.
    pub finish_reason: &'static str,
    /// Token counts.
    pub usage: Usage,
}

/// Turn Keel's report into the response's parts; `server_wait` is the time the request
/// waited for a slot before reaching Keel.
pub fn outcome(call: &ChatCall, report: &KeelReport, server_wait: Duration) -> Outcome {
    let t = &report.turn;
    let mut rules: Vec<String> = t.input.rules.clone();
    if let Some(o) = &t.output {
        rules.extend(o.rules.iter().cloned());
    }
    let finish_reason = match (t.verdict, t.generation.as_ref().map(|g| g.finish)) {
        (Verdict::Block, _) => "content_filter",
        (_, Some(FinishReason::MaxTokens | FinishReason::ContextFull)) => "length",
        _ => "stop",
    };
    let (prompt, completion) = t.generation.as_ref().map_or((0, 0), |g| {
        (g.prompt_tokens as u64, g.generated_tokens as u64)
    });
    Outcome {
        keel: KeelExt {
            turn_id: report.turn_id.as_ref().map(|t| t.as_str().to_owned()),
            user: (!report.incognito).then(|| call.user.clone()),
            context: report.context.as_ref().map(|c| c.as_str().to_owned()),
            incognito: report.incognito,
            applied_preferences: report.shaped_by.clone(),
            verdict: t.verdict,
            rules,
            bundle_id: t.bundle.bundle_id.clone(),
            bundle_version: t.bundle.version,
            bundle_digest: t.bundle.digest.clone(),
            developer_mode: t.bundle.developer_mode,
            queue_wait_ms: server_wait.as_secs_f64() * 1000.0 + report.waited_ms,
            total_ms: report.total_ms,
            best_of: report.best_of.clone(),
        },
        finish_reason,
        usage: Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_the_timeout_cancelled_before_it_started_is_a_timeout_not_a_shutdown() {
        let t = Duration::from_secs(7);
        let e = failure(keel::Error::Cancelled, true, t);
        assert_eq!((e.status.as_u16(), e.code), (503, "generation_timeout"));
        assert!(e.message.contains("7 s"), "{}", e.message);
        assert_eq!(e.retry_after, Some(7));
        let e = failure(keel::Error::Cancelled, false, t);
        assert_eq!(e.code, "shutting_down");
        let e = failure(keel::Error::Closed, true, t);
        assert_eq!(e.code, "shutting_down");
    }
}
