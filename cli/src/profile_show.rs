//! `keel profile show`: what the store holds for a person (counts, stated preferences, the
//! profile in words and the learner state), as text or JSON.

use keel::prefs::ContextKey;
use keel::store::{store_path, StoreError, EVENT_KIND_STATEMENT};
use serde_json::json;

use crate::error::CliError;
use crate::globals::Globals;
use crate::store_access::{open_store, print_json};

pub(crate) fn show(user: &str, context: Option<&ContextKey>, g: &Globals) -> Result<(), CliError> {
    let Some(store) = open_store(&g.home, false)? else {
        if g.json {
            return print_json(&json!({ "exists": false }));
        }
        println!(
            "Nothing is stored yet (no store at {}).",
            store_path(&g.home).display()
        );
        return Ok(());
    };
    let summary = store.summary(user)?;
    let events = store.list_events(user)?;
    let profile = match store.load_profile(user) {
        Ok(p) => p,
        Err(StoreError::CorruptRecord { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    let statements: Vec<_> = events
        .items
        .iter()
        .filter(|e| e.kind == EVENT_KIND_STATEMENT)
        .collect();
    let (words, preferences) = if summary.exists {
        crate::profile_edit::describe(store, user, context)?
    } else {
        (Vec::new(), json!([]))
    };
    let profile_json = profile.as_ref().map(|p| {
        let body = serde_json::from_slice::<serde_json::Value>(&p.body)
            .unwrap_or_else(|_| json!({ "hex": hex::encode(&p.body) }));
        json!({ "revision": p.revision, "saved_at_ms": p.saved_at_ms, "body": body })
    });
    if g.json {
        return print_json(&json!({
            "exists": summary.exists,
            "events": summary.events,
            "turns": summary.turns,
            "audit_entries": summary.audit_entries,
            "statements": statements.iter().map(|e| json!({
                "id": e.id,
                "at_ms": e.at_ms,
                "context": e.context,
                "text": String::from_utf8_lossy(&e.body),
            })).collect::<Vec<_>>(),
            "profile": profile_json,
            "preferences": preferences,
            "corrupt_events": events.corrupt,
        }));
    }
    if !summary.exists {
        println!("Nothing is stored for that person.");
        return Ok(());
    }
    println!(
        "{} events, {} turns, {} audit entries.",
        summary.events, summary.turns, summary.audit_entries
    );
    if statements.is_empty() {
        println!("No stated preferences.");
    } else {
        println!("Stated preferences:");
        for e in &statements {
            let ctx = e
                .context
                .as_deref()
                .map(|c| format!("  [context: {c}]"))
                .unwrap_or_default();
            println!("  #{} {}{ctx}", e.id, String::from_utf8_lossy(&e.body));
        }
    }
    match context {
        Some(c) => println!("Preferences in the context {:?}:", c.as_str()),
        None => println!("Preferences:"),
    }
    for line in &words {
        println!("  {line}");
    }
    if let Some(p) = &profile_json {
        println!("(learner state revision {})", p["revision"]);
    }
    if !events.corrupt.is_empty() {
        println!(
            "Warning: {} records failed to authenticate and were not shown (ids {:?}).",
            events.corrupt.len(),
            events.corrupt
        );
    }
    Ok(())
}
