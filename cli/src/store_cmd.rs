//! `keel profile ...` and `keel feedback`: the encrypted store from the command line.
//! Argument parsing, passphrase prompts and printing only; everything else is `keel::store`.
//!
//! The store is `<home>/store/keel.db`. Its passphrase comes from `KEEL_PASSPHRASE` or a
//! prompt on the terminal; export passphrases from `KEEL_EXPORT_PASSPHRASE` or a prompt.

use std::path::{Path, PathBuf};

use keel::store::{
    store_path, ExportPassphrase, PassphraseKeyProvider, SecretString, Store, StoreError,
    EVENT_KIND_STATEMENT,
};
use serde_json::json;

use crate::error::CliError;
use crate::globals::Globals;

/// `keel profile` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ProfileCmd {
    /// Show what the store holds for a person: stated preferences, the profile, counts.
    Show {
        /// The person.
        #[arg(long)]
        user: String,
    },
    /// Export a person's data to a file sealed with an export passphrase
    /// (KEEL_EXPORT_PASSPHRASE or a prompt).
    Export {
        /// The person.
        #[arg(long)]
        user: String,
        /// The export file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Import an export file into a person's data (events added, profile replaced).
    Import {
        /// The person to import into.
        #[arg(long)]
        user: String,
        /// The export file to read.
        #[arg(long)]
        file: PathBuf,
    },
    /// Forget a person: destroy their key and delete all their records.
    Forget {
        /// The person.
        #[arg(long)]
        user: String,
    },
}

/// `keel feedback` arguments.
#[derive(Debug, clap::Args)]
pub struct FeedbackArgs {
    /// The person giving feedback.
    #[arg(long)]
    user: String,
    /// An explicit preference statement, e.g. "keep answers short".
    #[arg(long)]
    statement: String,
    /// The context the statement applies to (e.g. "cooking"); all contexts if absent.
    #[arg(long)]
    context: Option<String>,
}

/// Read a secret from `env` or, failing that, prompt on the terminal (twice when `confirm`).
fn secret(env: &str, prompt: &str, confirm: bool) -> Result<SecretString, CliError> {
    if let Ok(v) = std::env::var(env) {
        if v.is_empty() {
            return Err(CliError::Usage(format!("{env} is set but empty")));
        }
        return Ok(SecretString::new(v));
    }
    let first = SecretString::new(
        rpassword::prompt_password(prompt)
            .map_err(|e| CliError::io(format!("reading the passphrase (or set {env})"), e))?,
    );
    if first.expose_secret().is_empty() {
        return Err(CliError::Usage("an empty passphrase is not allowed".into()));
    }
    if confirm {
        let again = SecretString::new(
            rpassword::prompt_password("Repeat it: ")
                .map_err(|e| CliError::io("reading the passphrase", e))?,
        );
        if again.expose_secret() != first.expose_secret() {
            return Err(CliError::Usage("the passphrases differ".into()));
        }
    }
    Ok(first)
}

/// Open the store under `home`; `create` allows making a new one.
fn open_store(home: &Path, create: bool) -> Result<Option<Store>, CliError> {
    let path = store_path(home);
    let exists = path.is_file();
    if !exists && !create {
        return Ok(None);
    }
    let prompt = if exists {
        "Store passphrase: "
    } else {
        "New store passphrase: "
    };
    let pass = secret("KEEL_PASSPHRASE", prompt, !exists)?;
    let keys = PassphraseKeyProvider::new(pass);
    Ok(Some(Store::open(&path, &keys)?))
}

fn no_store(g: &Globals) -> CliError {
    CliError::Usage(format!(
        "there is no store at {}; record something first with `keel feedback`",
        store_path(&g.home).display()
    ))
}

fn print_json(v: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| CliError::Usage(format!("encoding JSON failed: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Run a `keel profile` subcommand.
pub fn run_profile(cmd: ProfileCmd, g: &Globals) -> Result<(), CliError> {
    match cmd {
        ProfileCmd::Show { user } => show(&user, g),
        ProfileCmd::Export { user, out } => {
            let store = open_store(&g.home, false)?.ok_or_else(|| no_store(g))?;
            let pass = secret("KEEL_EXPORT_PASSPHRASE", "Export passphrase: ", true)?;
            let summary = store.export_user(&user, &ExportPassphrase::new(pass), &out)?;
            if g.json {
                print_json(&json!({ "file": out, "summary": summary }))
            } else {
                println!(
                    "Exported {} events, {} turns{} to {} ({} bytes, sealed with the export passphrase).",
                    summary.events,
                    summary.turns,
                    if summary.profile { " and the profile" } else { "" },
                    out.display(),
                    summary.bytes
                );
                if summary.skipped_corrupt > 0 {
                    println!("Skipped {} corrupt records.", summary.skipped_corrupt);
                }
                Ok(())
            }
        }
        ProfileCmd::Import { user, file } => {
            let store = open_store(&g.home, true)?.ok_or_else(|| no_store(g))?;
            let pass = secret("KEEL_EXPORT_PASSPHRASE", "Export passphrase: ", false)?;
            let summary = store.import_user(&user, &pass, &file)?;
            if g.json {
                print_json(&json!({ "summary": summary }))
            } else {
                println!(
                    "Imported {} events, {} turns{}.",
                    summary.events,
                    summary.turns,
                    if summary.profile {
                        " and the profile"
                    } else {
                        ""
                    }
                );
                Ok(())
            }
        }
        ProfileCmd::Forget { user } => {
            let forgotten = match open_store(&g.home, false)? {
                Some(store) => store.forget(&user)?,
                None => false,
            };
            if g.json {
                print_json(&json!({ "forgotten": forgotten }))
            } else {
                if forgotten {
                    println!(
                        "Forgotten: the person's key was destroyed and their records deleted."
                    );
                } else {
                    println!("Nothing was stored for that person.");
                }
                Ok(())
            }
        }
    }
}

fn show(user: &str, g: &Globals) -> Result<(), CliError> {
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
    match &profile_json {
        Some(p) => println!(
            "Profile (revision {}):\n{}",
            p["revision"],
            serde_json::to_string_pretty(&p["body"]).unwrap_or_default()
        ),
        None => println!("No learned profile yet."),
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

/// Run `keel feedback`.
pub fn run_feedback(args: FeedbackArgs, g: &Globals) -> Result<(), CliError> {
    let store = open_store(&g.home, true)?.ok_or_else(|| no_store(g))?;
    let id = store.add_statement(&args.user, &args.statement, args.context.as_deref())?;
    if g.json {
        print_json(&json!({ "event_id": id }))
    } else {
        println!("Recorded the statement (event #{id}).");
        Ok(())
    }
}
