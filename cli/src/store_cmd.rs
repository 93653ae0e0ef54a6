//! `keel profile ...` and `keel feedback`: the encrypted store from the command line.
//! Argument parsing, passphrase prompts and printing only; everything else is `keel::store`.
//!
//! The store is `<home>/store/keel.db`. Its passphrase comes from `KEEL_PASSPHRASE` or a
//! prompt on the terminal; export passphrases from `KEEL_EXPORT_PASSPHRASE` or a prompt.
//!
//! This file holds the arguments and runs the subcommands; `profile_show` prints
//! `keel profile show`, and `store_access` holds the store plumbing that other
//! commands share.

use std::path::PathBuf;

use keel::prefs::{FeedbackEvent, FeedbackKind, PrefsError, TurnId};
use keel::store::ExportPassphrase;
use serde_json::json;

use crate::error::CliError;
use crate::globals::Globals;
use crate::profile_show::show;
use crate::store_access::{
    context_key, default_personalizer, no_store, open_store, personal_error, print_feedback,
    print_json, secret,
};

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
