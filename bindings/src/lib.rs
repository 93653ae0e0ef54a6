//! `keel-ffi`: the uniffi bindings (Kotlin, Swift, Python) over the `keel` crate.
//!
//! This crate holds no logic: each exported object wraps one `keel` type and each method is
//! one call. It is filled in by the bindings issue; until then it only re-exports the crate's
//! version so the workspace layout is complete.

/// The version of the Keel runtime these bindings wrap.
pub fn keel_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
