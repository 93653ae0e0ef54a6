//! Opening the Keel runtime the server shares: the model (`--model`, or the default model,
//! fetched if missing), the store's passphrase (`KEEL_PASSPHRASE` or a prompt), the bundle
//! and engine options.

use std::sync::Arc;

use keel::store::{store_path, PassphraseKeyProvider};
use keel::Keel;

use super::args::ServeArgs;
use crate::engine_args::resolve_model;
use crate::error::CliError;
use crate::globals::Globals;
use crate::progress;

/// Open Keel for serving; also returns the model file's stem (a model id alias).
pub fn open_keel(args: &ServeArgs, g: &Globals) -> Result<(Keel, Option<String>), CliError> {
    let model = resolve_model(g)?;
    let alias = model
        .file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_owned);
    let new_store = !store_path(&g.home).is_file();
    let prompt = if new_store {
        "New store passphrase: "
    } else {
        "Store passphrase: "
    };
    let pass = crate::store_access::secret("KEEL_PASSPHRASE", prompt, new_store)?;
    let bar = progress::spinner("opening the store and loading the model");
    let keel = Keel::builder()
        .home(&g.home)
        .model(&model)
        .key_provider(Arc::new(PassphraseKeyProvider::new(pass)))
        .bundle(args.safety.choice()?)
        .engine(args.engine.config())
        .open();
    bar.finish_and_clear();
    Ok((keel?, alias))
}
