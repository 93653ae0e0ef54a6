//! The façade: [`Keel`], the one object an app embeds. It owns a loaded model, the safety
//! bundle in force and the encrypted store, and offers everything a front end needs — chat
//! (streamed, personalized, gated, recorded), feedback, the profile and its edits, forgetting
//! a person, export and import, status — as calls on one `Send + Sync`, cheaply cloned
//! handle. [`Incognito`] is the same chat with nothing personal: it holds no store and no
//! person, so the types keep it from reading or writing anything personal.
//!
//! Chats queue fairly (per-person round robin, `facade_queue.rs`) for the one engine and are
//! served by one dispatcher thread (`facade_dispatch.rs`); each returns a [`ChatStream`]
//! (`facade_stream.rs`) that works async and blocking. The person-side calls
//! (`facade_person.rs`) are short store operations that run on the caller's thread;
//! [`Keel::offload`] runs one on tokio's blocking pool. After [`Keel::close`] every call
//! fails with [`Error::Closed`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use serde::Serialize;
use tokio::sync::mpsc;

use crate::engine::{ChatMessage, Engine, EngineError, ModelInfo};
use crate::safety::BundleSlot;
use crate::Error;

use super::facade_builder::KeelBuilder;
use super::facade_dispatch::{Dispatcher, Request, Work};
use super::facade_queue::Lane;
use super::facade_stream::{ChatOptions, ChatStream, Control, KeelReport};
use super::{BundleStatus, GatedChat, PersonalChat, PersonalError, Personalizer};

impl From<PersonalError> for Error {
    fn from(e: PersonalError) -> Self {
        match e {
            PersonalError::Keel(e) => e,
            PersonalError::Store(e) => Error::Store(e),
            PersonalError::Prefs(e) => Error::Prefs(e),
            PersonalError::Record(what) => Error::Record(what),
        }
    }
}

/// What [`Keel::status`] reports.
#[derive(Debug, Clone, Serialize)]
pub struct KeelStatus {
    /// The loaded model.
    pub model: ModelInfo,
    /// The bundle in force: id, version, digest, expiry, the signing root's fingerprint.
    pub bundle: BundleStatus,
    /// The encrypted store.
    pub store: StoreStatus,
    /// Keel's state directory.
    pub home: PathBuf,
    /// Chat requests waiting for the engine.
    pub waiting: usize,
}

/// The store part of [`KeelStatus`] (counts only; names are never stored).
#[derive(Debug, Clone, Serialize)]
pub struct StoreStatus {
    /// The database file.
    pub path: PathBuf,
    /// How the master key is obtained (`platform`, `raw`, `passphrase-…`).
    pub key_method: &'static str,
    /// How many people the store holds.
    pub users: u64,
}

/// What the builder hands to [`Keel::from_opened`].
pub(crate) struct Opened {
    pub(crate) engine: Arc<Engine>,
    pub(crate) slot: BundleSlot,
    pub(crate) prefs: Personalizer,
    pub(crate) home: PathBuf,
    pub(crate) store_path: PathBuf,
    pub(crate) key_method: &'static str,
}

/// What chatting needs, shared by [`Keel`] and [`Incognito`]: the queue to the engine.
struct ChatCore {
    dispatcher: Dispatcher,
    closed: AtomicBool,
    model: ModelInfo,
    bundle: BundleStatus,
}

