//! Bad input and faults: a clear error, nothing lost, nothing leaked. (A full disk is tested
//! inside the crate, where the test can cap the database size: core/src/store/tests.rs.)

use std::path::{Path, PathBuf};

use keel::store::{
    ExportPassphrase, NewEvent, PassphraseKeyProvider, RawKeyProvider, SecretKey, SecretString,
    Store, StoreError,
};

fn pass(p: &str) -> PassphraseKeyProvider {
    PassphraseKeyProvider::insecure_for_tests(SecretString::new(p.into()), 1000)
}

fn raw(b: u8) -> RawKeyProvider {
    RawKeyProvider::new(SecretKey::from_bytes([b; 32]))
}

fn export_pass(p: &str) -> ExportPassphrase {
    ExportPassphrase::insecure_for_tests(SecretString::new(p.into()), 1000)
}

fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("keel.db")
}

fn sql(db: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(db).expect("open with plain rusqlite")
}

/// A store with two users, a few events each, a profile and a turn; closed (checkpointed).
fn populated(db: &Path, keys: &dyn keel::store::KeyProvider) {
    let store = Store::open(db, keys).expect("create");
    for user in ["ana", "bob"] {
        for i in 0..5 {
            store
                .add_event(
                    user,
                    &NewEvent::new("rating", format!("{user}-{i}").as_bytes()),
                )
                .expect("event");
        }
        store
            .save_profile(user, format!("{user}-profile").as_bytes())
            .expect("profile");
        store.record_turn(user, "t1", b"turn").expect("turn");
    }
}

fn event_ids(db: &Path, user_id: i64) -> Vec<i64> {
    let c = sql(db);
    let mut stmt = c
        .prepare("SELECT id FROM events WHERE user_id = ?1 ORDER BY id")
        .expect("prepare");
    let ids = stmt
        .query_map([user_id], |r| r.get(0))
        .expect("query")
        .collect::<Result<Vec<i64>, _>>()
        .expect("ids");
    ids
}

#[test]
fn wrong_passphrase_is_wrong_key_and_leaves_the_file_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    populated(&db, &pass("right"));
    let before = std::fs::read(&db).expect("read");
    let err = Store::open(&db, &pass("wrong")).expect_err("wrong passphrase");
    assert!(matches!(err, StoreError::WrongKey), "{err}");
    assert!(!err.to_string().contains("wrong\""));
    let err = Store::open(&db, &raw(1)).expect_err("another kind of key");
    assert!(matches!(err, StoreError::WrongKey), "{err}");
    assert_eq!(
        std::fs::read(&db).expect("read"),
        before,
        "the file was modified"
    );
    // The right passphrase still works afterwards.
    let store = Store::open(&db, &pass("right")).expect("right passphrase");
    assert_eq!(store.list_events("ana").expect("list").items.len(), 5);
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    for content in [
        b"this is a text file, not a database at all; it is long enough to have a header ........ and more ........".to_vec(),
        b"short".to_vec(),
        vec![0u8; 4096],
    ] {
        std::fs::write(&db, &content).expect("write");
        let err = Store::open(&db, &raw(1)).expect_err("not a database");
        assert!(matches!(err, StoreError::NotADatabase(_)), "{err}");
        assert_eq!(std::fs::read(&db).expect("read"), content);
    }
}

#[test]
fn another_sqlite_database_is_refused_and_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    sql(&db)
        .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x');")
        .expect("foreign db");
    let before = std::fs::read(&db).expect("read");
    let err = Store::open(&db, &raw(1)).expect_err("not a keel store");
    assert!(matches!(err, StoreError::NotAKeelStore), "{err}");
    assert_eq!(std::fs::read(&db).expect("read"), before);
}

