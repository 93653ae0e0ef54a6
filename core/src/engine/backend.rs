//! The process-wide llama.cpp backend. `LlamaBackend::init` succeeds once per process, so
//! every engine, benchmark and test in a process shares this one.

use std::sync::OnceLock;

use llama_cpp_2::llama_backend::LlamaBackend;

use crate::engine::EngineError;

static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

/// The shared backend, initialised on first use. llama.cpp's own logs are routed to
/// `tracing` (target `llama-cpp-2`), so they appear only at the verbosity a front end asks for.
pub fn shared_backend() -> Result<&'static LlamaBackend, EngineError> {
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|reason| EngineError::Backend(reason.clone()))
}
