//! Bad database files: a wrong key, a file that is not SQLite, another SQLite database, a
//! truncated database and a newer schema are each a clear error, and the file is left as it
//! was. (A full disk is tested inside the crate, where the test can cap the database size:
//! core/src/store/tests.rs.)

use keel::store::{NewEvent, Store, StoreError};
use keel_tests::store_fixtures::{db_in, pass, populated, raw, sql};

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
