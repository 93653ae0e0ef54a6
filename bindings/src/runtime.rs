//! [`KeelRuntime`]: the `keel::Keel` façade as one uniffi object. Opened from a
//! [`KeelConfig`] and a [`KeySource`]; every method is one call on the façade. Async methods
//! become Kotlin `suspend` and Swift `async` functions (run on tokio); the rest block briefly
//! (store operations) and are safe from any thread.

use std::sync::Arc;

use keel::runtime::BundleChoice;
use keel::store::SecretString;
use keel::{Keel, KeelBuilder};

use crate::chat::{deliver, ChatHandle, TokenListener};
use crate::records::{
    messages as core_messages, ChatMessage, ChatOptions, Dimension, FeedbackResult, Profile,
};
use crate::{BundleInfo, ChatResult, ImportResult, KeelError, KeelStatus, KeySource};

/// Which safety bundle to serve with.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum BundleSource {
    /// The signed default bundle compiled into Keel.
    Default,
    /// A publisher's bundle, verified against the trust root the app pins.
    Files {
        /// The pinned root (`root.json` bytes).
        root: Vec<u8>,
        /// The bundle (`bundle.json` bytes).
        bundle: Vec<u8>,
    },
    /// No bundle: nothing is checked and every report says so. Only for development.
    DeveloperMode,
}

/// Engine settings; an absent field keeps the measured default.
#[derive(Debug, Clone, Default, uniffi::Record)]
pub struct EngineSettings {
    /// Decoding threads.
    #[uniffi(default = None)]
    pub threads: Option<u32>,
    /// Prompt-evaluation threads.
    #[uniffi(default = None)]
    pub threads_batch: Option<u32>,
    /// Context size in tokens.
    #[uniffi(default = None)]
    pub n_ctx: Option<u32>,
    /// Prompt tokens per llama.cpp call.
    #[uniffi(default = None)]
    pub n_batch: Option<u32>,
    /// Layers offloaded to a GPU.
    #[uniffi(default = None)]
    pub gpu_layers: Option<u32>,
}

/// How to open a runtime.
#[derive(Debug, Clone, uniffi::Record)]
pub struct KeelConfig {
    /// The GGUF model file (default: the default model under `home`, as `keel model fetch`
    /// put it).
    #[uniffi(default = None)]
    pub model_path: Option<String>,
    /// Keel's state directory (default: the platform's usual place). On mobile, pass the
    /// app's files directory.
    #[uniffi(default = None)]
    pub home: Option<String>,
    /// The safety bundle (default: the signed default bundle).
    #[uniffi(default = None)]
    pub bundle: Option<BundleSource>,
    /// Engine settings.
    #[uniffi(default = None)]
    pub engine: Option<EngineSettings>,
}

impl KeelConfig {
    fn builder(self, key: KeySource) -> Result<KeelBuilder, KeelError> {
        let mut b = Keel::builder().key_provider(key.into_core()?);
        if let Some(m) = self.model_path {
            b = b.model(m);
        }
        if let Some(h) = self.home {
            b = b.home(h);
        }
        b = b.bundle(match self.bundle.unwrap_or(BundleSource::Default) {
            BundleSource::Default => BundleChoice::Default,
            BundleSource::Files { root, bundle } => BundleChoice::Files { root, bundle },
            BundleSource::DeveloperMode => BundleChoice::DeveloperMode,
        });
        if let Some(e) = self.engine {
            let mut c = keel::engine::EngineConfig::default();
            c.threads = e.threads.unwrap_or(c.threads);
            c.threads_batch = e.threads_batch.unwrap_or(c.threads_batch);
            c.n_ctx = e.n_ctx.unwrap_or(c.n_ctx);
            c.n_batch = e.n_batch.unwrap_or(c.n_batch);
            c.gpu_layers = e.gpu_layers.unwrap_or(c.gpu_layers);
            b = b.engine(c);
        }
        Ok(b)
    }
}

/// The Keel runtime: one model, one safety bundle, one encrypted store, several people.
#[derive(Debug, uniffi::Object)]
pub struct KeelRuntime(Keel);

#[uniffi::export(async_runtime = "tokio")]
impl KeelRuntime {
    /// Open the runtime (store, bundle, model: seconds). Blocks; prefer `open_async` on a
    /// UI thread.
    #[uniffi::constructor]
    pub fn open(config: KeelConfig, key: KeySource) -> Result<Arc<Self>, KeelError> {
        Ok(Arc::new(Self(config.builder(key)?.open()?)))
    }

    /// Open the runtime without blocking the caller.
    #[uniffi::constructor]
    pub async fn open_async(config: KeelConfig, key: KeySource) -> Result<Arc<Self>, KeelError> {
        Ok(Arc::new(Self(config.builder(key)?.open_async().await?)))
    }

    /// Start `user`'s chat turn; `listener` gets the answer in batches, then the report.
    pub fn chat(
        &self,
        user: String,
        messages: Vec<ChatMessage>,
        options: ChatOptions,
        listener: Arc<dyn TokenListener>,
    ) -> Result<Arc<ChatHandle>, KeelError> {
        deliver(
            self.0
                .chat(&user, core_messages(messages), options.into())?,
            listener,
        )
    }

    /// `user`'s chat turn, whole: the text and the report. Cancelling the coroutine / task
    /// cancels the generation.
    pub async fn chat_async(
        &self,
        user: String,
        messages: Vec<ChatMessage>,
        options: ChatOptions,
    ) -> Result<ChatResult, KeelError> {
        let stream = self
            .0
            .chat(&user, core_messages(messages), options.into())?;
        Ok(stream.collect().await?.into())
    }