#[test]
fn a_truncated_database_is_refused_and_not_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    {
        let store = Store::open(&db, &raw(2)).expect("create");
        let body = vec![b'z'; 2000];
        for _ in 0..100 {
            store
                .add_event("ana", &NewEvent::new("big", &body))
                .expect("event");
        }
    }
    let full = std::fs::read(&db).expect("read");
    assert!(full.len() > 64 * 1024);
    for len in [full.len() / 2, 4096 + 100, 50] {
        std::fs::write(&db, &full[..len]).expect("truncate");
        let err = Store::open(&db, &raw(2)).expect_err("truncated");
        assert!(
            matches!(err, StoreError::NotADatabase(_)),
            "len {len}: {err}"
        );
        assert_eq!(std::fs::read(&db).expect("read").len(), len, "overwritten");
    }
}

#[test]
fn a_flipped_byte_in_one_record_reports_that_record_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    populated(&db, &raw(3));
    let ana_ids = event_ids(&db, 1);
    let victim = ana_ids[2];
    // Find the record's ciphertext in the database file and flip one byte in its middle.
    let blob: Vec<u8> = sql(&db)
        .query_row("SELECT sealed FROM events WHERE id = ?1", [victim], |r| {
            r.get(0)
        })
        .expect("blob");
    let mut file = std::fs::read(&db).expect("read");
    let at = file
        .windows(blob.len())
        .position(|w| w == blob.as_slice())
        .expect("the record is in the main file after close");
    file[at + blob.len() / 2] ^= 0x01;
    std::fs::write(&db, &file).expect("write");

    let store = Store::open(&db, &raw(3)).expect("open");
    let events = store.list_events("ana").expect("list");
    assert_eq!(events.corrupt, vec![victim]);
    assert_eq!(events.items.len(), 4);
    assert!(events.items.iter().all(|e| e.id != victim));
    assert_eq!(store.list_events("bob").expect("bob").items.len(), 5);
    let report = store.integrity_check().expect("check");
    assert!(
        report.sqlite_ok,
        "a flipped payload byte is not a structural error"
    );
    assert_eq!(report.corrupt.len(), 1);
    assert_eq!(
        (report.corrupt[0].table, report.corrupt[0].id),
        ("events", victim)
    );

    // The same for a profile: an error naming the record, never the data.
    drop(store);
    let c = sql(&db);
    let mut profile: Vec<u8> = c
        .query_row("SELECT sealed FROM profiles WHERE user_id = 2", [], |r| {
            r.get(0)
        })
        .expect("profile blob");
    profile[20] ^= 0x80;
    c.execute(
        "UPDATE profiles SET sealed = ?1 WHERE user_id = 2",
        [profile],
    )
    .expect("flip");
    drop(c);
    let store = Store::open(&db, &raw(3)).expect("open");
    let err = store.load_profile("bob").expect_err("corrupt profile");
    assert!(
        matches!(
            err,
            StoreError::CorruptRecord {
                table: "profiles",
                id: 2
            }
        ),
        "{err}"
    );
    assert!(store.load_profile("ana").expect("ana").is_some());
}

