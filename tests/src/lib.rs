//! Shared helpers for the end-to-end tests: where the real default model is, and loading it
//! with test-sized settings.

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
