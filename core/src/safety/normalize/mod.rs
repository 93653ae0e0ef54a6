//! Text normalization before matching, in two stages that both work one character at a time
//! so that the streaming gate gives the same answer whatever the chunk boundaries:
//!
//! 1. **Fold** ([`fold_char`], in `fold.rs`), context-free per character: Unicode
//!    compatibility decomposition (the K of NFKC), removal of combining marks (so accents and
//!    "zalgo" marks do not split a word), removal of invisible and format characters
//!    (zero-width joiners, soft hyphens, bidi controls, variation selectors, tags),
//!    lower-casing (with `ß` → `ss`), and, for non-ASCII characters, the Unicode TR39
//!    confusable skeleton (Cyrillic `а` → `a`). ASCII characters are only lower-cased — that
//!    is the fast path, and it keeps digits intact for the personal-data detectors. Folding
//!    every BMP character is precomputed once per process into a table (`fold_table.rs`).
//! 2. **Collapse** ([`Collapser`], in `collapse.rs`): a run of up to
//!    [`MAX_COLLAPSED_SEPARATORS`] separator characters between two single-character words is
//!    dropped (`b.o.m.b`, `b o m b` → `bomb`), and the join is marked as a *soft* word
//!    boundary so `a b o m b` still contains the word.
//!
//! Every output character carries the byte range of the original character it came from
//! ([`NormChar`]), so matches map back to the original text for redaction; [`normalize`] runs
//! both stages over a whole text. This module owns only that mapping of text; it knows
//! nothing about rules.

mod collapse;
mod fold;
mod fold_table;

pub use collapse::{Collapser, MAX_COLLAPSED_SEPARATORS};
pub use fold::{ascii_char, fold_char, fold_non_ascii, fold_text, is_word_char};
pub use fold_table::{warm_up, Folder};

/// A folded character with the original byte range it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormChar {
    /// The folded character.
    pub ch: char,
    /// Whether it belongs to a word.
    pub word: bool,
    /// Start of the original character (byte offset in the original stream).
    pub orig_start: u64,
    /// End of the original character.
    pub orig_end: u64,
}

/// A whole text normalized (for phrases in rules, tests and tools).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// The normalized text.
    pub text: String,
    /// Byte offsets in `text` where a collapsed separator run was (soft word boundaries).
    pub soft_boundaries: Vec<usize>,
    /// For each byte of `text`, the original byte range of the character it came from.
    pub origin: Vec<(u64, u64)>,
}

/// Normalize a whole text (both stages).
pub fn normalize(text: &str) -> Normalized {
    let mut out = Normalized {
        text: String::with_capacity(text.len()),
        soft_boundaries: Vec::new(),
        origin: Vec::with_capacity(text.len()),
    };
    let mut collapser = Collapser::new();
    let mut emit = |c: NormChar, soft: bool| {
        if soft {
            out.soft_boundaries.push(out.text.len());
        }
        out.text.push(c.ch);
        out.origin
            .resize(out.text.len(), (c.orig_start, c.orig_end));
    };
    fold_text(text, 0, |c| collapser.push(c, &mut emit));
    collapser.finish(&mut emit);
    out
}

#[cfg(test)]
mod tests;
