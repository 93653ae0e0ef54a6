//! The runtime: what turns the engine, the safety bundle (and, with the façade issue, the
//! store and the learner) into one chat turn as DESIGN.md §2 describes it.
//!
//! Today it owns the gated turn: [`GatedChat`] runs the bundle's input gate on the person's
//! text, generates on the engine, and streams the answer through the output gate, so nothing
//! unsafe is ever emitted, not even a prefix of it; each turn ends with a [`TurnReport`].
//! It owns no rule (the safety layer does) and no model state (the engine does).

mod bundle;
mod gated;

pub use bundle::{BundleChoice, BundleStatus};
pub use gated::{GatedChat, GatedTurn, TurnEvent, TurnReport};
