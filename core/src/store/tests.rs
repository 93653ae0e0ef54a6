//! Store unit tests that need the crate's internals (a chosen schema version, the raw
//! connection to simulate a full disk). Black-box tests live in tests/tests/store_*.rs.

use super::*;

fn raw(byte: u8) -> RawKeyProvider {
    RawKeyProvider::new(SecretKey::from_bytes([byte; 32]))
}

#[test]
fn round_trip_events_profile_turns_audit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("s.db"), &raw(1)).expect("open");
    let id = store
        .add_event(
            "ana",
            &NewEvent::new("rating", b"{\"r\":5}")
                .with_turn("t1")
                .with_context("cooking"),
        )
        .expect("event");
    store
        .add_statement("ana", "short answers please", None)
        .expect("statement");
    let events = store.list_events("ana").expect("list");
    assert!(events.corrupt.is_empty());
    assert_eq!(events.items.len(), 2);
    assert_eq!(events.items[0].id, id);
    assert_eq!(events.items[0].kind, "rating");
    assert_eq!(events.items[0].turn_id.as_deref(), Some("t1"));
    assert_eq!(events.items[0].context.as_deref(), Some("cooking"));
    assert_eq!(events.items[0].body, b"{\"r\":5}");
    assert_eq!(events.items[1].kind, EVENT_KIND_STATEMENT);
    assert_eq!(
        store
            .list_events_after("ana", id)
            .expect("after")
            .items
            .len(),
        1
    );
    assert_eq!(store.list_events("bob").expect("none"), Listing::default());

    assert_eq!(store.load_profile("ana").expect("load"), None);
    assert_eq!(store.save_profile("ana", b"p1").expect("save"), 1);
    assert_eq!(store.save_profile("ana", b"p2").expect("save"), 2);
    let p = store.load_profile("ana").expect("load").expect("some");
    assert_eq!((p.revision, p.body.as_slice()), (2, b"p2".as_slice()));

    store.record_turn("ana", "turn-9", b"report").expect("turn");
    store
        .record_turn("ana", "turn-9", b"report2")
        .expect("turn again");
    let t = store
        .load_turn("ana", "turn-9")
        .expect("load")
        .expect("some");
    assert_eq!(
        (t.turn_id.as_str(), t.body.as_slice()),
        ("turn-9", b"report2".as_slice())
    );
    assert_eq!(store.load_turn("ana", "turn-0").expect("load"), None);
    assert_eq!(store.list_turns("ana").expect("turns").items.len(), 1);

    store
        .append_audit("ana", "something happened")
        .expect("audit");
    assert_eq!(
        store.list_audit("ana").expect("audit").items[0].text,
        "something happened"
    );

    let s = store.summary("ana").expect("summary");
    assert_eq!(
        (
            s.exists,
            s.events,
            s.turns,
            s.audit_entries,
            s.profile_revision
        ),
        (true, 2, 1, 1, Some(2))
    );
    assert!(!store.summary("bob").expect("summary").exists);
    assert!(store.integrity_check().expect("check").is_ok());
    assert!(matches!(
        store.add_event("", &NewEvent::new("k", b"")),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.add_event("ana", &NewEvent::new("", b"")),
        Err(StoreError::Invalid(_))
    ));
}

#[test]
fn upgrade_from_v1_keeps_data_and_equals_a_fresh_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = dir.path().join("old.db");
    {
        let store = Store::open_at_version(&old, &raw(2), 1).expect("open at v1");
        assert_eq!(store.with_conn(schema::user_version).expect("v"), 1);
        store.add_statement("ana", "be brief", None).expect("event");
        store.save_profile("ana", b"profile").expect("profile");
    }
    let store = Store::open(&old, &raw(2)).expect("upgrade");
    assert_eq!(
        store.with_conn(schema::user_version).expect("v"),
        schema::CURRENT_VERSION
    );
    assert_eq!(
        store.list_events("ana").expect("list").items[0].body,
        b"be brief"
    );
    assert_eq!(
        store.load_profile("ana").expect("load").expect("some").body,
        b"profile"
    );
    store.record_turn("ana", "t", b"x").expect("v2 table works");

    let fresh = Store::open(&dir.path().join("fresh.db"), &raw(2)).expect("fresh");
    let dump = |s: &Store| {
        s.with_conn(|c| {
            let mut stmt = c
                .prepare(
                    "SELECT type, name, COALESCE(sql, '') FROM sqlite_master ORDER BY type, name",
                )
                .expect("prepare");
            let rows: Vec<(String, String, String)> = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .expect("query")
                .collect::<Result<_, _>>()
                .expect("rows");
            rows
        })
    };
    assert_eq!(dump(&store), dump(&fresh));
}

