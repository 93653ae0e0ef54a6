//! Command-line options choosing the safety bundle a command serves with, and building the
//! gated chat from them.

use std::path::PathBuf;
use std::sync::Arc;

use keel::engine::Engine;
use keel::runtime::{BundleChoice, GatedChat};
use keel::safety::{MemoryRollbackStore, VerifyPolicy};

use crate::error::CliError;

/// Which safety bundle gates the answers.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Safety")]
pub struct SafetyArgs {
    /// A signed bundle file (default: the bundle compiled into Keel). Needs --root.
    #[arg(long, requires = "root")]
    pub bundle: Option<PathBuf>,
    /// The trust root (root.json) that --bundle must be signed by.
    #[arg(long, requires = "bundle")]
    pub root: Option<PathBuf>,
    /// Run without any bundle: nothing is checked and every answer says so.
    #[arg(long, conflicts_with_all = ["bundle", "root"])]
    pub developer_mode: bool,
}

impl SafetyArgs {
    /// The bundle choice these options describe.
    pub fn choice(&self) -> Result<BundleChoice, CliError> {
        if self.developer_mode {
            return Ok(BundleChoice::DeveloperMode);
        }
        match (&self.bundle, &self.root) {
            (Some(bundle), Some(root)) => Ok(BundleChoice::Files {
                root: std::fs::read(root)
                    .map_err(|e| CliError::io(format!("read {}", root.display()), e))?,
                bundle: std::fs::read(bundle)
                    .map_err(|e| CliError::io(format!("read {}", bundle.display()), e))?,
            }),
            _ => Ok(BundleChoice::Default),
        }
    }

    /// Put `engine` behind the chosen bundle's gate. Without a store, anti-rollback state
    /// lives in memory for this process.
    pub fn gated(&self, engine: Engine) -> Result<GatedChat, CliError> {
        let slot = self
            .choice()?
            .load(&VerifyPolicy::now(), &MemoryRollbackStore::default())?;
        Ok(GatedChat::new(Arc::new(engine), slot))
    }
}
