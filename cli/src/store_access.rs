//! The store plumbing shared by `keel profile`, `keel feedback` and the commands that
//! personalize (`keel chat`, `keel demo`, `keel serve`): passphrases (environment or terminal
//! prompt), opening the store, turning personalization errors into CLI errors, the
//! personalizer over the default bundle, and printing JSON and feedback outcomes.

use std::path::Path;
use std::sync::Arc;

use keel::prefs::{ContextKey, LearnerConfig, PopulationPrior};
use keel::runtime::{BundleChoice, FeedbackReport, Outcome, PersonalError, Personalizer};
use keel::safety::{MemoryRollbackStore, VerifyPolicy};
use keel::store::{store_path, PassphraseKeyProvider, SecretString, Store};

use crate::error::CliError;
use crate::globals::Globals;

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

pub(crate) fn no_store(g: &Globals) -> CliError {
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

pub(crate) fn context_key(context: Option<String>) -> Result<Option<ContextKey>, CliError> {
    context
        .map(ContextKey::new)
        .transpose()
        .map_err(|e| CliError::Usage(e.to_string()))
}
