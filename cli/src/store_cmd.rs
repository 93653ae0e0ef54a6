//! `keel profile ...` and `keel feedback`: the encrypted store from the command line.
//! Argument parsing, passphrase prompts and printing only; everything else is `keel::store`.
//!
//! The store is `<home>/store/keel.db`. Its passphrase comes from `KEEL_PASSPHRASE` or a
//! prompt on the terminal; export passphrases from `KEEL_EXPORT_PASSPHRASE` or a prompt.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use keel::prefs::{
    ContextKey, FeedbackEvent, FeedbackKind, LearnerConfig, PopulationPrior, PrefsError, TurnId,
};
use keel::runtime::{BundleChoice, FeedbackReport, Outcome, PersonalError, Personalizer};
use keel::safety::{MemoryRollbackStore, VerifyPolicy};
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
    /// Show what the store holds for a person: the profile in words, stated preferences,
    /// counts.
    Show {
        /// The person.
        #[arg(long)]
        user: String,
        /// The app's context key (the profile in that context).
        #[arg(long)]
        context: Option<String>,
    },
    /// Set one preference (0 to 1), e.g. `--dimension verbosity --value 0.2` for short answers.
    Set {
        /// The person.
        #[arg(long)]
        user: String,
        /// The preference: verbosity, formality, technical_depth, warmth, humour, format, emoji.
        #[arg(long, value_parser = crate::profile_edit::parse_dimension)]
        dimension: keel::safety::personalization::Dimension,
        /// The value, from 0 (the first end of the scale) to 1.
        #[arg(long, value_parser = crate::profile_edit::parse_value)]
        value: f64,
        /// Only in this context.
        #[arg(long)]
        context: Option<String>,
    },
    /// Delete one preference: it goes back to the starting point.
    Unset {
        /// The person.
        #[arg(long)]
        user: String,
        /// The preference to delete.
        #[arg(long, value_parser = crate::profile_edit::parse_dimension)]
        dimension: keel::safety::personalization::Dimension,
        /// Only in this context.
        #[arg(long)]
        context: Option<String>,
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

/// `keel feedback` arguments: exactly one of --up, --down, --prefer, --edit, --statement.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("what")
        .required(true)
        .args(["up", "down", "prefer", "edit", "statement"])
))]
pub struct FeedbackArgs {
    /// The person giving feedback.
    #[arg(long)]
    user: String,
    /// The turn the feedback is about (the id `keel chat --user` prints after each answer).
    /// Needed by every kind but --statement.
    #[arg(long)]
    turn: Option<String>,
    /// The answer was good.
    #[arg(long, requires = "turn")]
    up: bool,
    /// The answer was not good.
    #[arg(long, requires = "turn")]
    down: bool,
    /// This turn's answer is preferred to turn ID's (an answer to the same prompt).
    #[arg(long, value_name = "ID", requires = "turn")]
    prefer: Option<String>,
    /// The answer as you would have liked it; your text is preferred to the original.
    #[arg(long, value_name = "TEXT", requires = "turn")]
    edit: Option<String>,
    /// An explicit preference statement, e.g. "keep answers short".
    #[arg(long)]
    statement: Option<String>,
    /// The context the feedback applies to (e.g. "cooking"); all contexts if absent.
    #[arg(long)]
    context: Option<String>,
}

