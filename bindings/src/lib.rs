//! `keel-ffi`: the uniffi bindings (Kotlin, Swift, Python) over the `keel` crate.
//!
//! This crate holds no logic: each exported object wraps one `keel` type and each method is
//! one call on it. [`KeelRuntime`] wraps the `keel::Keel` façade (`runtime.rs`); a chat is
//! delivered to the app's [`TokenListener`] and controlled by a [`ChatHandle`] (`chat.rs`);
//! the master key comes from the app's [`KeyProvider`] — the platform keystore — or a
//! passphrase or raw key (`keys.rs`); records mirror the core's types (`records.rs`,
//! `report.rs`, `status.rs`); [`KeelError`] is the one error (`error.rs`). The
//! `uniffi-bindgen` binary generates the Kotlin, Swift and Python sources from the built
//! library.

mod chat;
mod error;
mod keys;
mod records;
mod report;
mod runtime;
mod status;

uniffi::setup_scaffolding!("keel");

pub use chat::{ChatHandle, TokenListener};
pub use error::KeelError;
pub use keys::{KeyProvider, KeySource};
pub use records::{
    BundleInfo, ChatMessage, ChatOptions, Dimension, FeedbackOutcome, FeedbackResult, Preference,
    Profile, Role, Source, Verdict,
};
pub use report::{ChatReport, ChatResult, FinishReason, GateDecision, GenerationStats, Shaping};
pub use runtime::{BundleSource, EngineSettings, KeelConfig, KeelRuntime};
pub use status::{ImportResult, KeelStatus};

/// The version of the Keel runtime these bindings wrap.
#[uniffi::export]
pub fn keel_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// The default chat options (the runtime's sampling defaults, 256 tokens).
#[uniffi::export]
pub fn default_chat_options() -> ChatOptions {
    keel::ChatOptions::default().into()
}

/// Greedy decoding of at most `max_tokens` tokens: the same answer every time.
#[uniffi::export]
pub fn greedy_chat_options(max_tokens: u32) -> ChatOptions {
    keel::ChatOptions::greedy(max_tokens).into()
}
