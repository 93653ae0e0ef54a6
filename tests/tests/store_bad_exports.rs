//! Bad exports and forgetting: forgetting a person shreds their keys and rows while an
//! earlier export still needs its own passphrase; tampered, truncated or unknown-version
//! exports are refused; and errors never contain user text.

use keel::store::{NewEvent, SecretString, Store, StoreError};
use keel_tests::store_fixtures::{db_in, export_pass, pass, populated, raw, sql};

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
