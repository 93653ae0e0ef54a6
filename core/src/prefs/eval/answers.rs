//! Synthetic answers with a controllable style, so the evaluation computes features from real
//! text (with all the noise of [`crate::prefs::features::extract`]) rather than handing the
//! learner the latent style it is meant to discover.

use crate::prefs::eval::rng::SplitMix64;

/// The latent style of an answer, each part 0–1 (`list` is 0 or 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Style {
    /// Short (0) to long (1).
    pub length: f64,
    /// Prose (0) or a list (1).
    pub list: f64,
    /// Casual (0) to formal (1).
    pub formality: f64,
    /// No emoji (0) to many (1).
    pub emoji: f64,
    /// Plain (0) to technical (1).
    pub technical: f64,
    /// Neutral (0) to warm (1).
    pub warmth: f64,
}

impl Style {
    /// Latent parts in a fixed order (length, list, formality, emoji, technical, warmth).
    pub fn parts(&self) -> [f64; 6] {
        [
            self.length,
            self.list,
            self.formality,
            self.emoji,
            self.technical,
            self.warmth,
        ]
    }

    /// A uniformly random style.
    pub fn random(rng: &mut SplitMix64) -> Self {
        Self {
            length: rng.unit(),
            list: if rng.chance(0.5) { 1.0 } else { 0.0 },
            formality: rng.unit(),
            emoji: rng.unit(),
            technical: rng.unit(),
            warmth: rng.unit(),
        }
    }
}

/// A prompt topic: its title, everyday words and technical words.
pub struct Topic {
    /// Heading text.
    pub title: &'static str,
    /// Short everyday words.
    pub plain: &'static [&'static str],
    /// Long technical words.
    pub technical: &'static [&'static str],
}

/// The topics prompts are drawn from.
pub const TOPICS: &[Topic] = &[
    Topic {
        title: "Baking bread",
        plain: &[
            "dough", "flour", "oven", "bread", "crust", "water", "bowl", "salt",
        ],
        technical: &[
            "fermentation",
            "hydration",
            "gluten",
            "temperature",
            "enzymatic",
            "proofing",
        ],
    },
    Topic {
        title: "Fixing a slow laptop",
        plain: &[
            "laptop", "disk", "apps", "files", "fan", "screen", "update", "memory",
        ],
        technical: &[
            "virtualization",
            "fragmentation",
            "throughput",
            "configuration",
            "processes",
        ],
    },
    Topic {
        title: "Training for a run",
        plain: &[
            "run", "legs", "shoes", "pace", "rest", "water", "week", "route",
        ],
        technical: &[
            "periodization",
            "cardiovascular",
            "lactate",
            "aerobic",
            "recovery",
        ],
    },
    Topic {
        title: "Saving money",
        plain: &[
            "money", "bills", "rent", "bank", "cash", "food", "plan", "goal",
        ],
        technical: &[
            "amortization",
            "diversification",
            "liquidity",
            "compounding",
            "allocation",
        ],
    },
    Topic {
        title: "Growing tomatoes",
        plain: &[
            "seeds", "soil", "sun", "pots", "water", "leaves", "fruit", "garden",
        ],
        technical: &[
            "germination",
            "photosynthesis",
            "nitrogen",
            "irrigation",
            "pollination",
        ],
    },
];

const VERBS: &[&str] = &[
    "helps", "needs", "makes", "keeps", "shows", "gives", "takes", "uses",
];
const FILLER: &[&str] = &["the", "a", "your", "this", "each", "some", "more", "every"];
const FORMAL_OPENERS: &[&str] = &[
    "Furthermore,",
    "However,",
    "Therefore,",
    "Additionally,",
    "Consequently,",
    "Moreover,",
];
const CASUAL_BITS: &[&str] = &[
    "it's",
    "you'll",
    "don't",
    "basically",
    "okay",
    "gonna",
    "cool",
];
const EMOJI: &[&str] = &["😀", "👍", "🎉", "✨", "🔥", "🙂"];

/// A generated answer and the style a reader actually sees in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The text.
    pub text: String,
    /// The realized style: the share of sentences with formal openers against casual bits,
    /// of sentences with emoji, of technical words, the sentence count and whether it is warm
    /// (the requested style is only a tendency; people judge what they read).
    pub seen: Style,
}

