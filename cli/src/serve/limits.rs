//! Request limits: the body read with a size cap (413) and a time cap (408), JSON parsing
//! into OpenAI-shaped 400s, and the generation queue — at most `max_concurrent` answers
//! at once, at most `max_queue` waiting, each waiting no longer than the queue timeout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, HeaderMap};
use futures::StreamExt;
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::args::Limits;
use super::errors::ApiError;

/// Read a JSON request body of at most `limits.max_body_bytes` within the idle timeout.
pub async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    limits: &Limits,
) -> Result<T, ApiError> {
    if !is_json(headers) {
        return Err(ApiError::unsupported_media_type());
    }
    let bytes = read_capped(headers, body, limits.max_body_bytes, limits.idle_timeout).await?;
    parse_json(&bytes)
}

/// Parse `bytes` as `T`, mapping syntax and shape errors to 400s that say where.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
                "invalid_json",
                format!(
                    "the request body is not valid JSON (line {}, column {}); send a JSON object",
                    e.line(),
                    e.column()
                ),
            ),
            // serde's message names the field and the expected type, and quotes a string
            // value sent where another type belongs: that value is left out.
            Category::Data => ApiError::bad_request(
                "invalid_request",
                format!("invalid request: {}", without_quoted(&e.to_string())),
            ),
        }
    })
}

/// `message` with any double-quoted text (a value the client sent) replaced by `"…"`.
fn without_quoted(message: &str) -> String {
    match (message.find('"'), message.rfind('"')) {
        (Some(start), Some(end)) if end > start => {
            format!("{}\"…\"{}", &message[..start], &message[end + 1..])
        }
        _ => message.to_owned(),
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers.get(header::CONTENT_TYPE) else {
        return false;
    };
    let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
    let essence = ct.split(';').next().unwrap_or("").trim().to_owned();
    essence == "application/json" || essence.ends_with("+json")
}

/// The body, refused with 413 as soon as it is longer than `max` (by its declared length
/// or while it arrives) and with 408 when it does not arrive within `timeout`.
pub async fn read_capped(
    headers: &HeaderMap,
    body: Body,
    max: usize,
    timeout: Duration,
) -> Result<Vec<u8>, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A body a little over the cap is read and dropped, so the client (still sending) gets
    // the 413 instead of a reset connection; a far larger one is refused unread.
    let drain_cap = max.saturating_mul(DRAIN_FACTOR);
    if declared.is_some_and(|n| n > drain_cap as u64) {
        return Err(ApiError::too_large(max));
    }
    let read = async {
        let mut out = Vec::with_capacity(declared.map_or(1024, |n| (n as usize).min(max)));
        let mut seen = 0usize;
        let mut stream = body.into_data_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| {
                ApiError::bad_request(
                    "body_read_failed",
                    "the request body was cut off; resend it",
                )
            })?;
            seen = seen.saturating_add(chunk.len());
            if seen > max {
                out = Vec::new();
                if seen > drain_cap {
                    break;
                }
                continue;
            }
            out.extend_from_slice(&chunk);
        }
        if seen > max {
            return Err(ApiError::too_large(max));
        }
        Ok(out)
    };
    tokio::time::timeout(timeout, read)
        .await
        .map_err(|_| ApiError::request_timeout(timeout.as_secs()))?
}

/// How far past the cap a body is still read (and dropped) to answer 413 cleanly.
const DRAIN_FACTOR: usize = 8;

/// The generation queue.
#[derive(Debug)]
pub struct GenerationQueue {
    slots: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_concurrent: usize,
    max_queue: usize,
    timeout: Duration,
}

/// A generation slot; dropping it frees the slot. Carries how long the request queued.
#[derive(Debug)]
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    /// Time spent waiting in the queue.
    pub waited: Duration,
}

impl GenerationQueue {
    /// A queue for `limits`.
    pub fn new(limits: &Limits) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.max_concurrent)),
            waiting: AtomicUsize::new(0),
            max_concurrent: limits.max_concurrent,
            max_queue: limits.max_queue,
            timeout: limits.queue_timeout,
        }
    }

    /// Requests waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Generations running now.
    pub fn running(&self) -> usize {
        self.max_concurrent - self.slots.available_permits()
    }

    /// Wait for a slot: 503 at once when the queue is full, or after the timeout.
    pub async fn acquire(&self) -> Result<Slot, ApiError> {
        let start = Instant::now();
        if let Ok(permit) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(Slot {
                _permit: permit,
                waited: Duration::ZERO,
            });
        }
        let retry = self.timeout.as_secs().max(1);
        let before = self.waiting.fetch_add(1, Ordering::SeqCst);
        let _leave = Leave(&self.waiting);
        if before >= self.max_queue {
            return Err(ApiError::busy(
                format!(
                    "the server is busy: {} answers are being generated and the queue of {} \
                     is full; retry in a few seconds",
                    self.max_concurrent, self.max_queue
                ),
                retry,
            ));
        }
        match tokio::time::timeout(self.timeout, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Slot {
                _permit: permit,
                waited: start.elapsed(),
            }),
            Ok(Err(_closed)) => Err(ApiError::shutting_down()),
            Err(_elapsed) => Err(ApiError::busy(
                format!(
                    "the server is busy: waited {} s in the queue for one of {} generation \
                     slots; retry later, or start keel serve with a larger \
                     --queue-timeout-secs or --max-concurrent",
                    self.timeout.as_secs(),
                    self.max_concurrent
                ),
                retry,
            )),
        }
    }

    /// Refuse every waiting and future request (shutdown).
    pub fn close(&self) {
        self.slots.close();
    }
}