#[test]
fn disk_full_rolls_back_the_whole_transaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("s.db"), &raw(3)).expect("open");
    store.add_statement("ana", "first", None).expect("event");
    // Cap the database at its current size: the next commit that needs a page fails as a
    // full disk would.
    store.with_conn(|c| {
        let pages: i64 = c
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .expect("pages");
        c.pragma_update(None, "max_page_count", pages).expect("cap");
    });
    let big = vec![7u8; 256 * 1024];
    let err = store
        .add_event("newuser", &NewEvent::new("blob", &big))
        .expect_err("must not fit");
    assert!(matches!(err, StoreError::DiskFull), "{err}");
    // Nothing half-applied: the new user (created in the same transaction) does not exist.
    assert!(!store.user_exists("newuser").expect("exists"));
    assert_eq!(store.list_events("ana").expect("list").items.len(), 1);
    store.with_conn(|c| {
        c.pragma_update(None, "max_page_count", 1_000_000)
            .expect("uncap")
    });
    store
        .add_event("newuser", &NewEvent::new("blob", &big))
        .expect("fits now");
    assert!(store.integrity_check().expect("check").is_ok());
}

#[test]
fn change_key_rewraps_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let p1 = PassphraseKeyProvider::insecure_for_tests(SecretString::new("one".into()), 10);
    let p2 = PassphraseKeyProvider::insecure_for_tests(SecretString::new("two".into()), 20);
    {
        let store = Store::open(&path, &p1).expect("open");
        store.add_statement("ana", "hello", None).expect("event");
        let before: Vec<u8> = store
            .with_conn(|c| c.query_row("SELECT sealed FROM events", [], |r| r.get(0)))
            .expect("sealed");
        store.change_key(&p2).expect("rekey");
        let after: Vec<u8> = store
            .with_conn(|c| c.query_row("SELECT sealed FROM events", [], |r| r.get(0)))
            .expect("sealed");
        assert_eq!(before, after, "records are not re-encrypted");
        assert_eq!(store.kdf_params().expect("params").1.iterations, 20);
    }
    assert!(matches!(Store::open(&path, &p1), Err(StoreError::WrongKey)));
    let store = Store::open(&path, &p2).expect("new passphrase opens");
    assert_eq!(
        store.list_events("ana").expect("list").items[0].body,
        b"hello"
    );
}

#[test]
fn store_is_send_and_sync_and_debug_shows_no_secrets() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("s.db"), &raw(9)).expect("open");
    store
        .add_statement("secret-name", "secret-statement", None)
        .expect("event");
    let dbg = format!("{store:?}");
    assert!(!dbg.contains("secret"), "{dbg}");
}

#[cfg(unix)]
#[test]
fn new_store_files_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store").join("keel.db");
    let store = Store::open(&path, &raw(10)).expect("open");
    store.add_statement("ana", "x", None).expect("event");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.path().join("store")), 0o700);
    assert_eq!(mode(&dir.path().join("store").join("keel.db-wal")), 0o600);
}

#[test]
fn a_handle_opened_before_a_rekey_elsewhere_refuses_to_create_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.db");
    let old = Store::open(&path, &raw(20)).expect("open");
    old.add_statement("ana", "x", None).expect("event");
    let other = Store::open(&path, &raw(20)).expect("second handle");
    other.change_key(&raw(21)).expect("rekey");
    // Existing users' data keys did not change, so writes for them are still fine...
    old.add_statement("ana", "y", None).expect("existing user");
    // ...but a new key wrapped under the old master would be unreadable: refused.
    let err = old
        .add_statement("bob", "z", None)
        .expect_err("stale master");
    assert!(matches!(err, StoreError::Rekeyed), "{err}");
    assert!(matches!(old.change_key(&raw(22)), Err(StoreError::Rekeyed)));
    drop((old, other));
    let store = Store::open(&path, &raw(21)).expect("new key");
    assert_eq!(store.list_events("ana").expect("list").items.len(), 2);
    assert!(!store.user_exists("bob").expect("bob"));
}
