//! Tampered records: a flipped byte in a sealed record, or a record moved to another row or
//! user, makes exactly that record a clear error naming it, never its data; everything else
//! still reads.

use keel::store::{Store, StoreError};
use keel_tests::store_fixtures::{db_in, event_ids, populated, raw, sql};

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
