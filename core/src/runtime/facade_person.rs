//! The person side of the [`Keel`] façade: feedback (ratings, choices, edits, statements),
//! the profile and its edits, forgetting a person, export and import. Each is a short,
//! blocking store operation on the caller's thread (async callers can use
//! [`Keel::offload`]); after [`Keel::close`] each fails with [`Error::Closed`]. Ids and
//! context keys arrive as plain strings (what front ends and bindings have) and are checked
//! here.

use crate::prefs::{ContextKey, FeedbackEvent, FeedbackKind, Profile, TurnId};
use crate::safety::personalization::Dimension;
use crate::store::{ExportPassphrase, ImportSummary, SecretString};
use crate::Error;

use super::{FeedbackReport, Keel};

impl Keel {
    /// Feedback about one of `user`'s turns (rating, choice, edit, regenerate, statement...).
    pub fn feedback(&self, user: &str, event: &FeedbackEvent) -> Result<FeedbackReport, Error> {
        self.with_prefs(|p| Ok(p.feedback(user, event)?))
    }

    /// Thumbs up or down on turn `turn`.
    pub fn rate(&self, user: &str, turn: &str, up: bool) -> Result<FeedbackReport, Error> {
        self.feedback(user, &event(turn, FeedbackKind::Rating { up })?)
    }

    /// The person preferred answer `chosen` to `other` (two answers to the same prompt).
    pub fn prefer(&self, user: &str, chosen: &str, other: &str) -> Result<FeedbackReport, Error> {
        let other = TurnId::new(other)?;
        self.feedback(user, &event(chosen, FeedbackKind::Pairwise { other })?)
    }

    /// The person asked for another answer to turn `turn`'s prompt ("try again"): an
    /// implicit signal against that answer.
    pub fn regenerate(&self, user: &str, turn: &str) -> Result<FeedbackReport, Error> {
        self.feedback(user, &event(turn, FeedbackKind::Regenerate)?)
    }

    /// The person rewrote turn `turn`'s answer as `edited`.
    pub fn edit_answer(
        &self,
        user: &str,
        turn: &str,
        edited: &str,
    ) -> Result<FeedbackReport, Error> {
        let kind = FeedbackKind::Edit {
            edited: edited.to_owned(),
        };
        self.feedback(user, &event(turn, kind)?)
    }

    /// An explicit statement not tied to a turn ("I prefer short answers").
    pub fn state(
        &self,
        user: &str,
        text: &str,
        context: Option<&str>,
    ) -> Result<FeedbackReport, Error> {
        let context = context_key(context)?;
        self.with_prefs(|p| Ok(p.state(user, text, context.as_ref())?))
    }

    /// `user`'s profile in `context` (or globally); [`Profile::describe`] puts it in words.
    pub fn profile(&self, user: &str, context: Option<&str>) -> Result<Profile, Error> {
        let context = context_key(context)?;
        self.with_prefs(|p| Ok(p.profile(user, context.as_ref())?))
    }

    /// Set one preference (refused when the bundle's envelope fixes it, moved into range
    /// otherwise; the report says which).
    pub fn edit(
        &self,
        user: &str,
        dimension: Dimension,
        value: f64,
        context: Option<&str>,
    ) -> Result<FeedbackReport, Error> {
        let context = context_key(context)?;
        self.with_prefs(|p| Ok(p.edit(user, dimension, value, context.as_ref())?))
    }

    /// Delete one preference: it goes back to the starting point.
    pub fn delete_preference(
        &self,
        user: &str,
        dimension: Dimension,
        context: Option<&str>,
    ) -> Result<FeedbackReport, Error> {
        let context = context_key(context)?;
        self.with_prefs(|p| Ok(p.delete(user, dimension, context.as_ref())?))
    }

    /// Forget `user` (crypto-shredding: their data key and every record are deleted).
    /// Returns whether the store knew them. Other people are untouched.
    pub fn forget(&self, user: &str) -> Result<bool, Error> {
        self.with_prefs(|p| Ok(p.store().forget(user)?))
    }

    /// `user`'s data as a sealed export file, readable only with `passphrase`.
    pub fn export(&self, user: &str, passphrase: SecretString) -> Result<Vec<u8>, Error> {
        self.export_with(user, &ExportPassphrase::new(passphrase))
    }

    /// [`Keel::export`] with explicit KDF settings.
    pub fn export_with(&self, user: &str, passphrase: &ExportPassphrase) -> Result<Vec<u8>, Error> {
        self.with_prefs(|p| {
            let (bytes, _) = p.store().export_user_bytes(user, passphrase)?;
            Ok(bytes.to_vec())
        })
    }

    /// Import an export into `user` (created if needed); a wrong passphrase or an altered
    /// file is refused before anything is written.
    pub fn import(
        &self,
        user: &str,
        passphrase: &SecretString,
        data: &[u8],
    ) -> Result<ImportSummary, Error> {
        self.with_prefs(|p| Ok(p.store().import_user_bytes(user, passphrase, data)?))
    }
}

fn event(turn: &str, kind: FeedbackKind) -> Result<FeedbackEvent, Error> {
    Ok(FeedbackEvent {
        turn: TurnId::new(turn)?,
        context: None,
        kind,
    })
}

fn context_key(context: Option<&str>) -> Result<Option<ContextKey>, Error> {
    Ok(context.map(ContextKey::new).transpose()?)
}
