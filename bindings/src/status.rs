//! What the runtime reports about itself and about an import: the mirrors of
//! `keel::KeelStatus` and `keel::store::ImportSummary`.

use crate::records::BundleInfo;

/// What an import added.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ImportResult {
    /// Events added.
    pub events: u64,
    /// Turn records added or replaced.
    pub turns: u64,
    /// Whether the profile was replaced.
    pub profile: bool,
}

impl From<keel::store::ImportSummary> for ImportResult {
    fn from(s: keel::store::ImportSummary) -> Self {
        Self {
            events: s.events as u64,
            turns: s.turns as u64,
            profile: s.profile,
        }
    }
}

/// What [`crate::KeelRuntime::status`] reports.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct KeelStatus {
    /// The model file.
    pub model_path: String,
    /// The model's name, when its metadata has one.
    pub model_name: Option<String>,
    /// Parameter count.
    pub model_params: u64,
    /// The context size in use.
    pub n_ctx: u32,
    /// Decoding threads.
    pub threads: u32,
    /// The bundle in force.
    pub bundle: BundleInfo,
    /// The store file.
    pub store_path: String,
    /// How the store's master key is obtained (`platform`, `raw`, `passphrase-…`).
    pub key_method: String,
    /// People in the store.
    pub users: u64,
    /// Keel's state directory.
    pub home: String,
    /// Chats waiting for the engine.
    pub waiting: u64,
}

impl From<keel::KeelStatus> for KeelStatus {
    fn from(s: keel::KeelStatus) -> Self {
        Self {
            model_path: s.model.path.display().to_string(),
            model_name: s.model.name,
            model_params: s.model.params,
            n_ctx: s.model.n_ctx,
            threads: s.model.threads,
            bundle: s.bundle.into(),
            store_path: s.store.path.display().to_string(),
            key_method: s.store.key_method.to_owned(),
            users: s.store.users,
            home: s.home.display().to_string(),
            waiting: s.waiting as u64,
        }
    }
}
