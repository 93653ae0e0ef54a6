//! Keel: a private, personalized, safety-gated local assistant runtime.
//!
//! The crate is the whole runtime as a Rust library. Each concern lives in its own module:
//! - [`engine`]: loading a GGUF model, chat templates, the decode loop on its own thread,
//!   sampling, streaming, cancellation, prefix (KV cache) reuse and embeddings;
//! - [`model_fetch`]: finding, fetching and verifying the default model file;
//! - [`store`]: the encrypted on-device store;
//! - [`safety`]: the signed rule bundle, normalization, the streaming gate and the
//!   personalization envelope;
//! - [`prefs`]: feedback, style features, the per-person preference learner, the profile and
//!   conditioning;
//! - [`runtime`]: one chat turn through the gate (the façade grows here);
//! - [`bench`]: measurements that `keel bench` prints;
//! - [`error`]: the crate's one public [`Error`].
//!
//! No module here speaks HTTP or uniffi; front ends live in other crates.

pub mod bench;
pub mod engine;
pub mod error;
pub mod home;
pub mod model_fetch;
pub mod prefs;
pub mod runtime;
pub mod safety;
pub mod store;

pub use error::{Error, Result};
pub use runtime::{
    ChatCancel, ChatEvent, ChatOptions, ChatStream, Incognito, Keel, KeelBuilder, KeelReport,
    KeelStatus,
};