struct Leave<'a>(&'a AtomicUsize);
impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn limits(max_concurrent: usize, max_queue: usize, timeout_ms: u64) -> Limits {
        Limits {
            max_body_bytes: 16,
            max_tokens: 64,
            default_max_tokens: 32,
            max_concurrent,
            max_queue,
            queue_timeout: Duration::from_millis(timeout_ms),
            idle_timeout: Duration::from_secs(5),
            generation_timeout: Duration::from_secs(5),
        }
    }

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        h
    }

    #[tokio::test]
    async fn bodies_over_the_cap_are_413_declared_or_not() {
        let l = limits(1, 1, 10);
        let ok: serde_json::Value = read_json(&json_headers(), Body::from("{\"a\":1}"), &l)
            .await
            .expect("small body");
        assert_eq!(ok["a"], 1);
        let big = Body::from(vec![b' '; 17]);
        let e = read_json::<serde_json::Value>(&json_headers(), big, &l)
            .await
            .expect_err("too big");
        assert_eq!(e.status.as_u16(), 413);
        let mut h = json_headers();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("1000000"));
        // Declared far over the cap: refused without reading.
        let e = read_json::<serde_json::Value>(&h, Body::from("{}"), &l)
            .await
            .expect_err("declared too big");
        assert_eq!(e.status.as_u16(), 413);
    }

    #[tokio::test]
    async fn malformed_json_and_wrong_type_are_400_and_415() {
        let l = limits(1, 1, 10);
        let e = read_json::<serde_json::Value>(&json_headers(), Body::from("{\"a\":"), &l)
            .await
            .expect_err("malformed");
        assert_eq!((e.status.as_u16(), e.code), (400, "invalid_json"));
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Need {
            model: String,
        }
        let e = read_json::<Need>(&json_headers(), Body::from("{\"m\":1}"), &l)
            .await
            .expect_err("missing field");
        assert_eq!((e.status.as_u16(), e.code), (400, "invalid_request"));
        assert!(e.message.contains("model"), "{}", e.message);
        // A person's text sent where another type belongs is not echoed back.
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Count {
            n: u32,
        }
        let e = parse_json::<Count>(b"{\"n\": \"my secret\"}").expect_err("wrong type");
        assert_eq!(e.code, "invalid_request");
        assert!(!e.message.contains("secret"), "{}", e.message);
        assert!(e.message.contains("invalid type"), "{}", e.message);
        let e = read_json::<serde_json::Value>(&HeaderMap::new(), Body::from("{}"), &l)
            .await
            .expect_err("no content type");
        assert_eq!(e.status.as_u16(), 415);
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert!(read_json::<serde_json::Value>(&h, Body::from("{}"), &l)
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn the_queue_bounds_concurrency_length_and_wait() {
        let q = Arc::new(GenerationQueue::new(&limits(1, 1, 200)));
        let first = q.acquire().await.expect("free slot");
        assert_eq!(first.waited, Duration::ZERO);
        assert_eq!(q.running(), 1);
        // One may wait; it times out with a queueing error.
        let q2 = Arc::clone(&q);
        let waiter = tokio::spawn(async move { q2.acquire().await });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(q.waiting(), 1);
        // A second waiter finds the queue full and is refused at once.
        let e = q.acquire().await.expect_err("queue full");
        assert_eq!((e.status.as_u16(), e.code), (503, "queue_timeout"));
        assert!(e.message.contains("queue"), "{}", e.message);
        let e = waiter.await.expect("join").expect_err("timed out");
        assert_eq!(e.status.as_u16(), 503);
        assert!(e.message.contains("waited"), "{}", e.message);
        assert_eq!(q.waiting(), 0);
        // Freed slots are handed to waiters, with the wait measured.
        let q3 = Arc::clone(&q);
        let waiter = tokio::spawn(async move { q3.acquire().await });
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(first);
        let slot = waiter.await.expect("join").expect("slot");
        assert!(
            slot.waited >= Duration::from_millis(20),
            "{:?}",
            slot.waited
        );
        drop(slot);
        q.close();
        let e = q.acquire().await.expect_err("closed");
        assert_eq!(e.code, "shutting_down");
    }
}
