//! Plain records and enums that cross the boundary, each the mirror of one `keel` type with
//! a `From` conversion and nothing else: messages and options in; the chat report, the
//! profile, feedback results and the status out.

use keel::engine::{ChatMessage as CoreMessage, Role as CoreRole};
use keel::prefs::Source as CoreSource;
use keel::runtime::{BundleStatus, FeedbackReport, Outcome};
use keel::safety::personalization::Dimension as CoreDimension;
use keel::safety::Verdict as CoreVerdict;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Role {
    /// Instructions for the assistant.
    System,
    /// The person.
    User,
    /// The model.
    Assistant,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct ChatMessage {
    /// Who wrote it.
    pub role: Role,
    /// What it says.
    pub content: String,
}

impl From<ChatMessage> for CoreMessage {
    fn from(m: ChatMessage) -> Self {
        let role = match m.role {
            Role::System => CoreRole::System,
            Role::User => CoreRole::User,
            Role::Assistant => CoreRole::Assistant,
        };
        CoreMessage {
            role,
            content: m.content,
        }
    }
}

/// Converts a conversation for the core.
pub(crate) fn messages(m: Vec<ChatMessage>) -> Vec<CoreMessage> {
    m.into_iter().map(Into::into).collect()
}

/// How to answer one chat request; [`crate::default_chat_options`] gives the defaults.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct ChatOptions {
    /// At most this many tokens are generated.
    pub max_tokens: u32,
    /// Softmax temperature; 0 is greedy (the same answer every time).
    pub temperature: f32,
    /// Nucleus sampling mass (1.0: off).
    pub top_p: f32,
    /// Random seed for sampling.
    pub seed: u32,
    /// Subtracted once per earlier use of a token in the answer (-2 to 2; 0: off).
    #[uniffi(default = 0.0)]
    pub frequency_penalty: f32,
    /// Subtracted once for any token the answer already used (-2 to 2; 0: off).
    #[uniffi(default = 0.0)]
    pub presence_penalty: f32,
    /// Generation stops before any of these strings.
    pub stop: Vec<String>,
    /// The app's context key ("work", "cooking"); ignored by incognito chats.
    pub context: Option<String>,
    /// Answer with the best of this many candidates by the person's own model (1 to 8; 1:
    /// streamed). Above 1 the answer arrives in one piece at about that many times the cost.
    #[uniffi(default = 1)]
    pub best_of: u32,
}

impl From<keel::ChatOptions> for ChatOptions {
    fn from(o: keel::ChatOptions) -> Self {
        Self {
            max_tokens: o.max_tokens,
            temperature: o.temperature,
            top_p: o.top_p,
            seed: o.seed,
            frequency_penalty: o.frequency_penalty,
            presence_penalty: o.presence_penalty,
            stop: o.stop,
            context: o.context,
            best_of: o.best_of,
        }
    }
}

impl From<ChatOptions> for keel::ChatOptions {
    fn from(o: ChatOptions) -> Self {
        Self {
            max_tokens: o.max_tokens,
            temperature: o.temperature,
            top_p: o.top_p,
            seed: o.seed,
            frequency_penalty: o.frequency_penalty,
            presence_penalty: o.presence_penalty,
            stop: o.stop,
            context: o.context,
            best_of: o.best_of,
        }
    }
}

/// A preference dimension the bundle's envelope may let a person personalize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Dimension {
    /// Short (0) to detailed (1) answers.
    Verbosity,
    /// Casual (0) to formal (1) register.
    Formality,
    /// Plain-language (0) to expert (1) explanations.
    TechnicalDepth,
    /// Neutral (0) to warm (1) tone.
    Warmth,
    /// Serious (0) to playful (1).
    Humour,
    /// Prose (0) to lists (1).
    Format,
    /// No emoji (0) to many (1).
    Emoji,
}

macro_rules! mirror_enum {
    ($ours:ident, $core:ident, [$($v:ident),*]) => {
        impl From<$core> for $ours {
            fn from(d: $core) -> Self {
                match d { $($core::$v => Self::$v),* }
            }
        }
        impl From<$ours> for $core {
            fn from(d: $ours) -> Self {
                match d { $($ours::$v => Self::$v),* }
            }
        }
    };
}

mirror_enum!(
    Dimension,
    CoreDimension,
    [
        Verbosity,
        Formality,
        TechnicalDepth,
        Warmth,
        Humour,
        Format,
        Emoji
    ]
);

/// Where a preference's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Source {
    /// The population's starting point.
    Population,
    /// Learned from the person's feedback.
    Learned,
    /// Said by the person in a statement.
    Stated,
    /// Set by the person in their profile.
    Edited,
}

mirror_enum!(Source, CoreSource, [Population, Learned, Stated, Edited]);

/// The gate's decision, from mildest to strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum Verdict {
    /// Nothing matched.
    Allow,
    /// A notice was appended.
    Annotate,
    /// Spans were masked.
    Redact,
    /// The answer was replaced by the bundle's refusal.
    Block,
}