impl ChatCore {
    fn check_open(&self) -> Result<(), Error> {
        if self.closed.load(Ordering::SeqCst) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    fn submit(
        &self,
        lane: Lane,
        work: Work,
        messages: Vec<ChatMessage>,
        options: &ChatOptions,
    ) -> Result<ChatStream, Error> {
        self.check_open()?;
        if messages.is_empty() {
            return Err(EngineError::EmptyConversation.into());
        }
        let params = options.params()?;
        let (events, rx) = mpsc::unbounded_channel();
        let control = Arc::new(Control::default());
        self.dispatcher.submit(
            lane,
            Request {
                work,
                messages,
                params,
                best_of: options.best_of,
                events,
                control: Arc::clone(&control),
                submitted: Instant::now(),
            },
        );
        Ok(ChatStream::new(rx, control))
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.dispatcher.close();
    }
}

impl Drop for ChatCore {
    fn drop(&mut self) {
        self.close();
    }
}

/// The Keel runtime. `Send + Sync`; clones share one runtime (one model, one store).
///
/// ```no_run
/// use std::sync::Arc;
/// use keel::engine::ChatMessage;
/// use keel::store::{PassphraseKeyProvider, SecretString};
/// use keel::{ChatEvent, ChatOptions, Keel};
///
/// # fn main() -> keel::Result<()> {
/// let keys = PassphraseKeyProvider::new(SecretString::new("correct horse".into()));
/// let keel = Keel::builder().key_provider(Arc::new(keys)).open()?;
/// let mut stream = keel.chat(
///     "ana",
///     vec![ChatMessage::user("What is a lighthouse for?")],
///     ChatOptions::default(),
/// )?;
/// let mut turn = None;
/// while let Some(event) = stream.next_blocking() {
///     match event {
///         ChatEvent::Chunk(text) => print!("{text}"),
///         ChatEvent::Done(report) => turn = report.turn_id,
///         ChatEvent::Failed(e) => return Err(e),
///     }
/// }
/// if let Some(turn) = turn {
///     keel.rate("ana", turn.as_str(), false)?; // thumbs down
/// }
/// keel.state("ana", "I prefer short answers", None)?;
/// for line in keel.profile("ana", None)?.describe() {
///     println!("{line}");
/// }
/// let (text, report) = keel.incognito()?.chat_blocking(
///     vec![ChatMessage::user("And a harbour?")],
///     ChatOptions::default(),
/// )?;
/// assert!(report.turn_id.is_none()); // nothing read, nothing recorded
/// # let _ = text;
/// keel.close();
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Keel {
    core: Arc<ChatCore>,
    prefs: Arc<RwLock<Option<Personalizer>>>,
    home: PathBuf,
    store_path: PathBuf,
    key_method: &'static str,
    incognito_lanes: Arc<AtomicU64>,
}

impl std::fmt::Debug for Keel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keel")
            .field("model", &self.core.model.path)
            .field("bundle", &self.core.bundle)
            .field("closed", &self.core.closed.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl Keel {
    /// Start configuring a runtime; [`KeelBuilder::open`] opens it.
    pub fn builder() -> KeelBuilder {
        KeelBuilder::default()
    }

    pub(crate) fn from_opened(o: Opened) -> Result<Self, Error> {
        let incognito = GatedChat::new(Arc::clone(&o.engine), o.slot.clone());
        let personal = PersonalChat::from_parts(GatedChat::new(o.engine, o.slot), o.prefs.clone());
        let bundle = incognito.bundle_status();
        let model = incognito.engine().info().clone();
        Ok(Self {
            core: Arc::new(ChatCore {
                dispatcher: Dispatcher::start(incognito, personal)?,
                closed: AtomicBool::new(false),
                model,
                bundle,
            }),
            prefs: Arc::new(RwLock::new(Some(o.prefs))),
            home: o.home,
            store_path: o.store_path,
            key_method: o.key_method,
            incognito_lanes: Arc::default(),
        })
    }

    /// Start `user`'s chat turn: their profile shapes the answer, the bundle's gate checks
    /// the question and the answer, and the answer is recorded so feedback can refer to it.
    /// Returns at once; the turn waits its fair turn for the engine, then streams.
    pub fn chat(
        &self,
        user: &str,
        messages: Vec<ChatMessage>,
        options: ChatOptions,
    ) -> Result<ChatStream, Error> {
        let context = options.context_key()?;
        self.core.submit(
            Lane::User(user.to_owned()),
            Work::Personal {
                user: user.to_owned(),
                context,
            },
            messages,
            &options,
        )
    }

    /// [`Keel::chat`] read to the end: the text shown and the report. Blocks the thread.
    pub fn chat_blocking(
        &self,
        user: &str,
        messages: Vec<ChatMessage>,
        options: ChatOptions,
    ) -> Result<(String, KeelReport), Error> {
        self.chat(user, messages, options)?.collect_blocking()
    }

    /// An incognito handle: gated chat that reads no profile and records nothing.
    pub fn incognito(&self) -> Result<Incognito, Error> {
        self.core.check_open()?;
        Ok(Incognito {
            core: Arc::clone(&self.core),
            lane: self.incognito_lanes.fetch_add(1, Ordering::Relaxed),
        })
    }

    /// Run `f` with the person-side of the runtime; fails once closed.
    pub(super) fn with_prefs<T>(
        &self,
        f: impl FnOnce(&Personalizer) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.core.check_open()?;
        let guard = self
            .prefs
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match guard.as_ref() {
            Some(p) => f(p),
            None => Err(Error::Closed),
        }
    }

    /// The model, the bundle (with its root's fingerprint) and the store.
    pub fn status(&self) -> Result<KeelStatus, Error> {
        let users = self.with_prefs(|p| Ok(p.store().user_count()?))?;
        Ok(KeelStatus {
            model: self.core.model.clone(),
            bundle: self.core.bundle.clone(),
            store: StoreStatus {
                path: self.store_path.clone(),
                key_method: self.key_method,
                users,
            },
            home: self.home.clone(),
            waiting: self.core.dispatcher.waiting(),
        })
    }

    /// Whether [`Keel::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.core.closed.load(Ordering::SeqCst)
    }

    /// Close the runtime: queued chats fail with [`Error::Closed`], the running one is
    /// cancelled, the store is released once in-flight calls return, and every later call
    /// on any clone (or incognito handle) fails with [`Error::Closed`]. Idempotent. Waits at
    /// most for the running generation's next token.
    pub fn close(&self) {
        self.core.close();
        let mut prefs = self
            .prefs
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        prefs.take();
    }

    /// Run a blocking call (feedback, export, ...) on tokio's blocking pool, for async
    /// callers: `keel.offload(|k| k.profile("ana", None)).await`. Needs a tokio runtime.
    pub async fn offload<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Keel) -> Result<T, Error> + Send + 'static,
    {
        let keel = self.clone();
        match tokio::task::spawn_blocking(move || f(&keel)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The tokio runtime is shutting down.
            Err(_) => Err(Error::Closed),
        }
    }
}