#[test]
fn records_moved_to_another_row_or_user_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    populated(&db, &raw(4));
    let ana = event_ids(&db, 1);
    let bob = event_ids(&db, 2);
    let c = sql(&db);
    // Another row of the same user.
    c.execute(
        "UPDATE events SET sealed = (SELECT sealed FROM events WHERE id = ?1) WHERE id = ?2",
        [ana[0], ana[1]],
    )
    .expect("copy row");
    // Another user's row.
    c.execute(
        "UPDATE events SET sealed = (SELECT sealed FROM events WHERE id = ?1) WHERE id = ?2",
        [ana[0], bob[0]],
    )
    .expect("copy to bob");
    // A profile onto another user, a turn record onto another user.
    c.execute(
        "UPDATE profiles SET sealed = (SELECT sealed FROM profiles WHERE user_id = 1) WHERE user_id = 2",
        [],
    )
    .expect("copy profile");
    c.execute(
        "UPDATE turns SET sealed = (SELECT sealed FROM turns WHERE user_id = 1) WHERE user_id = 2",
        [],
    )
    .expect("copy turn");
    // Even moving a whole row (sealed blob and its id) to another user fails: the user is
    // bound too.
    c.execute("UPDATE events SET user_id = 2 WHERE id = ?1", [ana[4]])
        .expect("move row");
    drop(c);

    let store = Store::open(&db, &raw(4)).expect("open");
    let a = store.list_events("ana").expect("ana");
    assert_eq!(a.corrupt, vec![ana[1]]);
    assert_eq!(a.items.len(), 3);
    let b = store.list_events("bob").expect("bob");
    let mut expected = vec![bob[0], ana[4]];
    expected.sort_unstable();
    assert_eq!(b.corrupt, expected);
    assert!(matches!(
        store.load_profile("bob"),
        Err(StoreError::CorruptRecord {
            table: "profiles",
            ..
        })
    ));
    assert!(matches!(
        store.load_turn("bob", "t1"),
        Err(StoreError::CorruptRecord { table: "turns", .. })
    ));
    assert!(store.load_turn("ana", "t1").expect("ana turn").is_some());
    drop(store);

    // Swapping wrapped data keys between users: both users' records refuse to open.
    let c = sql(&db);
    c.execute_batch(
        "UPDATE users SET wrapped_key = (SELECT wrapped_key FROM users WHERE id = 2) WHERE id = 1;",
    )
    .expect("swap key");
    drop(c);
    let store = Store::open(&db, &raw(4)).expect("open");
    assert!(matches!(
        store.list_events("ana"),
        Err(StoreError::CorruptRecord {
            table: "users",
            id: 1
        })
    ));
    assert_eq!(store.list_events("bob").expect("bob").items.len(), 4);
}

#[test]
fn a_newer_schema_is_refused_without_downgrade() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    populated(&db, &raw(5));
    sql(&db)
        .pragma_update(None, "user_version", 99)
        .expect("bump");
    let before = std::fs::read(&db).expect("read");
    let err = Store::open(&db, &raw(5)).expect_err("too new");
    assert!(
        matches!(err, StoreError::TooNew { found: 99, supported } if supported < 99),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).expect("read"), before);
    let v: i64 = sql(&db)
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(v, 99);
}

#[test]
fn forget_shreds_keys_and_rows_but_an_earlier_export_needs_its_own_passphrase() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    populated(&db, &pass("store-pass"));
    let export = dir.path().join("ana.keelx");
    let (ana_index, ana_key): (Vec<u8>, Vec<u8>) = sql(&db)
        .query_row(
            "SELECT blind_index, wrapped_key FROM users WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("ana's key row");
    {
        let store = Store::open(&db, &pass("store-pass")).expect("open");
        let summary = store
            .export_user("ana", &export_pass("export-pass"), &export)
            .expect("export");
        assert_eq!(
            (summary.events, summary.turns, summary.profile),
            (5, 1, true)
        );
        assert!(store.forget("ana").expect("forget"));
        assert!(!store.forget("ana").expect("second forget"), "already gone");
        assert!(!store.user_exists("ana").expect("exists"));
        assert_eq!(store.list_events("ana").expect("list").items.len(), 0);
        assert_eq!(store.load_profile("ana").expect("profile"), None);
        assert_eq!(store.list_events("bob").expect("bob").items.len(), 5);
        assert_eq!(store.user_count().expect("count"), 1);
        // The blind index and wrapped key are gone from every file, WAL included.
        for entry in std::fs::read_dir(dir.path()).expect("dir") {
            let path = entry.expect("entry").path();
            if path == export {
                continue;
            }
            let bytes = std::fs::read(&path).expect("read");
            for needle in [&ana_index, &ana_key] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                    "forgotten key material still in {}",
                    path.display()
                );
            }
        }
    }
    let c = sql(&db);
    let rows: i64 = c
        .query_row(
            "SELECT (SELECT count(*) FROM events WHERE user_id = 1) + \
                    (SELECT count(*) FROM profiles WHERE user_id = 1) + \
                    (SELECT count(*) FROM turns WHERE user_id = 1) + \
                    (SELECT count(*) FROM audit WHERE user_id = 1) + \
                    (SELECT count(*) FROM users WHERE id = 1)",
            [],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(rows, 0);
    drop(c);

    // The export still needs its own passphrase: the store's does not open it.
    let other = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&db_in(&other), &raw(9)).expect("another device");
    let err = store
        .import_user("ana", &SecretString::new("store-pass".into()), &export)
        .expect_err("store passphrase must not open the export");
    assert!(matches!(err, StoreError::ExportUnreadable), "{err}");
    assert!(!store.user_exists("ana").expect("nothing imported"));
    let summary = store
        .import_user("ana", &SecretString::new("export-pass".into()), &export)
        .expect("import");
    assert_eq!(
        (summary.events, summary.turns, summary.profile),
        (5, 1, true)
    );
    let events = store.list_events("ana").expect("list");
    let bodies: Vec<_> = events.items.iter().map(|e| e.body.clone()).collect();
    assert_eq!(bodies[0], b"ana-0");
    assert_eq!(bodies.len(), 5);
    assert_eq!(
        store.load_profile("ana").expect("p").expect("some").body,
        b"ana-profile"
    );
    assert_eq!(
        store.load_turn("ana", "t1").expect("t").expect("some").body,
        b"turn"
    );
}