/// Write an answer on `topic` tending toward `style`.
pub fn answer(topic: &Topic, style: &Style, rng: &mut SplitMix64) -> Answer {
    let sentences_wanted = 1 + (style.length * 9.0).round() as usize + rng.below(2);
    let words_per_sentence = 6.0 + style.technical * 12.0;
    let mut sentences = Vec::with_capacity(sentences_wanted + 2);
    let (mut formal, mut casual, mut emoji, mut technical, mut content) = (0, 0, 0, 0, 0);
    for _ in 0..sentences_wanted {
        let mut words: Vec<&str> = Vec::new();
        if rng.chance(style.formality * 0.8) {
            words.push(*rng.pick(FORMAL_OPENERS));
            formal += 1;
        }
        if rng.chance((1.0 - style.formality) * 0.8) {
            words.push(*rng.pick(CASUAL_BITS));
            casual += 1;
        }
        let target = (words_per_sentence + rng.range(-2.0, 2.0)).max(4.0) as usize;
        while words.len() < target {
            let slot = words.len() % 3;
            let word = match slot {
                0 => *rng.pick(FILLER),
                1 if rng.chance(0.2 + 0.7 * style.technical) => {
                    technical += 1;
                    content += 1;
                    *rng.pick(topic.technical)
                }
                1 => {
                    content += 1;
                    *rng.pick(topic.plain)
                }
                _ => *rng.pick(VERBS),
            };
            words.push(word);
        }
        let mut s = capitalize(&words.join(" "));
        s.push('.');
        if rng.chance(style.emoji * 0.7) {
            emoji += 1;
            s.push(' ');
            let emoji_char: &&str = rng.pick(EMOJI);
            s.push_str(emoji_char);
        }
        sentences.push(s);
    }
    let warm = rng.chance(style.warmth);
    let mut text = String::new();
    if style.list > 0.5 {
        if style.length > 0.6 {
            text.push_str("## ");
            text.push_str(topic.title);
            text.push_str("\n\n");
        }
        if warm {
            text.push_str("Happy to help.\n");
        }
        text.push_str("Here is what matters:\n");
        for s in &sentences {
            text.push_str("- ");
            text.push_str(s);
            text.push('\n');
        }
    } else {
        if warm {
            text.push_str("Happy to help. ");
        }
        for (i, s) in sentences.iter().enumerate() {
            if i > 0 {
                text.push_str(if i % 3 == 0 { "\n\n" } else { " " });
            }
            text.push_str(s);
        }
    }
    if warm {
        text.push_str("\n\nHope this helps. Would you like more tips?");
    }
    let n = sentences_wanted as f64;
    let seen = Style {
        length: ((n - 1.0) / 10.0).min(1.0),
        list: style.list,
        formality: 0.5 + 0.5 * (formal as f64 - casual as f64) / n,
        emoji: emoji as f64 / n,
        technical: technical as f64 / f64::from(content.max(1)),
        warmth: if warm { 1.0 } else { 0.0 },
    };
    Answer { text, seen }
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prefs::features::{extract, StyleFeature};

    #[test]
    fn the_latent_style_shows_in_the_features() {
        let mut rng = SplitMix64::new(1, 1);
        let base = Style {
            length: 0.1,
            list: 0.0,
            formality: 0.1,
            emoji: 0.0,
            technical: 0.1,
            warmth: 0.0,
        };
        let rich = Style {
            length: 0.9,
            list: 1.0,
            formality: 0.9,
            emoji: 1.0,
            technical: 0.9,
            warmth: 1.0,
        };
        let (a, b) = (
            extract(&answer(&TOPICS[0], &base, &mut rng).text),
            extract(&answer(&TOPICS[0], &rich, &mut rng).text),
        );
        for f in [
            StyleFeature::Length,
            StyleFeature::ListShare,
            StyleFeature::Formality,
            StyleFeature::Emoji,
            StyleFeature::SentenceLength,
            StyleFeature::QuestionsBack,
        ] {
            assert!(b.get(f) > a.get(f), "{f:?}: {} vs {}", b.get(f), a.get(f));
        }
    }
}