    /// `user`'s chat turn, whole, blocking the calling thread.
    pub fn chat_blocking(
        &self,
        user: String,
        messages: Vec<ChatMessage>,
        options: ChatOptions,
    ) -> Result<ChatResult, KeelError> {
        Ok(self
            .0
            .chat_blocking(&user, core_messages(messages), options.into())?
            .into())
    }

    /// An incognito turn: gated, but no profile is read and nothing is recorded (the report
    /// has no turn id).
    pub fn chat_incognito(
        &self,
        messages: Vec<ChatMessage>,
        options: ChatOptions,
        listener: Arc<dyn TokenListener>,
    ) -> Result<Arc<ChatHandle>, KeelError> {
        deliver(
            self.0
                .incognito()?
                .chat(core_messages(messages), options.into())?,
            listener,
        )
    }

    /// An incognito turn, whole.
    pub async fn chat_incognito_async(
        &self,
        messages: Vec<ChatMessage>,
        options: ChatOptions,
    ) -> Result<ChatResult, KeelError> {
        let stream = self
            .0
            .incognito()?
            .chat(core_messages(messages), options.into())?;
        Ok(stream.collect().await?.into())
    }

    /// Thumbs up (`up`) or down on one of `user`'s turns.
    pub fn rate(
        &self,
        user: String,
        turn_id: String,
        up: bool,
    ) -> Result<FeedbackResult, KeelError> {
        Ok(self.0.rate(&user, &turn_id, up)?.into())
    }

    /// `user` preferred the answer of turn `chosen` to that of `other` (same prompt).
    pub fn prefer(
        &self,
        user: String,
        chosen: String,
        other: String,
    ) -> Result<FeedbackResult, KeelError> {
        Ok(self.0.prefer(&user, &chosen, &other)?.into())
    }

    /// `user` asked for another answer to turn `turn_id` ("try again").
    pub fn regenerate(&self, user: String, turn_id: String) -> Result<FeedbackResult, KeelError> {
        Ok(self.0.regenerate(&user, &turn_id)?.into())
    }

    /// `user` rewrote turn `turn_id`'s answer as `edited`.
    pub fn edit_answer(
        &self,
        user: String,
        turn_id: String,
        edited: String,
    ) -> Result<FeedbackResult, KeelError> {
        Ok(self.0.edit_answer(&user, &turn_id, &edited)?.into())
    }

    /// An explicit statement ("I prefer short answers"), optionally for one context.
    pub fn state(
        &self,
        user: String,
        text: String,
        context: Option<String>,
    ) -> Result<FeedbackResult, KeelError> {
        Ok(self.0.state(&user, &text, context.as_deref())?.into())
    }

    /// `user`'s profile in `context` (or globally), with its description in words.
    pub fn profile(&self, user: String, context: Option<String>) -> Result<Profile, KeelError> {
        Ok(self.0.profile(&user, context.as_deref())?.into())
    }

    /// [`KeelRuntime::profile`] without blocking the caller.
    pub async fn profile_async(
        &self,
        user: String,
        context: Option<String>,
    ) -> Result<Profile, KeelError> {
        let p = self
            .0
            .offload(move |k| k.profile(&user, context.as_deref()))
            .await?;
        Ok(p.into())
    }

    /// Set one preference (moved into the envelope's range, or refused; the result says).
    pub fn edit_preference(
        &self,
        user: String,
        dimension: Dimension,
        value: f64,
        context: Option<String>,
    ) -> Result<FeedbackResult, KeelError> {
        Ok(self
            .0
            .edit(&user, dimension.into(), value, context.as_deref())?
            .into())
    }

    /// Delete one preference: it goes back to the starting point.
    pub fn delete_preference(
        &self,
        user: String,
        dimension: Dimension,
        context: Option<String>,
    ) -> Result<FeedbackResult, KeelError> {
        Ok(self
            .0
            .delete_preference(&user, dimension.into(), context.as_deref())?
            .into())
    }

    /// Forget `user` entirely (crypto-shredding); whether the store knew them.
    pub fn forget(&self, user: String) -> Result<bool, KeelError> {
        Ok(self.0.forget(&user)?)
    }

    /// `user`'s data as a sealed export, readable only with `passphrase` (`export` is a
    /// keyword or builtin in some target languages, hence the name).
    pub fn export_user(&self, user: String, passphrase: String) -> Result<Vec<u8>, KeelError> {
        Ok(self.0.export(&user, SecretString::new(passphrase))?)
    }

    /// Import an export into `user`; a wrong passphrase or altered file changes nothing.
    pub fn import_user(
        &self,
        user: String,
        passphrase: String,
        data: Vec<u8>,
    ) -> Result<ImportResult, KeelError> {
        Ok(self
            .0
            .import(&user, &SecretString::new(passphrase), &data)?
            .into())
    }

    /// The model, the bundle (and its signer) and the store.
    pub fn status(&self) -> Result<KeelStatus, KeelError> {
        Ok(self.0.status()?.into())
    }

    /// The bundle in force (for the safety status screen).
    pub fn bundle(&self) -> Result<BundleInfo, KeelError> {
        Ok(self.0.incognito()?.bundle_status().into())
    }

    /// Shut the runtime down: running chats end, later calls fail with `Closed`. Idempotent.
    /// (Named `shutdown` because `close` is the generated objects' own destructor.)
    pub fn shutdown(&self) {
        self.0.close();
    }

    /// Whether `shutdown` was called.
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}
