//! The runtime: what turns the engine, the safety bundle, the store and the learner into one
//! chat turn as DESIGN.md §2 describes it.
//!
//! [`GatedChat`] runs the bundle's input gate on the person's text, generates on the engine,
//! and streams the answer through the output gate, so nothing unsafe is ever emitted, not
//! even a prefix of it; each turn ends with a [`TurnReport`]. [`PersonalChat`] serves each
//! person through it by their own preferences: the learner rebuilt from their sealed
//! feedback (`personal_prefs.rs`), the profile clamped into the bundle's envelope and
//! compiled into conditioning (`personal_conditioning.rs`), the running turn
//! (`personal_turn.rs`), and every answer recorded so feedback can refer to it
//! (`personal_records.rs`); a concise answer is shown in whole sentences only
//! (`personal_sentences.rs`); best-of-n in `personal_best_of.rs`. It owns no rule (the safety layer does), no model state (the
//! engine does) and no learning maths (prefs does).
//!
//! [`Keel`] is the façade over all of it (`facade*.rs`): one `Send + Sync` runtime that opens
//! the store, the bundle and the model from a builder, queues chats fairly for the engine,
//! streams answers that cancel on drop, offers incognito chat, and the person's feedback,
//! profile, forgetting, export and import.

mod bundle;
mod facade;
mod facade_builder;
mod facade_dispatch;
mod facade_keys;
mod facade_person;
mod facade_queue;
mod facade_stream;
mod gated;
mod gated_input;
mod personal;
mod personal_best_of;
mod personal_conditioning;
mod personal_error;
mod personal_judge;
mod personal_prefs;
mod personal_records;
mod personal_sentences;
mod personal_turn;

pub use bundle::{BundleChoice, BundleStatus};
pub use facade::{Incognito, Keel, KeelStatus, StoreStatus};
pub use facade_builder::KeelBuilder;
pub use facade_keys::SharedKeyProvider;
pub use facade_stream::{ChatCancel, ChatEvent, ChatOptions, ChatStream, KeelReport};
pub use gated::{GatedChat, GatedTurn, TurnEvent, TurnReport};
pub use personal::PersonalChat;
pub use personal_best_of::{
    check_candidates, BestOf, BestOfReport, CandidateReport, MAX_CANDIDATES,
};
pub use personal_error::PersonalError;
pub use personal_prefs::{FeedbackReport, Outcome, Personalizer};
pub use personal_records::{prompt_key, StoredTurns, TurnBody, EVENT_KIND_OBSERVATIONS};
pub use personal_turn::{PersonalEvent, PersonalReport, PersonalTurn};
