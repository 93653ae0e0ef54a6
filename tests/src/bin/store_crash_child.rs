//! A child process for the store's crash-safety test: it opens the store given on the command
//! line with a raw key and writes events forever, printing the number of each event on its own
//! line after the event's transaction has committed. The test kills it with SIGKILL.
//!
//! Usage: `store_crash_child DB_PATH HEX_KEY USER FIRST_NUMBER`

use std::io::Write as _;

use keel::store::{NewEvent, RawKeyProvider, SecretKey, Store};

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: store_crash_child DB_PATH HEX_KEY USER FIRST_NUMBER");
        return std::process::ExitCode::from(2);
    }
    let key = SecretKey::from_hex(&args[2]).expect("a 64-hex-digit key");
    let first: u64 = args[4].parse().expect("a number");
    let store = Store::open(std::path::Path::new(&args[1]), &RawKeyProvider::new(key))
        .expect("the store opens");
    let mut out = std::io::stdout().lock();
    for n in first..first + 1_000_000 {
        let body = format!("crash-event-{n}");
        store
            .add_event(&args[3], &NewEvent::new("crash", body.as_bytes()))
            .expect("the event commits");
        writeln!(out, "{n}").expect("report");
        out.flush().expect("flush");
    }
    std::process::ExitCode::SUCCESS
}