#[test]
fn tampered_truncated_or_unknown_version_exports_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&db_in(&dir), &raw(6)).expect("open");
    store.add_statement("ana", "hello", None).expect("event");
    let (bytes, _) = store
        .export_user_bytes("ana", &export_pass("pw"))
        .expect("export");
    let bytes = bytes.to_vec();
    let other = tempfile::tempdir().expect("tempdir");
    let target = Store::open(&db_in(&other), &raw(7)).expect("open");
    let pw = SecretString::new("pw".into());

    // Any flipped byte after the magic and version: refused.
    for i in [12, 16, 30, 40, bytes.len() / 2, bytes.len() - 1] {
        let mut t = bytes.clone();
        t[i] ^= 0x40;
        let err = target
            .import_user_bytes("ana", &pw, &t)
            .expect_err("tampered");
        assert!(
            matches!(err, StoreError::ExportUnreadable | StoreError::Invalid(_)),
            "byte {i}: {err}"
        );
    }
    let mut v2 = bytes.clone();
    v2[9] = 2;
    assert!(matches!(
        target.import_user_bytes("ana", &pw, &v2),
        Err(StoreError::ExportVersion {
            found: 2,
            supported: 1
        })
    ));
    assert!(matches!(
        target.import_user_bytes("ana", &pw, &bytes[..20]),
        Err(StoreError::NotAnExport)
    ));
    assert!(matches!(
        target.import_user_bytes("ana", &pw, &bytes[..bytes.len() - 5]),
        Err(StoreError::ExportUnreadable)
    ));
    assert!(matches!(
        target.import_user_bytes("ana", &pw, b"not an export at all, just some bytes here"),
        Err(StoreError::NotAnExport)
    ));
    assert!(!target.user_exists("ana").expect("nothing imported"));
    target
        .import_user_bytes("ana", &pw, &bytes)
        .expect("the untouched file imports");
    assert_eq!(
        target.list_events("ana").expect("list").items[0].body,
        b"hello"
    );
}

#[test]
fn errors_never_contain_user_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = db_in(&dir);
    let store = Store::open(&db, &raw(8)).expect("open");
    let secret_user = "user-name-that-must-not-leak";
    store
        .add_statement(secret_user, "statement-that-must-not-leak", None)
        .expect("event");
    let too_long = "x".repeat(300);
    let errors = [
        store
            .add_event(&too_long, &NewEvent::new("k", b""))
            .expect_err("long name"),
        store
            .import_user_bytes(
                secret_user,
                &SecretString::new("pw".into()),
                b"KEELEXP\0garbage-garbage-garbage",
            )
            .expect_err("bad export"),
    ];
    for e in errors {
        let text = format!("{e} {e:?}");
        assert!(
            !text.contains("must-not-leak") && !text.contains("xxxxxxxx"),
            "{text}"
        );
    }
}
