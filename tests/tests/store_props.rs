//! Property tests of the store through its public API: whatever is written reads back
//! unchanged under the right user only, and any single altered byte of any sealed record makes
//! exactly that record corrupt.

use proptest::prelude::*;

use keel::store::{NewEvent, RawKeyProvider, SecretKey, Store};

fn store(dir: &tempfile::TempDir) -> Store {
    Store::open(
        &dir.path().join("keel.db"),
        &RawKeyProvider::new(SecretKey::from_bytes([11; 32])),
    )
    .expect("open")
}

type EventSpec = (String, Option<String>, Vec<u8>);

fn events() -> impl Strategy<Value = Vec<EventSpec>> {
    proptest::collection::vec(
        (
            "[a-z_]{1,16}",
            proptest::option::of("\\PC{1,24}"),
            proptest::collection::vec(any::<u8>(), 0..400),
        ),
        1..12,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn events_round_trip_per_user(user_a in "\\PC{1,40}", user_b in "\\PC{1,40}", evs in events()) {
        prop_assume!(user_a != user_b);
        let dir = tempfile::tempdir().expect("tempdir");
        let s = store(&dir);
        for (kind, ctx, body) in &evs {
            let mut e = NewEvent::new(kind, body);
            e.context = ctx.as_deref();
            s.add_event(&user_a, &e).expect("add");
        }
        s.add_event(&user_b, &NewEvent::new("other", b"b")).expect("add b");
        let listed = s.list_events(&user_a).expect("list");
        prop_assert!(listed.corrupt.is_empty());
        prop_assert_eq!(listed.items.len(), evs.len());
        for (got, (kind, ctx, body)) in listed.items.iter().zip(&evs) {
            prop_assert_eq!(&got.kind, kind);
            prop_assert_eq!(&got.context, ctx);
            prop_assert_eq!(&got.body, body);
        }
        prop_assert_eq!(s.list_events(&user_b).expect("list b").items.len(), 1);
    }

    #[test]
    fn one_altered_byte_makes_exactly_that_record_corrupt(evs in events(),
                                                          which in any::<prop::sample::Index>(),
                                                          pos in any::<prop::sample::Index>(),
                                                          bit in 0u8..8) {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("keel.db");
        let mut ids = Vec::new();
        {
            let s = store(&dir);
            for (kind, _, body) in &evs {
                ids.push(s.add_event("ana", &NewEvent::new(kind, body)).expect("add"));
            }
        }
        let victim = ids[which.index(ids.len())];
        let conn = rusqlite::Connection::open(&db).expect("open");
        let mut blob: Vec<u8> = conn
            .query_row("SELECT sealed FROM events WHERE id = ?1", [victim], |r| r.get(0))
            .expect("blob");
        let i = pos.index(blob.len());
        blob[i] ^= 1 << bit;
        conn.execute("UPDATE events SET sealed = ?1 WHERE id = ?2", rusqlite::params![blob, victim])
            .expect("alter");
        drop(conn);
        let listed = store(&dir).list_events("ana").expect("list");
        prop_assert_eq!(listed.corrupt, vec![victim]);
        prop_assert_eq!(listed.items.len(), evs.len() - 1);
    }
}
