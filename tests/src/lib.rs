//! Shared helpers for the end-to-end tests: where the real default model is, and loading it
//! with test-sized settings; and, in [`store_fixtures`], what the store's bad-input tests share.

pub mod store_fixtures;

use std::path::PathBuf;

use keel::engine::{Engine, EngineConfig};

/// The model the end-to-end tests run on: `KEEL_MODEL`, else the default model in the
/// user's data directory (where `make test` fetches it).
pub fn model_path() -> PathBuf {
    if let Some(p) = std::env::var_os("KEEL_MODEL") {
        return PathBuf::from(p);
    }
    let home = keel::home::default_home().expect("a data directory for the default Keel home");
    keel::model_fetch::find_default_model(&home).expect(
        "the default model is missing: run `make test` (it runs `keel model fetch` first) or set KEEL_MODEL",
    )
}

/// Engine settings for tests: a small context and one thread per engine, so several test
/// engines fit side by side on a small machine.
pub fn test_config(n_ctx: u32) -> EngineConfig {
    EngineConfig {
        threads: 1,
        threads_batch: 1,
        n_ctx,
        ..EngineConfig::default()
    }
}

/// Load the real model with [`test_config`].
pub fn load_engine(n_ctx: u32) -> Engine {
    Engine::load(&model_path(), test_config(n_ctx)).expect("load the default model")
}

/// A personalized chat on the real model (1,024-token context) behind the default bundle,
/// with a fresh encrypted store in `dir` sealed under a fixed test key made of `key_byte`,
/// and a neutral population prior. Returns the chat and its store.
pub fn personal_chat(
    dir: &std::path::Path,
    key_byte: u8,
) -> (
    keel::runtime::PersonalChat,
    std::sync::Arc<keel::store::Store>,
) {
    use keel::store::{RawKeyProvider, SecretKey, Store};
    let store = std::sync::Arc::new(
        Store::open(
            &dir.join("keel.db"),
            &RawKeyProvider::new(SecretKey::from_bytes([key_byte; 32])),
        )
        .expect("open the store"),
    );
    let slot = keel::runtime::BundleChoice::Default
        .load(
            &keel::safety::VerifyPolicy::now(),
            &keel::safety::MemoryRollbackStore::default(),
        )
        .expect("the default bundle");
    let chat = keel::runtime::PersonalChat::new(
        std::sync::Arc::new(load_engine(1024)),
        slot,
        std::sync::Arc::clone(&store),
        keel::prefs::PopulationPrior::neutral(0),
        keel::prefs::LearnerConfig::default(),
    )
    .expect("a personal chat");
    (chat, store)
}
