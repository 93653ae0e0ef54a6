//! Bad model files give clear errors, never a crash: missing, not a GGUF, truncated.

use std::io::Read;

use keel::engine::{Engine, EngineConfig, EngineError};
use keel_tests::model_path;

#[test]
fn a_missing_model_file_says_how_to_get_one() {
    let err = Engine::load(
        std::path::Path::new("/nonexistent/dir/model.gguf"),
        EngineConfig::default(),
    )
    .expect_err("missing");
    assert!(matches!(err, EngineError::ModelNotFound(_)));
    assert!(err.to_string().contains("keel model fetch"));
}

#[test]
fn a_file_that_is_not_a_gguf_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("notes.gguf");
    std::fs::write(&path, "these are not weights").expect("write");
    let err = Engine::load(&path, EngineConfig::default()).expect_err("not gguf");
    assert!(matches!(err, EngineError::NotGguf(_)), "{err:?}");
}

#[test]
fn a_truncated_gguf_is_refused_without_crashing() {
    let dir = tempfile::tempdir().expect("dir");
    let mut head = Vec::new();
    std::fs::File::open(model_path())
        .expect("open model")
        .take(4 * 1024 * 1024)
        .read_to_end(&mut head)
        .expect("read");
    for (name, len) in [("header-only.gguf", 64usize), ("cut.gguf", head.len())] {
        let path = dir.path().join(name);
        std::fs::write(&path, &head[..len]).expect("write");
        let err = Engine::load(&path, EngineConfig::default()).expect_err("truncated");
        assert!(
            matches!(
                err,
                EngineError::LoadModel { .. } | EngineError::DamagedGguf { .. }
            ),
            "{name}: {err:?}"
        );
    }
}
