//! Interpretable style features of an answer, computed from its text. Each feature is on a
//! comparable 0–1 scale, oriented so that a higher value means more of the high end of its
//! envelope [`Dimension`] (longer, more formal, more list-like, ...). An optional embedding
//! block from the engine can be attached; it feeds ranking but maps to no dimension.

use serde::{Deserialize, Serialize};

use crate::prefs::PrefsError;
use crate::safety::personalization::Dimension;

/// How many style features [`extract`] computes.
pub const STYLE_FEATURES: usize = 12;

/// One interpretable style measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StyleFeature {
    /// Words, on a log scale (about 600 words is 1.0).
    Length,
    /// Paragraphs and blocks (8 or more is 1.0).
    Paragraphs,
    /// Share of non-empty lines that are list items.
    ListShare,
    /// Headings (4 or more is 1.0).
    Headings,
    /// Code fences and inline code spans (3 or more is 1.0).
    Code,
    /// Mean sentence length (40 words is 1.0).
    SentenceLength,
    /// A Flesch–Kincaid grade proxy (grade 18 is 1.0).
    ReadingLevel,
    /// Formal markers against casual markers and contractions, per sentence (0.5 is neutral).
    Formality,
    /// Emoji and emoticons per sentence (one or more per sentence is 1.0).
    Emoji,
    /// Questions back to the person (2 or more is 1.0).
    QuestionsBack,
    /// Warm phrases such as "happy to help" (3 or more is 1.0).
    WarmthMarkers,
    /// Laughter, jokes and exclamations (3 or more is 1.0).
    HumourMarkers,
}

impl StyleFeature {
    /// Every feature, in vector order.
    pub const ALL: [StyleFeature; STYLE_FEATURES] = [
        Self::Length,
        Self::Paragraphs,
        Self::ListShare,
        Self::Headings,
        Self::Code,
        Self::SentenceLength,
        Self::ReadingLevel,
        Self::Formality,
        Self::Emoji,
        Self::QuestionsBack,
        Self::WarmthMarkers,
        Self::HumourMarkers,
    ];

    /// The envelope dimension this feature expresses.
    pub fn dimension(self) -> Dimension {
        match self {
            Self::Length | Self::Paragraphs => Dimension::Verbosity,
            Self::ListShare | Self::Headings => Dimension::Format,
            Self::Code | Self::SentenceLength | Self::ReadingLevel => Dimension::TechnicalDepth,
            Self::Formality => Dimension::Formality,
            Self::Emoji => Dimension::Emoji,
            Self::QuestionsBack | Self::WarmthMarkers => Dimension::Warmth,
            Self::HumourMarkers => Dimension::Humour,
        }
    }

    /// The feature's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Length => "length",
            Self::Paragraphs => "paragraphs",
            Self::ListShare => "list_share",
            Self::Headings => "headings",
            Self::Code => "code",
            Self::SentenceLength => "sentence_length",
            Self::ReadingLevel => "reading_level",
            Self::Formality => "formality",
            Self::Emoji => "emoji",
            Self::QuestionsBack => "questions_back",
            Self::WarmthMarkers => "warmth_markers",
            Self::HumourMarkers => "humour_markers",
        }
    }

    /// Indices (into the style block) of the features that express `dimension`.
    pub fn indices_of(dimension: Dimension) -> impl Iterator<Item = usize> {
        Self::ALL
            .into_iter()
            .enumerate()
            .filter(move |(_, f)| f.dimension() == dimension)
            .map(|(i, _)| i)
    }
}

/// The features of one answer: the style block and an optional embedding block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureVector {
    /// Style features, in [`StyleFeature::ALL`] order, each 0–1.
    pub style: [f64; STYLE_FEATURES],
    /// Embedding features supplied by the caller (empty when none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub embedding: Vec<f32>,
}

impl FeatureVector {
    /// Attach an embedding block; every value must be finite.
    pub fn with_embedding(mut self, embedding: &[f32]) -> Result<Self, PrefsError> {
        if embedding.iter().any(|v| !v.is_finite()) {
            return Err(PrefsError::NonFinite);
        }
        self.embedding = embedding.to_vec();
        Ok(self)
    }

    /// The value of one style feature.
    pub fn get(&self, feature: StyleFeature) -> f64 {
        self.style[feature as usize]
    }
}

/// Counts behind the features; also used for length budgets.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TextStats {
    /// Words (tokens with a letter or digit).
    pub words: usize,
    /// Sentences (at least 1 for non-empty text).
    pub sentences: usize,
    /// Estimated syllables.
    pub syllables: usize,
}

impl TextStats {
    /// A model-token estimate (about 1.3 tokens per English word).
    pub fn approx_tokens(&self) -> usize {
        (self.words as f64 * 1.3).ceil() as usize
    }
}

const FORMAL: [&str; 18] = [
    "therefore",
    "however",
    "furthermore",
    "moreover",
    "consequently",
    "regarding",
    "accordingly",
    "additionally",
    "thus",
    "hence",
    "nevertheless",
    "whereas",
    "approximately",
    "subsequently",
    "ensure",
    "recommended",
    "shall",
    "regards",
];
const CASUAL: [&str; 18] = [
    "hey",
    "hi",
    "yeah",
    "yep",
    "cool",
    "awesome",
    "gonna",
    "wanna",
    "kinda",
    "stuff",
    "ok",
    "okay",
    "super",
    "totally",
    "btw",
    "basically",
    "lots",
    "nope",
];
const WARM: [&str; 10] = [
    "glad",
    "happy to",
    "hope this helps",
    "great question",
    "you're welcome",
    "thank you",
    "take care",
    "good luck",
    "enjoy",
    "i understand",
];
const LAUGH: [&str; 5] = ["haha", "lol", "joke", "pun", "😄"];

