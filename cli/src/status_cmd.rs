//! `keel status`: what this installation would run with — the model file, the safety bundle
//! and the trust root that signed it (flagging a development root), and the store.

use keel::model_fetch;
use keel::runtime::BundleStatus;
use keel::safety::{MemoryRollbackStore, VerifyPolicy};

use crate::error::CliError;
use crate::globals::Globals;
use crate::safety_args::SafetyArgs;

/// `keel status` arguments.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub safety: SafetyArgs,
}

/// Run `keel status`.
pub fn run(args: StatusArgs, g: &Globals) -> Result<(), CliError> {
    let model = g
        .model
        .clone()
        .or_else(|| model_fetch::find_default_model(&g.home));
    let slot = args
        .safety
        .choice()?
        .load(&VerifyPolicy::now(), &MemoryRollbackStore::default())?;
    let bundle = BundleStatus::of(&slot);
    let store = keel::store::store_path(&g.home);
    if g.json {
        let v = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "home": g.home,
            "model": model,
            "bundle": bundle,
            "store": {"path": store, "exists": store.exists()},
        });
        println!("{v}");
        return Ok(());
    }
    println!("keel {}", env!("CARGO_PKG_VERSION"));
    println!("home     {}", g.home.display());
    match &model {
        Some(p) => println!("model    {}", p.display()),
        None => println!("model    none yet (run `keel model fetch` or pass --model)"),
    }
    match (&bundle.bundle_id, bundle.version, &bundle.digest) {
        (Some(id), Some(version), Some(digest)) => {
            println!("bundle   {id} v{version}, payload sha256 {digest}");
            println!(
                "         expires {}",
                bundle.expires.as_deref().unwrap_or("?")
            );
            println!(
                "root     {}",
                bundle.root_fingerprint.as_deref().unwrap_or("?")
            );
            if bundle.development_root {
                println!("         WARNING: a development root; its signing key is not a publisher's. Ship your own (see README).");
            }
        }
        _ => println!("bundle   none: developer mode, nothing is checked"),
    }
    println!(
        "store    {} ({})",
        store.display(),
        if store.exists() {
            "present"
        } else {
            "not created yet"
        }
    );
    Ok(())
}
