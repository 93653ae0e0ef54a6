//! No plaintext on disk: store known strings (user names, statements, feedback text, profile,
//! turn records, audit text, contexts, turn ids, passphrases), then scan every file in the
//! store directory — database, -wal, -shm and an export — for each of them: zero hits.

use std::path::Path;

use keel::store::{ExportPassphrase, NewEvent, PassphraseKeyProvider, SecretString, Store};

const USER_A: &str = "Zephyrine-Quillfeather";
const USER_B: &str = "Bartholomew-Ingleside";
const STATEMENT: &str = "I-prefer-answers-as-marmalade-haiku";
const FEEDBACK: &str = "feedback-text-octarine-was-too-long";
const CONTEXT: &str = "context-ochre-gardening";
const TURN_ID: &str = "turn-id-saffron-0042";
const TURN_BODY: &str = "turn-body-cerulean-report";
const PROFILE: &str = "profile-secret-vermilion";
const PASSPHRASE: &str = "passphrase-correct-horse-staple";
const EXPORT_PASSPHRASE: &str = "export-passphrase-battery-tangerine";

fn needles() -> Vec<&'static str> {
    vec![
        USER_A,
        USER_B,
        STATEMENT,
        FEEDBACK,
        CONTEXT,
        TURN_ID,
        TURN_BODY,
        PROFILE,
        PASSPHRASE,
        EXPORT_PASSPHRASE,
    ]
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Every file under `dir`, recursively, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push((
                path.display().to_string(),
                std::fs::read(&path).expect("read"),
            ));
        }
    }
    out
}

fn assert_no_plaintext(dir: &Path, stage: &str) -> usize {
    let all = files(dir);
    for (name, bytes) in &all {
        for needle in needles() {
            // Also look for the UTF-16 form, in case anything stored wide strings.
            let wide: Vec<u8> = needle.encode_utf16().flat_map(u16::to_le_bytes).collect();
            assert!(
                !contains(bytes, needle.as_bytes()) && !contains(bytes, &wide),
                "{stage}: plaintext found in {name}"
            );
        }
    }
    all.len()
}

#[test]
fn no_known_string_appears_in_any_store_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("keel.db");
    let keys =
        PassphraseKeyProvider::insecure_for_tests(SecretString::new(PASSPHRASE.into()), 1000);
    let store = Store::open(&db, &keys).expect("open");
    for user in [USER_A, USER_B] {
        store
            .add_statement(user, STATEMENT, Some(CONTEXT))
            .expect("statement");
        store
            .add_event(
                user,
                &NewEvent::new("rating", FEEDBACK.as_bytes())
                    .with_turn(TURN_ID)
                    .with_context(CONTEXT),
            )
            .expect("feedback");
        store
            .save_profile(user, format!("{{\"note\":\"{PROFILE}\"}}").as_bytes())
            .expect("profile");
        store
            .record_turn(user, TURN_ID, TURN_BODY.as_bytes())
            .expect("turn");
        store.append_audit(user, FEEDBACK).expect("audit");
    }
    let export = dir.path().join("export.keel");
    store
        .export_user(
            USER_A,
            &ExportPassphrase::insecure_for_tests(
                SecretString::new(EXPORT_PASSPHRASE.into()),
                1000,
            ),
            &export,
        )
        .expect("export");
    assert!(export.exists());

    // While the store is open the data sits in the WAL.
    let n = assert_no_plaintext(dir.path(), "while open");
    assert!(
        n >= 3,
        "expected the database, its WAL and the export, found {n} files"
    );
    let wal = dir.path().join("keel.db-wal");
    assert!(
        std::fs::metadata(&wal).expect("wal").len() > 0,
        "the scan must cover a non-empty WAL"
    );

    // The data really is there and readable with the key.
    assert_eq!(store.list_events(USER_A).expect("list").items.len(), 2);
    store.forget(USER_B).expect("forget");
    drop(store);

    assert_no_plaintext(dir.path(), "after close");
}