/// Compute the style features of `text`.
pub fn extract(text: &str) -> FeatureVector {
    let stats = stats(text);
    let lower = text.to_lowercase();
    let words = stats.words.max(1) as f64;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let list_lines = lines.iter().filter(|l| is_list_item(l)).count();
    let headings = lines.iter().filter(|l| is_heading(l)).count();
    let paragraphs = text
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .count()
        .max(usize::from(!lines.is_empty()));
    let fences = text.matches("```").count() / 2;
    let inline = text.matches('`').count().saturating_sub(fences * 6) / 2;
    let tokens: Vec<String> = lower
        .split_whitespace()
        .map(|t| t.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’'))
        .map(str::to_string)
        .collect();
    let formal = tokens
        .iter()
        .filter(|t| FORMAL.contains(&t.as_str()))
        .count();
    let casual = tokens
        .iter()
        .filter(|t| CASUAL.contains(&t.as_str()))
        .count()
        + tokens.iter().filter(|t| is_contraction(t)).count();
    let emoji = text.chars().filter(|&c| is_emoji(c)).count()
        + [":)", ":-)", ":D", ";)"]
            .iter()
            .map(|e| text.matches(e).count())
            .sum::<usize>();
    let warm = WARM.iter().map(|w| lower.matches(w).count()).sum::<usize>();
    let laughs = LAUGH
        .iter()
        .map(|w| lower.matches(w).count())
        .sum::<usize>()
        + text.matches('!').count();
    let questions = text.matches('?').count();
    let grade = if stats.words == 0 {
        0.0
    } else {
        0.39 * words / stats.sentences as f64 + 11.8 * stats.syllables as f64 / words - 15.59
    };
    let mut style = [0.0; STYLE_FEATURES];
    style[StyleFeature::Length as usize] = unit((1.0 + words).ln() / 601f64.ln());
    style[StyleFeature::Paragraphs as usize] = unit(paragraphs as f64 / 8.0);
    style[StyleFeature::ListShare as usize] = if lines.is_empty() {
        0.0
    } else {
        list_lines as f64 / lines.len() as f64
    };
    style[StyleFeature::Headings as usize] = unit(headings as f64 / 4.0);
    style[StyleFeature::Code as usize] = unit((fences + inline) as f64 / 3.0);
    style[StyleFeature::SentenceLength as usize] =
        unit(stats.words as f64 / stats.sentences.max(1) as f64 / 40.0);
    style[StyleFeature::ReadingLevel as usize] = unit(grade / 18.0);
    let sentences = stats.sentences.max(1) as f64;
    style[StyleFeature::Formality as usize] =
        unit(0.5 + 0.5 * (formal as f64 - casual as f64) / sentences);
    style[StyleFeature::Emoji as usize] = unit(emoji as f64 / sentences);
    style[StyleFeature::QuestionsBack as usize] = unit(questions as f64 / 2.0);
    style[StyleFeature::WarmthMarkers as usize] = unit(warm as f64 / 3.0);
    style[StyleFeature::HumourMarkers as usize] = unit(laughs as f64 / 3.0);
    FeatureVector {
        style,
        embedding: Vec::new(),
    }
}

/// Word, sentence and syllable counts of `text`.
pub fn stats(text: &str) -> TextStats {
    let mut words = 0;
    let mut syllables = 0;
    for token in text.split_whitespace() {
        if token.chars().any(char::is_alphanumeric) {
            words += 1;
            syllables += syllables_in(token);
        }
    }
    let mut sentences = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let ends = matches!(c, '.' | '!' | '?' | '\n');
        if ends && chars.peek().is_none_or(|n| n.is_whitespace()) {
            sentences += 1;
            while chars.peek().is_some_and(|n| n.is_whitespace()) {
                chars.next();
            }
        }
    }
    let trailing = text.trim_end();
    if !trailing.is_empty() && !trailing.ends_with(['.', '!', '?']) {
        sentences += 1;
    }
    TextStats {
        words,
        sentences: sentences.min(words).max(usize::from(words > 0)),
        syllables,
    }
}

fn unit(v: f64) -> f64 {
    if v.is_finite() {
        v.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

fn syllables_in(word: &str) -> usize {
    let mut count = 0;
    let mut previous_vowel = false;
    for c in word.chars().flat_map(char::to_lowercase) {
        let vowel = matches!(c, 'a' | 'e' | 'i' | 'o' | 'u' | 'y');
        if vowel && !previous_vowel {
            count += 1;
        }
        previous_vowel = vowel;
    }
    if word.to_lowercase().ends_with('e') && count > 1 {
        count -= 1;
    }
    count.max(1)
}

fn is_list_item(line: &str) -> bool {
    if line.starts_with("- ") || line.starts_with("* ") || line.starts_with("• ") {
        return true;
    }
    let digits = line.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && (line[digits..].starts_with(". ") || line[digits..].starts_with(") "))
}

fn is_heading(line: &str) -> bool {
    let short = line.split_whitespace().count() <= 8;
    line.starts_with('#')
        || (short && line.starts_with("**") && line.ends_with("**") && line.len() > 4)
        || (short && line.ends_with(':') && !is_list_item(line))
}

fn is_contraction(token: &str) -> bool {
    let mut chars = token.char_indices();
    chars.any(|(i, c)| {
        (c == '\'' || c == '’')
            && i > 0
            && token[i + c.len_utf8()..]
                .chars()
                .next()
                .is_some_and(char::is_alphabetic)
    })
}

fn is_emoji(c: char) -> bool {
    matches!(u32::from(c), 0x1F300..=0x1FAFF | 0x2600..=0x27BF | 0x1F000..=0x1F2FF)
}

#[cfg(test)]
mod tests;