mirror_enum!(Verdict, CoreVerdict, [Allow, Annotate, Redact, Block]);

/// The safety bundle in force (what the "safety status" screen shows).
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct BundleInfo {
    /// The bundle's id (absent in developer mode).
    pub bundle_id: Option<String>,
    /// Its version.
    pub version: Option<u64>,
    /// SHA-256 of its payload, hex.
    pub digest: Option<String>,
    /// When it expires (RFC 3339).
    pub expires: Option<String>,
    /// The fingerprint of the root that signed it (the signer).
    pub root_fingerprint: Option<String>,
    /// Whether that root is a development root.
    pub development_root: bool,
    /// No bundle: nothing is checked.
    pub developer_mode: bool,
}

impl From<BundleStatus> for BundleInfo {
    fn from(b: BundleStatus) -> Self {
        Self {
            bundle_id: b.bundle_id,
            version: b.version,
            digest: b.digest,
            expires: b.expires,
            root_fingerprint: b.root_fingerprint,
            development_root: b.development_root,
            developer_mode: b.developer_mode,
        }
    }
}

/// What one clause of feedback amounted to.
#[derive(Debug, Clone, PartialEq, uniffi::Enum)]
pub enum FeedbackOutcome {
    /// The learner took it into account.
    Learned {
        /// The kind of evidence.
        kind: String,
    },
    /// A preference was set or deleted.
    Applied {
        /// The dimension.
        dimension: Dimension,
        /// The value asked for (absent for a deletion).
        requested: Option<f64>,
        /// The value used, inside the envelope (absent for a deletion).
        value: Option<f64>,
        /// The envelope's reason when the value was moved.
        adjusted: Option<String>,
    },
    /// The envelope refused it; nothing was applied.
    Refused {
        /// The dimension, when the refusal is about one.
        dimension: Option<Dimension>,
        /// Why, for people.
        reason: String,
    },
    /// Nothing maps to it: stored as a note.
    Unmapped {
        /// The clause as written.
        note: String,
    },
}

impl From<Outcome> for FeedbackOutcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Learned { kind } => Self::Learned {
                kind: kind.to_owned(),
            },
            Outcome::Applied {
                dimension,
                requested,
                value,
                adjusted,
            } => Self::Applied {
                dimension: dimension.into(),
                requested,
                value,
                adjusted,
            },
            Outcome::Refused { dimension, reason } => Self::Refused {
                dimension: dimension.map(Into::into),
                reason,
            },
            Outcome::Unmapped { note } => Self::Unmapped { note },
        }
    }
}

/// What a feedback call did.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct FeedbackResult {
    /// The turn it was about, if any.
    pub turn_id: Option<String>,
    /// The stored event (absent when nothing was stored).
    pub event_id: Option<i64>,
    /// Observations it amounts to for the learner.
    pub observations: u64,
    /// What each part amounted to.
    pub outcomes: Vec<FeedbackOutcome>,
    /// The profile snapshot saved afterwards.
    pub profile_revision: i64,
}

impl From<FeedbackReport> for FeedbackResult {
    fn from(r: FeedbackReport) -> Self {
        Self {
            turn_id: r.turn.map(|t| t.as_str().to_owned()),
            event_id: r.event_id,
            observations: r.observations as u64,
            outcomes: r.outcomes.into_iter().map(Into::into).collect(),
            profile_revision: r.profile_revision,
        }
    }
}

/// One dimension of a person's profile.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Preference {
    /// The dimension.
    pub dimension: Dimension,
    /// The value used, 0–1, inside the envelope.
    pub value: f64,
    /// The learner's lean (log-odds per unit of feature; 0 is none).
    pub lean: f64,
    /// How sure the direction of the lean is, 0–1.
    pub confidence: f64,
    /// Feedback events that carried evidence about it.
    pub evidence: u32,
    /// Where the value comes from.
    pub source: Source,
    /// The envelope's reason when it moved or fixed the value.
    pub adjusted: Option<String>,
}

/// A person's profile in one context (or globally), with its description in words.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Profile {
    /// The context; absent for the global profile.
    pub context: Option<String>,
    /// One preference per dimension.
    pub preferences: Vec<Preference>,
    /// The profile in words, one line per preference.
    pub description: Vec<String>,
}

impl From<keel::prefs::Profile> for Profile {
    fn from(p: keel::prefs::Profile) -> Self {
        let description = p.describe();
        Self {
            context: p.context.as_ref().map(|c| c.as_str().to_owned()),
            preferences: p
                .preferences
                .into_iter()
                .map(|q| Preference {
                    dimension: q.dimension.into(),
                    value: q.value,
                    lean: q.lean,
                    confidence: q.confidence,
                    evidence: q.evidence,
                    source: q.source.into(),
                    adjusted: q.adjusted,
                })
                .collect(),
            description,
        }
    }
}
