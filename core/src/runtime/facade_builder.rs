//! Opening a [`Keel`] runtime: the builder that gathers the model, the home directory, the
//! key provider, the bundle and the engine settings, and `open`, which puts them together in
//! the order that fails cheapest first — the store (a wrong or failing key costs no model
//! load), the bundle (verified, its version kept in the store against rollback), then the
//! model.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::{Engine, EngineConfig};
use crate::prefs::{LearnerConfig, PopulationPrior};
use crate::safety::VerifyPolicy;
use crate::store::{store_path, KeyProvider, Store};
use crate::Error;

use super::facade::{Keel, Opened};
use super::facade_keys::{GuardedProvider, SharedKeyProvider};
use super::{BundleChoice, Personalizer};

/// Settings for [`Keel::builder`]. Only the key provider is required.
#[derive(Clone)]
pub struct KeelBuilder {
    model: Option<PathBuf>,
    home: Option<PathBuf>,
    store: Option<PathBuf>,
    keys: Option<SharedKeyProvider>,
    bundle: BundleChoice,
    engine: EngineConfig,
    prior: PopulationPrior,
    learner: LearnerConfig,
}

impl std::fmt::Debug for KeelBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeelBuilder")
            .field("model", &self.model)
            .field("home", &self.home)
            .field("store", &self.store)
            .field("key_provider", &self.keys.as_ref().map(|k| k.method()))
            .field("engine", &self.engine)
            .finish_non_exhaustive()
    }
}

impl Default for KeelBuilder {
    fn default() -> Self {
        Self {
            model: None,
            home: None,
            store: None,
            keys: None,
            bundle: BundleChoice::Default,
            engine: EngineConfig::default(),
            prior: PopulationPrior::neutral(0),
            learner: LearnerConfig::default(),
        }
    }
}

impl KeelBuilder {
    /// The GGUF model file (default: the default model under the home directory, or under
    /// the platform's default Keel home, as `keel model fetch` put it).
    pub fn model(mut self, path: impl Into<PathBuf>) -> Self {
        self.model = Some(path.into());
        self
    }

    /// Keel's state directory (default: `KEEL_HOME`'s usual place, e.g.
    /// `~/.local/share/keel`); the store lives in `<home>/store/keel.db`.
    pub fn home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.home = Some(dir.into());
        self
    }

    /// Keep the store somewhere other than `<home>/store/keel.db`.
    pub fn store_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.store = Some(path.into());
        self
    }

    /// Where the store's master key comes from: the platform keystore
    /// ([`crate::store::PlatformKeyProvider`], or a foreign implementation through the
    /// bindings), a passphrase, or a raw key. Required.
    pub fn key_provider(mut self, keys: Arc<dyn KeyProvider + Send + Sync>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// The safety bundle (default: the signed default bundle). A bundle file is verified
    /// against the root the app pins; its version is kept in the store so that an older
    /// bundle is refused later.
    pub fn bundle(mut self, bundle: BundleChoice) -> Self {
        self.bundle = bundle;
        self
    }

    /// Engine settings: threads, context size, batch size, GPU layers.
    pub fn engine(mut self, config: EngineConfig) -> Self {
        self.engine = config;
        self
    }

    /// The population prior every person starts from (default: neutral).
    pub fn prior(mut self, prior: PopulationPrior) -> Self {
        self.prior = prior;
        self
    }

    /// The learner's tuning (default: the measured defaults).
    pub fn learner(mut self, config: LearnerConfig) -> Self {
        self.learner = config;
        self
    }

    /// Open the runtime: the store, the bundle, the model (seconds). Blocks the thread.
    pub fn open(self) -> Result<Keel, Error> {
        let keys = self.keys.clone().ok_or_else(|| {
            Error::Config(
                "no key provider: call key_provider() with the platform keystore, a passphrase \
                 or a raw key"
                    .into(),
            )
        })?;
        let home = crate::home::resolve(self.home.as_deref())?;
        let store_file = self.store.clone().unwrap_or_else(|| store_path(&home));
        let guarded = GuardedProvider::new(keys)?;
        let key_method = guarded.method().as_str();
        let store = Arc::new(Store::open(&store_file, &guarded)?);
        let slot = self.bundle.load(&VerifyPolicy::now(), store.as_ref())?;
        let model = self.model_path(&home)?;
        let engine = Arc::new(Engine::load(&model, self.engine)?);
        let prefs = Personalizer::for_slot(store, &slot, self.prior, self.learner)?;
        Keel::from_opened(Opened {
            engine,
            slot,
            prefs,
            home,
            store_path: store_file,
            key_method,
        })
    }

    /// [`KeelBuilder::open`] on tokio's blocking pool, for async callers.
    pub async fn open_async(self) -> Result<Keel, Error> {
        tokio::task::spawn_blocking(move || self.open())
            .await
            .map_err(|_| Error::Config("opening the runtime was interrupted".into()))?
    }

    fn model_path(&self, home: &Path) -> Result<PathBuf, Error> {
        match &self.model {
            Some(p) => Ok(p.clone()),
            None => crate::model_fetch::find_default_model(home).ok_or_else(|| {
                Error::Config(
                    "no model: pass model(path), or fetch the default model with \
                     `keel model fetch`"
                        .into(),
                )
            }),
        }
    }
}
