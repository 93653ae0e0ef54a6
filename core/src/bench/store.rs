//! Store measurements for `keel bench`: a sealed event write (the store's whole write path:
//! blind-index lookup, sealing, one IMMEDIATE transaction committed with fsync) against the
//! same commit of an unsealed row of the same size through plain rusqlite, with the same
//! connection settings, interleaved in the same run; plus profile load, open and KDF times.

use std::path::Path;
use std::time::Instant;

use rusqlite::{Connection, TransactionBehavior};

use crate::store::{
    KeyProvider, NewEvent, PassphraseKeyProvider, RawKeyProvider, SecretKey, SecretString, Store,
    StoreError,
};

/// Store figures, in milliseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoreBench {
    /// Median time to commit one sealed 300-byte event.
    pub store_write_p50_ms: f64,
    /// 99th percentile time to commit one sealed 300-byte event.
    pub store_write_p99_ms: f64,
    /// 99th percentile time to commit an unsealed row of the same size with plain rusqlite.
    pub sqlite_plain_write_p99_ms: f64,
    /// Median time to load and decrypt a 4 KiB profile snapshot.
    pub profile_load_ms: f64,
    /// Median time to open an existing store with a raw key (no KDF).
    pub store_open_ms: f64,
    /// Time of the passphrase KDF at the default cost (PBKDF2-HMAC-SHA256, 600,000 iterations).
    pub kdf_ms: f64,
}

const USER: &str = "bench-user";
const EVENT_BODY_LEN: usize = 300;
const PROFILE_LEN: usize = 4096;

fn ms(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1000.0
}

/// The `q` quantile (0..=1) of `v` (sorted in place), nearest-rank.
fn quantile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn remove_db(path: &Path) -> Result<(), StoreError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StoreError::Io {
                    context: "removing an old benchmark database",
                    source,
                })
            }
        }
    }
    Ok(())
}

/// Run the store benchmark in `dir` (created if needed; its benchmark files are replaced and
/// removed afterwards) with `iterations` writes of each kind (at least 10).
pub fn measure(dir: &Path, iterations: usize) -> Result<StoreBench, StoreError> {
    let iterations = iterations.max(10);
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
        context: "creating the benchmark directory",
        source,
    })?;
    let sealed_path = dir.join("bench-sealed.db");
    let plain_path = dir.join("bench-plain.db");
    remove_db(&sealed_path)?;
    remove_db(&plain_path)?;

    let key = SecretKey::random()?;
    let raw = RawKeyProvider::new(SecretKey::from_bytes(*key.expose_secret()));
    let store = Store::open(&sealed_path, &raw)?;
    let body = vec![b'x'; EVENT_BODY_LEN];
    let event = NewEvent::new("rating", &body).with_turn("turn-00000000");
    // Creates the user, so that the timed writes are steady-state writes.
    store.add_event(USER, &event)?;

    let mut plain = Connection::open(&plain_path)?;
    crate::store::configure(&plain)?;
    plain.execute_batch(
        "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT NULL, \
         sealed BLOB NOT NULL) STRICT; CREATE INDEX events_by_user ON events (user_id, id);",
    )?;
    let row = vec![b'y'; crate::store::sealed_event_len(&event)?];
    let plain_write = |conn: &mut Connection| -> Result<f64, StoreError> {
        let t = Instant::now();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.prepare_cached("INSERT INTO events (user_id, sealed) VALUES (1, ?1)")?
            .execute([row.as_slice()])?;
        tx.commit()?;
        Ok(ms(t))
    };
    plain_write(&mut plain)?;

    let mut sealed_times = Vec::with_capacity(iterations);
    let mut plain_times = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let sealed_write = |times: &mut Vec<f64>| -> Result<(), StoreError> {
            let t = Instant::now();
            store.add_event(USER, &event)?;
            times.push(ms(t));
            Ok(())
        };
        if i % 2 == 0 {
            sealed_write(&mut sealed_times)?;
            plain_times.push(plain_write(&mut plain)?);
        } else {
            plain_times.push(plain_write(&mut plain)?);
            sealed_write(&mut sealed_times)?;
        }
    }

    let profile = vec![b'p'; PROFILE_LEN];
    store.save_profile(USER, &profile)?;
    let loads = (iterations / 4).max(20);
    let mut load_times = Vec::with_capacity(loads);
    for _ in 0..loads {
        let t = Instant::now();
        let p = store.load_profile(USER)?;
        load_times.push(ms(t));
        if p.map(|p| p.body.len()) != Some(PROFILE_LEN) {
            return Err(StoreError::CorruptState("benchmark profile"));
        }
    }
    drop(store);

    let mut open_times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let s = Store::open(&sealed_path, &raw)?;
        open_times.push(ms(t));
        drop(s);
    }

    let kdf = PassphraseKeyProvider::new(SecretString::new("benchmark passphrase".to_owned()));
    let params = kdf.new_params()?;
    let t = Instant::now();
    let _master = kdf.unlock(&params)?;
    let kdf_ms = ms(t);

    drop(plain);
    remove_db(&sealed_path)?;
    remove_db(&plain_path)?;
    Ok(StoreBench {
        store_write_p50_ms: quantile(&mut sealed_times.clone(), 0.5),
        store_write_p99_ms: quantile(&mut sealed_times, 0.99),
        sqlite_plain_write_p99_ms: quantile(&mut plain_times, 0.99),
        profile_load_ms: quantile(&mut load_times, 0.5),
        store_open_ms: quantile(&mut open_times, 0.5),
        kdf_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.5), 50.0);
        assert_eq!(quantile(&mut v, 0.99), 99.0);
        assert_eq!(quantile(&mut [], 0.5), 0.0);
    }

    #[test]
    fn measure_reports_positive_figures() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = measure(dir.path(), 10).expect("bench");
        assert!(b.store_write_p50_ms > 0.0 && b.store_write_p99_ms >= b.store_write_p50_ms);
        assert!(b.sqlite_plain_write_p99_ms > 0.0);
        assert!(b.profile_load_ms > 0.0 && b.store_open_ms > 0.0 && b.kdf_ms > 0.0);
        let json = serde_json::to_value(&b).expect("json");
        for k in [
            "store_write_p50_ms",
            "store_write_p99_ms",
            "sqlite_plain_write_p99_ms",
            "profile_load_ms",
            "store_open_ms",
            "kdf_ms",
        ] {
            assert!(json.get(k).is_some(), "{k}");
        }
        assert!(!dir.path().join("bench-sealed.db").exists());
    }
}