/// Read a secret from `env` or, failing that, prompt on the terminal (twice when `confirm`).
pub(crate) fn secret(env: &str, prompt: &str, confirm: bool) -> Result<SecretString, CliError> {
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
pub(crate) fn open_store(home: &Path, create: bool) -> Result<Option<Store>, CliError> {
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

pub(crate) fn print_json(v: &serde_json::Value) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(v)
        .map_err(|e| CliError::Usage(format!("encoding JSON failed: {e}")))?;
    println!("{text}");
    Ok(())
}

/// Run a `keel profile` subcommand.
pub fn run_profile(cmd: ProfileCmd, g: &Globals) -> Result<(), CliError> {
    match cmd {
        ProfileCmd::Show { user, context } => show(&user, context_key(context)?.as_ref(), g),
        ProfileCmd::Set {
            user,
            dimension,
            value,
            context,
        } => {
            let context = context_key(context)?;
            let store = open_store(&g.home, true)?.ok_or_else(|| no_store(g))?;
            crate::profile_edit::set(store, &user, dimension, value, context.as_ref(), g)
        }
        ProfileCmd::Unset {
            user,
            dimension,
            context,
        } => {
            let context = context_key(context)?;
            let store = open_store(&g.home, false)?.ok_or_else(|| no_store(g))?;
            crate::profile_edit::unset(store, &user, dimension, context.as_ref(), g)
        }
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

fn show(user: &str, context: Option<&ContextKey>, g: &Globals) -> Result<(), CliError> {
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

/// A personalization error as a CLI error: a rejected feedback or preference is a usage
/// error (its text names what was wrong, never what was written).
pub(crate) fn personal_error(e: PersonalError) -> CliError {
    match e {
        PersonalError::Keel(e) => CliError::Keel(e),
        PersonalError::Store(e) => CliError::Keel(e.into()),
        PersonalError::Prefs(e) => CliError::Usage(e.to_string()),
        e @ PersonalError::Record(_) => CliError::Usage(e.to_string()),
    }
}

/// The person's preferences in `store`, bounded by the default bundle's envelope (the bundle
/// `keel chat` serves with unless told otherwise).
pub(crate) fn default_personalizer(store: Store) -> Result<Personalizer, CliError> {
    let slot = BundleChoice::Default.load(&VerifyPolicy::now(), &MemoryRollbackStore::default())?;
    Personalizer::for_slot(
        Arc::new(store),
        &slot,
        PopulationPrior::neutral(0),
        LearnerConfig::default(),
    )
    .map_err(personal_error)
}

/// Print what a feedback call did, one line per outcome.
pub(crate) fn print_feedback(report: &FeedbackReport) {
    for outcome in &report.outcomes {
        match outcome {
            Outcome::Learned { kind } => println!("  learned from the {kind}"),
            Outcome::Applied {
                dimension,
                value: Some(v),
                adjusted,
                ..
            } => println!(
                "  applied: {} set to {v:.2}{}",
                dimension.name().replace('_', " "),
                adjusted
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            Outcome::Applied { dimension, .. } => println!(
                "  applied: {} back to the starting point",
                dimension.name().replace('_', " ")
            ),
            Outcome::Refused { reason, .. } => println!("  refused: {reason}"),
            Outcome::Unmapped { note } => {
                println!("  not understood, kept as a note (not applied): {note:?}")
            }
        }
    }
}

fn context_key(context: Option<String>) -> Result<Option<ContextKey>, CliError> {
    context
        .map(ContextKey::new)
        .transpose()
        .map_err(|e| CliError::Usage(e.to_string()))
}

/// Run `keel feedback`.
pub fn run_feedback(args: FeedbackArgs, g: &Globals) -> Result<(), CliError> {
    let context = context_key(args.context)?;
    let turn = args
        .turn
        .map(TurnId::new)
        .transpose()
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let kind = if args.up || args.down {
        FeedbackKind::Rating { up: args.up }
    } else if let Some(other) = args.prefer {
        FeedbackKind::Pairwise {
            other: TurnId::new(other).map_err(|e| CliError::Usage(e.to_string()))?,
        }
    } else if let Some(edited) = args.edit {
        FeedbackKind::Edit { edited }
    } else if let Some(text) = args.statement {
        FeedbackKind::Statement { text }
    } else {
        return Err(CliError::Usage(
            "say what the feedback is: --up, --down, --prefer ID, --edit TEXT or --statement TEXT"
                .into(),
        ));
    };
    let report = match (turn, kind) {
        (None, FeedbackKind::Statement { text }) => {
            let store = open_store(&g.home, true)?.ok_or_else(|| no_store(g))?;
            default_personalizer(store)?
                .state(&args.user, &text, context.as_ref())
                .map_err(personal_error)?
        }
        (Some(turn), kind) => {
            let store = open_store(&g.home, false)?
                .ok_or_else(|| personal_error(PrefsError::UnknownTurn.into()))?;
            let event = FeedbackEvent {
                turn,
                context,
                kind,
            };
            default_personalizer(store)?
                .feedback(&args.user, &event)
                .map_err(personal_error)?
        }
        (None, _) => return Err(CliError::Usage("this feedback needs --turn ID".into())),
    };
    if g.json {
        print_json(
            &serde_json::to_value(&report)
                .map_err(|e| CliError::Usage(format!("encoding JSON failed: {e}")))?,
        )
    } else {
        match report.event_id {
            Some(id) => println!("Recorded the feedback (event #{id})."),
            None => println!("Nothing was recorded."),
        }
        print_feedback(&report);
        Ok(())
    }
}
