//! `keel serve` options: where to listen, the token, the limits, and the engine/bundle
//! options shared with `keel chat`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::engine_args::EngineArgs;
use crate::error::CliError;
use crate::safety_args::SafetyArgs;

/// Serve Keel as a local OpenAI-compatible API with a chat page at `/`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Anything but a loopback address needs --allow-remote.
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    pub host: IpAddr,
    /// Port to listen on (0: a free one, printed on start).
    #[arg(long, default_value_t = 8808)]
    pub port: u16,
    /// Allow listening on a non-loopback address, reachable from other machines.
    #[arg(long)]
    pub allow_remote: bool,
    /// Make a new API token (the old one stops working), print it once and serve with it.
    #[arg(long)]
    pub rotate_token: bool,
    /// The API token to require instead of the stored one (for scripted setups).
    #[arg(
        long = "api-token",
        env = "KEEL_API_TOKEN",
        hide_env_values = true,
        hide = true
    )]
    pub api_token: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub safety: SafetyArgs,
}

/// Limits that keep one client from exhausting the server.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Largest request body in bytes (larger: 413).
    #[arg(long, default_value_t = 256 * 1024)]
    pub max_body_bytes: usize,
    /// Most tokens one answer may have (`max_tokens` above it: 400).
    #[arg(long, default_value_t = 512)]
    pub max_tokens: u32,
    /// Tokens in an answer when the request does not say.
    #[arg(long, default_value_t = 256)]
    pub default_max_tokens: u32,
    /// Answers admitted to Keel at once (its engine generates one at a time, taking turns
    /// fairly between people); others wait in the server's queue.
    #[arg(long, default_value_t = 4)]
    pub max_concurrent: usize,
    /// Requests waiting for a generation slot at most; beyond that: 503 at once.
    #[arg(long, default_value_t = 64)]
    pub max_queue: usize,
    /// Seconds a request may wait in the queue before it gets 503 with a queueing error.
    #[arg(long, default_value_t = 30)]
    pub queue_timeout_secs: u64,
    /// Seconds a client may take to send its request headers or body, or keep an idle
    /// connection open.
    #[arg(long, default_value_t = 15)]
    pub idle_timeout_secs: u64,
    /// Seconds one answer may take to generate in total before it is cancelled.
    #[arg(long, default_value_t = 300)]
    pub generation_timeout_secs: u64,
}

/// The limits as the server uses them.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Most tokens per answer.
    pub max_tokens: u32,
    /// Tokens per answer by default.
    pub default_max_tokens: u32,
    /// Concurrent generations.
    pub max_concurrent: usize,
    /// Queue length.
    pub max_queue: usize,
    /// Longest wait in the queue.
    pub queue_timeout: Duration,
    /// Idle/slow-client timeout.
    pub idle_timeout: Duration,
    /// Longest generation.
    pub generation_timeout: Duration,
}

impl LimitArgs {
    /// Check and convert.
    pub fn limits(&self) -> Result<Limits, CliError> {
        let positive = [
            ("--max-body-bytes", self.max_body_bytes as u64),
            ("--max-tokens", u64::from(self.max_tokens)),
            ("--default-max-tokens", u64::from(self.default_max_tokens)),
            ("--max-concurrent", self.max_concurrent as u64),
            ("--queue-timeout-secs", self.queue_timeout_secs),
            ("--idle-timeout-secs", self.idle_timeout_secs),
            ("--generation-timeout-secs", self.generation_timeout_secs),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(CliError::Usage(format!("{name} must be at least 1")));
        }
        if self.default_max_tokens > self.max_tokens {
            return Err(CliError::Usage(
                "--default-max-tokens cannot be larger than --max-tokens".into(),
            ));
        }
        Ok(Limits {
            max_body_bytes: self.max_body_bytes,
            max_tokens: self.max_tokens,
            default_max_tokens: self.default_max_tokens,
            max_concurrent: self.max_concurrent,
            max_queue: self.max_queue,
            queue_timeout: Duration::from_secs(self.queue_timeout_secs),
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            generation_timeout: Duration::from_secs(self.generation_timeout_secs),
        })
    }
}

impl ServeArgs {
    /// The address to bind, refusing a non-loopback one without --allow-remote.
    pub fn bind_addr(&self) -> Result<SocketAddr, CliError> {
        if !self.host.is_loopback() && !self.allow_remote {
            return Err(CliError::Usage(format!(
                "{} is reachable from other machines; keel serve listens on loopback only \
                 unless you add --allow-remote (anyone who can reach it and holds the token \
                 can read and change profiles)",
                self.host
            )));
        }
        Ok(SocketAddr::new(self.host, self.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct T {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn parse(args: &[&str]) -> ServeArgs {
        let mut v = vec!["keel"];
        v.extend_from_slice(args);
        T::try_parse_from(v).expect("parses").serve
    }

    #[test]
    fn loopback_by_default_and_remote_only_when_allowed() {
        let a = parse(&[]);
        assert_eq!(
            a.bind_addr().expect("addr"),
            "127.0.0.1:8808".parse::<SocketAddr>().expect("addr")
        );
        assert!(parse(&["--host", "0.0.0.0"]).bind_addr().is_err());
        assert!(parse(&["--host", "0.0.0.0", "--allow-remote"])
            .bind_addr()
            .is_ok());
        assert!(parse(&["--host", "::1", "--port", "0"]).bind_addr().is_ok());
    }

    #[test]
    fn limits_are_checked() {
        assert!(parse(&[]).limits.limits().is_ok());
        assert!(parse(&["--max-concurrent", "0"]).limits.limits().is_err());
        assert!(parse(&["--max-tokens", "10", "--default-max-tokens", "20"])
            .limits
            .limits()
            .is_err());
        let l = parse(&["--max-body-bytes", "1000", "--queue-timeout-secs", "2"])
            .limits
            .limits()
            .expect("limits");
        assert_eq!(l.max_body_bytes, 1000);
        assert_eq!(l.queue_timeout, Duration::from_secs(2));
    }
}