/// Gated chat with nothing personal: no profile is read, nothing is recorded, and the
/// report has no turn id. It holds no store and takes no person, so it cannot do otherwise.
/// Each handle has its own queue lane.
#[derive(Clone)]
pub struct Incognito {
    core: Arc<ChatCore>,
    lane: u64,
}

impl std::fmt::Debug for Incognito {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incognito")
            .field("lane", &self.lane)
            .finish_non_exhaustive()
    }
}

impl Incognito {
    /// Start an incognito turn (`options.context` is ignored).
    pub fn chat(
        &self,
        messages: Vec<ChatMessage>,
        options: ChatOptions,
    ) -> Result<ChatStream, Error> {
        self.core.submit(
            Lane::Incognito(self.lane),
            Work::Incognito,
            messages,
            &options,
        )
    }

    /// [`Incognito::chat`] read to the end. Blocks the thread.
    pub fn chat_blocking(
        &self,
        messages: Vec<ChatMessage>,
        options: ChatOptions,
    ) -> Result<(String, KeelReport), Error> {
        self.chat(messages, options)?.collect_blocking()
    }

    /// The bundle in force.
    pub fn bundle_status(&self) -> BundleStatus {
        self.core.bundle.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn the_handles_are_send_and_sync() {
        assert_send_sync::<Keel>();
        assert_send_sync::<Incognito>();
        assert_send_sync::<super::super::facade_stream::ChatCancel>();
        fn assert_send<T: Send>() {}
        assert_send::<ChatStream>();
    }
}
