//! The learned safety classifier: a compact logistic-regression model over hashed word and
//! character n-grams of the gate's normalized text, pure Rust and deterministic. This module
//! owns the features ([`features`]), the weights and their compact serde form ([`model`]), the
//! public corpora reader ([`data`], [`csv`]), training ([`train`]) and evaluation ([`eval`]).
//! It does not decide anything by itself: a bundle rule carries the weights and the threshold
//! (ADR 0041), and the gate applies them through [`check`]. Model choice and measurements: `docs/adr/0040-*.md`.

pub mod check;
pub mod csv;
pub mod data;
pub mod eval;
pub mod features;
pub mod model;
pub mod train;

pub use check::ClassifierCheck;
pub use model::{Classifier, ClassifierSpec, ModelError};
pub use train::{ModelFile, Thresholds, TrainConfig, Trained};
