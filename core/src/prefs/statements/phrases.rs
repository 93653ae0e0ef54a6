//! The statement parser's phrase tables: which phrases ask for which value on an envelope
//! dimension (plain and negated), which ask to change a locked behaviour, and which words
//! negate a phrase.

use crate::safety::personalization::{Dimension, LockedBehaviour};

/// A phrase family and the value it asks for on its dimension, plain or negated ("no emoji",
/// "less formal", "too long").
pub(super) struct Rule {
    pub(super) phrases: &'static [&'static str],
    pub(super) dimension: Dimension,
    pub(super) affirmed: f64,
    pub(super) negated: f64,
}

pub(super) const RULES: &[Rule] = &[
    Rule {
        phrases: &[
            "short",
            "shorter",
            "brief",
            "briefer",
            "concise",
            "succinct",
            "to the point",
            "tl;dr",
            "tldr",
            "terse",
            "one sentence",
            "one line",
            "quick answer",
            "quick answers",
        ],
        dimension: Dimension::Verbosity,
        affirmed: 0.15,
        negated: 0.6,
    },
    Rule {
        phrases: &[
            "long",
            "longer",
            "detailed",
            "detail",
            "details",
            "in depth",
            "in-depth",
            "thorough",
            "comprehensive",
            "elaborate",
            "lengthy",
            "verbose",
            "wordy",
            "rambling",
        ],
        dimension: Dimension::Verbosity,
        affirmed: 0.85,
        negated: 0.3,
    },
    Rule {
        phrases: &[
            "bullet",
            "bullets",
            "bullet point",
            "bullet points",
            "list",
            "lists",
            "numbered",
            "step by step",
            "headings",
            "headers",
            "structured",
        ],
        dimension: Dimension::Format,
        affirmed: 0.9,
        negated: 0.15,
    },
    Rule {
        phrases: &[
            "prose",
            "paragraph",
            "paragraphs",
            "full sentences",
            "flowing text",
        ],
        dimension: Dimension::Format,
        affirmed: 0.15,
        negated: 0.8,
    },
    Rule {
        phrases: &["formal", "formally", "professional", "polite", "proper"],
        dimension: Dimension::Formality,
        affirmed: 0.85,
        negated: 0.25,
    },
    Rule {
        phrases: &[
            "casual",
            "casually",
            "informal",
            "relaxed",
            "laid back",
            "laid-back",
        ],
        dimension: Dimension::Formality,
        affirmed: 0.2,
        negated: 0.7,
    },
    Rule {
        phrases: &[
            "explain like i'm five",
            "like i'm five",
            "like im five",
            "eli5",
            "simple",
            "simpler",
            "simply",
            "plain language",
            "plain english",
            "layman",
            "layman's terms",
            "beginner",
            "easy to understand",
            "non-technical",
        ],
        dimension: Dimension::TechnicalDepth,
        affirmed: 0.1,
        negated: 0.6,
    },
    Rule {
        phrases: &[
            "technical",
            "expert",
            "advanced",
            "jargon",
            "precise terminology",
        ],
        dimension: Dimension::TechnicalDepth,
        affirmed: 0.85,
        negated: 0.25,
    },
    Rule {
        phrases: &[
            "warm",
            "warmer",
            "kind",
            "kinder",
            "friendly",
            "friendlier",
            "encouraging",
            "supportive",
            "empathetic",
            "gentle",
        ],
        dimension: Dimension::Warmth,
        affirmed: 0.85,
        negated: 0.3,
    },
    Rule {
        phrases: &[
            "neutral",
            "just the facts",
            "matter of fact",
            "matter-of-fact",
            "no small talk",
            "dry",
            "blunt",
            "direct",
        ],
        dimension: Dimension::Warmth,
        affirmed: 0.2,
        negated: 0.6,
    },
    Rule {
        phrases: &[
            "funny", "humor", "humour", "joke", "jokes", "playful", "witty", "pun", "puns", "fun",
        ],
        dimension: Dimension::Humour,
        affirmed: 0.8,
        negated: 0.1,
    },
    Rule {
        phrases: &["serious", "no nonsense", "no-nonsense"],
        dimension: Dimension::Humour,
        affirmed: 0.1,
        negated: 0.6,
    },
    Rule {
        phrases: &["emoji", "emojis", "emoticons", "smileys", "smiley"],
        dimension: Dimension::Emoji,
        affirmed: 0.9,
        negated: 0.0,
    },
];

/// Requests to change a locked behaviour, matched when `negated` says so (None: either way).
pub(super) const LOCKED: &[(&[&str], LockedBehaviour, Option<bool>)] = &[
    (
        &["refuse", "refusing", "refusals", "say no"],
        LockedBehaviour::Refusals,
        Some(true),
    ),
    (
        &[
            "ignore your rules",
            "ignore the rules",
            "ignore safety",
            "no restrictions",
            "without restrictions",
            "unfiltered",
            "uncensored",
            "jailbreak",
        ],
        LockedBehaviour::Refusals,
        None,
    ),
    (
        &[
            "disclaimer",
            "disclaimers",
            "warning",
            "warnings",
            "safety notice",
            "safety notices",
            "caveats",
        ],
        LockedBehaviour::SafetyNotices,
        Some(true),
    ),
    (
        &[
            "agree with me",
            "tell me i'm right",
            "tell me what i want to hear",
            "say i'm right",
            "flatter me",
        ],
        LockedBehaviour::FactualContent,
        Some(false),
    ),
];

/// Words that turn a phrase around ("no emoji", "less formal").
pub(super) const NEGATORS: &[&str] = &[
    "no", "not", "don't", "dont", "never", "without", "stop", "avoid", "less", "fewer", "skip",
    "drop", "remove", "too", "none", "nor", "cut",
];
