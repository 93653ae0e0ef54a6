//! A cheap check of a model file before llama.cpp sees it: it exists, it is a GGUF (magic
//! bytes and a known version), and it is not obviously cut short. llama.cpp then checks the
//! tensors themselves; this catches the common mistakes with a clear error.

use std::io::Read;
use std::path::Path;

use crate::engine::EngineError;

const GGUF_MAGIC: &[u8; 4] = b"GGUF";
/// Magic (4) + version (4) + tensor count (8) + metadata count (8).
const HEADER_LEN: usize = 24;

/// Check that `path` looks like a complete GGUF file.
pub fn check_gguf_file(path: &Path) -> Result<(), EngineError> {
    let read_err = |source| EngineError::ReadModel {
        path: path.to_path_buf(),
        source,
    };
    if !path.exists() {
        return Err(EngineError::ModelNotFound(path.to_path_buf()));
    }
    let mut file = std::fs::File::open(path).map_err(read_err)?;
    let len = file.metadata().map_err(read_err)?.len();
    let mut header = [0u8; HEADER_LEN];
    let got = read_up_to(&mut file, &mut header).map_err(read_err)?;
    if got < GGUF_MAGIC.len() || &header[..4] != GGUF_MAGIC {
        return Err(EngineError::NotGguf(path.to_path_buf()));
    }
    let damaged = |reason: String| EngineError::DamagedGguf {
        path: path.to_path_buf(),
        reason,
    };
    if got < HEADER_LEN {
        return Err(damaged(format!(
            "only {len} bytes, shorter than a GGUF header"
        )));
    }
    let version = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if !(2..=3).contains(&version) {
        return Err(damaged(format!("unsupported GGUF version {version}")));
    }
    let tensors = u64::from_le_bytes(
        header[8..16]
            .try_into()
            .map_err(|_| damaged("header".into()))?,
    );
    if tensors == 0 {
        return Err(damaged("it holds no tensors".into()));
    }
    Ok(())
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().expect("tempfile");
        std::fs::write(f.path(), bytes).expect("write");
        f
    }

    #[test]
    fn missing_file() {
        let err = check_gguf_file(Path::new("/nonexistent/model.gguf")).expect_err("missing");
        assert!(matches!(err, EngineError::ModelNotFound(_)));
        assert!(err.to_string().contains("keel model fetch"));
    }

    #[test]
    fn not_a_gguf() {
        let f = write(b"PK\x03\x04 this is a zip, not a model");
        assert!(matches!(
            check_gguf_file(f.path()),
            Err(EngineError::NotGguf(_))
        ));
        let f = write(b"");
        assert!(matches!(
            check_gguf_file(f.path()),
            Err(EngineError::NotGguf(_))
        ));
    }

    #[test]
    fn short_header_and_bad_version() {
        let f = write(b"GGUF\x03\x00");
        let mut h = b"GGUF".to_vec();
        h.extend_from_slice(&99u32.to_le_bytes());
        h.extend_from_slice(&[1u8; 16]);
        assert!(matches!(
            check_gguf_file(f.path()),
            Err(EngineError::DamagedGguf { .. })
        ));
        let f = write(&h);
        assert!(matches!(
            check_gguf_file(f.path()),
            Err(EngineError::DamagedGguf { .. })
        ));
    }
}
