//! Text normalization before matching, in two stages that both work one character at a time
//! so that the streaming gate gives the same answer whatever the chunk boundaries:
//!
//! 1. **Fold** ([`fold_char`]), context-free per character: Unicode compatibility decomposition
//!    (the K of NFKC), removal of combining marks (so accents and "zalgo" marks do not split a
//!    word), removal of invisible and format characters (zero-width joiners, soft hyphens, bidi
//!    controls, variation selectors, tags), lower-casing (with `ß` → `ss`), and, for non-ASCII
//!    characters, the Unicode TR39 confusable skeleton (Cyrillic `а` → `a`). ASCII characters are
//!    only lower-cased — that is the fast path, and it keeps digits intact for the personal-data
//!    detectors. Folding every BMP character is precomputed once per process into a table.
//! 2. **Collapse** ([`Collapser`]): a run of up to [`MAX_COLLAPSED_SEPARATORS`] separator
//!    characters between two single-character words is dropped (`b.o.m.b`, `b o m b` → `bomb`),
//!    and the join is marked as a *soft* word boundary so `a b o m b` still contains the word.
//!
//! Every output character carries the byte range of the original character it came from, so
//! matches map back to the original text for redaction. This module owns only that mapping of
//! text; it knows nothing about rules.

use std::borrow::Cow;
use std::sync::OnceLock;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// The most separator characters collapsed between two single-character words.
pub const MAX_COLLAPSED_SEPARATORS: usize = 8;

/// Default-ignorable and format characters that are removed (besides combining marks).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{FFF0}'..='\u{FFF8}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E0FFF}')
}

fn push_lowered(c: char, out: &mut String) {
    match c {
        'ß' | 'ẞ' => out.push_str("ss"),
        'ς' => out.push('σ'),
        _ => out.extend(c.to_lowercase()),
    }
}

/// Fold one character without the table (the definition the table caches).
fn fold_char_uncached(c: char) -> String {
    let mut decomposed = Vec::with_capacity(4);
    decompose_compatible(c, |d| decomposed.push(d));
    let mut lowered = String::new();
    for d in decomposed {
        if !is_combining_mark(d) && !is_invisible(d) {
            push_lowered(d, &mut lowered);
        }
    }
    let mut out = String::with_capacity(lowered.len());
    let mut buf = [0u8; 4];
    for l in lowered.chars() {
        if l.is_ascii() {
            out.push(l);
            continue;
        }
        for s in unicode_security::skeleton(l.encode_utf8(&mut buf)) {
            if !is_combining_mark(s) && !is_invisible(s) {
                push_lowered(s, &mut out);
            }
        }
    }
    out
}

struct FoldTable {
    /// `starts[c]..starts[c + 1]` indexes `text` for BMP character `c`.
    starts: Vec<u32>,
    text: String,
    /// One bit per BMP character: whether it is a word character.
    word: Vec<u64>,
    /// Per BMP character: whether it folds to exactly one character, and whether that one is
    /// a word character ([`SINGLE`], [`SINGLE_WORD`]).
    shape: Vec<u8>,
}

const SINGLE: u8 = 1;
const SINGLE_WORD: u8 = 2;

fn fold_table() -> &'static FoldTable {
    static TABLE: OnceLock<FoldTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut starts = Vec::with_capacity(0x1_0001);
        let mut text = String::with_capacity(0x2_0000);
        let mut word = vec![0u64; 0x1_0000 / 64];
        let mut shape = vec![0u8; 0x1_0000];
        for cp in 0u32..0x1_0000 {
            starts.push(u32::try_from(text.len()).expect("the table is small"));
            if let Some(c) = char::from_u32(cp) {
                if c.is_alphanumeric() {
                    word[cp as usize / 64] |= 1 << (cp % 64);
                }
            }
        }
        for cp in 0u32..0x1_0000 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let folded = fold_char_uncached(c);
            let mut chars = folded.chars();
            if let (Some(only), None) = (chars.next(), chars.next()) {
                let is_word = if (only as u32) < 0x1_0000 {
                    word[only as usize / 64] & (1 << (only as u32 % 64)) != 0
                } else {
                    only.is_alphanumeric()
                };
                shape[cp as usize] = SINGLE | if is_word { SINGLE_WORD } else { 0 };
            }
            starts[cp as usize] = u32::try_from(text.len()).expect("the table is small");
            text.push_str(&folded);
        }
        starts.push(u32::try_from(text.len()).expect("the table is small"));
        FoldTable {
            starts,
            text,
            word,
            shape,
        }
    })
}

impl FoldTable {
    #[inline]
    fn fold(&self, c: char) -> Option<&str> {
        let cp = c as usize;
        (cp < 0x1_0000).then(|| &self.text[self.starts[cp] as usize..self.starts[cp + 1] as usize])
    }

    #[inline]
    fn is_word(&self, c: char) -> bool {
        let cp = c as usize;
        if cp < 0x1_0000 {
            self.word[cp / 64] & (1 << (cp % 64)) != 0
        } else {
            c.is_alphanumeric()
        }
    }
}

/// A handle on the fold table for hot loops (fetch it once, use it per character).
#[derive(Clone, Copy)]
pub struct Folder(&'static FoldTable);

impl std::fmt::Debug for Folder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Folder")
    }
}

impl Folder {
    /// The table (built on first use).
    pub fn get() -> Self {
        Self(fold_table())
    }

    /// The folded form of a BMP character when it is exactly one character, with whether
    /// that character belongs to a word: the gate's fast path. `None` for everything else.
    #[inline]
    pub fn single(self, c: char) -> Option<(&'static str, bool)> {
        let t = self.0;
        let cp = c as usize;
        let shape = *t.shape.get(cp)?;
        if shape & SINGLE == 0 {
            return None;
        }
        let folded = &t.text[t.starts[cp] as usize..t.starts[cp + 1] as usize];
        Some((folded, shape & SINGLE_WORD != 0))
    }
}

/// Make sure the fold table is built (it takes some milliseconds, once per process).
pub fn warm_up() {
    fold_table();
}

/// The folded form of `c` (stage 1): possibly empty, possibly several characters.
pub fn fold_char(c: char) -> Cow<'static, str> {
    match fold_table().fold(c) {
        Some(folded) => Cow::Borrowed(folded),
        None => Cow::Owned(fold_char_uncached(c)),
    }
}

/// Whether a folded character belongs to a word (letters and digits of any script).
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else {
        fold_table().is_word(c)
    }
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CollapseState {
    Normal,
    /// Separators after a single-character word.
    Separators,
    /// Separators, then one word character whose word may turn out to be single too.
    SeparatorsThenWord(NormChar),
}

/// Stage 2: collapses separators between single-character words, streaming.
#[derive(Debug, Clone)]
pub struct Collapser {
    state: CollapseState,
    /// Length in characters of the current word: 0, 1, or 2 for "two or more".
    word_len: u8,
    separators: Vec<NormChar>,
}

impl Default for Collapser {
    fn default() -> Self {
        Self::new()
    }
}

impl Collapser {
    /// A collapser at the start of a text.
    pub fn new() -> Self {
        Self {
            state: CollapseState::Normal,
            word_len: 0,
            separators: Vec::with_capacity(MAX_COLLAPSED_SEPARATORS),
        }
    }

    /// Where the oldest character not yet emitted starts in the original, if any is held.
    pub fn held_orig_start(&self) -> Option<u64> {
        match self.state {
            CollapseState::Normal => None,
            _ => self.separators.first().map(|c| c.orig_start),
        }
    }

    /// The fast path: if a character of this class can be emitted at once with no soft
    /// boundary (nothing held, and it does not start a separator run after a
    /// single-character word), account for it and return `true`; the caller emits it.
    #[inline]
    pub fn try_pass(&mut self, word: bool) -> bool {
        if self.state != CollapseState::Normal {
            return false;
        }
        if word {
            self.word_len = (self.word_len + 1).min(2);
            true
        } else if self.word_len == 1 {
            false
        } else {
            self.word_len = 0;
            true
        }
    }

    /// Feed one folded character; `emit(c, soft)` receives the characters that are final,
    /// `soft` meaning a collapsed separator run lay just before `c`.
    #[inline]
    pub fn push(&mut self, c: NormChar, emit: &mut impl FnMut(NormChar, bool)) {
        match self.state {
            CollapseState::Normal => self.push_normal(c, emit),
            CollapseState::Separators => {
                if c.word {
                    self.state = CollapseState::SeparatorsThenWord(c);
                } else if self.separators.len() < MAX_COLLAPSED_SEPARATORS {
                    self.separators.push(c);
                } else {
                    self.flush_separators(emit);
                    self.push_normal(c, emit);
                }
            }
            CollapseState::SeparatorsThenWord(w) => {
                if c.word {
                    self.flush_separators(emit);
                    emit(w, false);
                    emit(c, false);
                    self.word_len = 2;
                } else {
                    self.separators.clear();
                    self.state = CollapseState::Normal;
                    emit(w, true);
                    self.word_len = 1;
                    self.push_normal(c, emit);
                }
            }
        }
    }

    #[inline]
    fn push_normal(&mut self, c: NormChar, emit: &mut impl FnMut(NormChar, bool)) {
        if c.word {
            emit(c, false);
            self.word_len = (self.word_len + 1).min(2);
        } else if self.word_len == 1 {
            self.separators.clear();
            self.separators.push(c);
            self.state = CollapseState::Separators;
        } else {
            emit(c, false);
            self.word_len = 0;
        }
    }

    fn flush_separators(&mut self, emit: &mut impl FnMut(NormChar, bool)) {
        for s in self.separators.drain(..) {
            emit(s, false);
        }
        self.state = CollapseState::Normal;
        self.word_len = 0;
    }

    /// The text ended: emit what is held.
    pub fn finish(&mut self, emit: &mut impl FnMut(NormChar, bool)) {
        match self.state {
            CollapseState::Normal => {}
            CollapseState::Separators => self.flush_separators(emit),
            CollapseState::SeparatorsThenWord(w) => {
                self.separators.clear();
                self.state = CollapseState::Normal;
                emit(w, true);
                self.word_len = 1;
            }
        }
    }
}

/// Feed every character of `text` (starting at original offset `base`) through stage 1 into
/// `push`. The offline form; the streaming gate has its own loop with an ASCII fast path.
pub fn fold_text(text: &str, base: u64, mut push: impl FnMut(NormChar)) {
    for (i, c) in text.char_indices() {
        let at = base + i as u64;
        if c.is_ascii() {
            let lower = (c as u8).to_ascii_lowercase();
            push(ascii_char(lower, lower.is_ascii_alphanumeric(), at));
        } else {
            fold_non_ascii(c, at, at + c.len_utf8() as u64, &mut push);
        }
    }
}

/// Stage 1 for one non-ASCII character at original bytes `orig_start..orig_end`.
#[inline]
pub fn fold_non_ascii(c: char, orig_start: u64, orig_end: u64, push: &mut impl FnMut(NormChar)) {
    let table = fold_table();
    let mut emit = |f: char| {
        push(NormChar {
            ch: f,
            word: table.is_word(f),
            orig_start,
            orig_end,
        });
    };
    match table.fold(c) {
        Some(folded) => folded.chars().for_each(&mut emit),
        None => fold_char_uncached(c).chars().for_each(&mut emit),
    }
}

/// An ASCII byte as a [`NormChar`].
#[inline]
pub fn ascii_char(lower: u8, word: bool, at: u64) -> NormChar {
    NormChar {
        ch: char::from(lower),
        word,
        orig_start: at,
        orig_end: at + 1,
    }
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
mod tests {
    use super::*;

    fn norm(text: &str) -> String {
        normalize(text).text
    }

    #[test]
    fn each_normalization_step() {
        assert_eq!(norm("BOMB"), "bomb", "case");
        assert_eq!(norm("ｂｏｍｂ"), "bomb", "NFKC fullwidth");
        assert_eq!(
            norm("b\u{200B}o\u{00AD}m\u{202E}b"),
            "bomb",
            "invisible and format"
        );
        assert_eq!(norm("b\u{043E}mb"), "bomb", "Cyrillic o skeleton");
        assert_eq!(
            norm("\u{0430}\u{0440}\u{0440}l\u{0435}"),
            "apple",
            "Cyrillic a, r, e"
        );
        assert_eq!(norm("b̸ó̸m̸b̸"), "bomb", "combining marks");
        assert_eq!(norm("b.o.m.b"), "bomb", "dots between single letters");
        assert_eq!(norm("b o m b"), "bomb", "spaces between single letters");
        assert_eq!(norm("Straße"), "strasse", "sharp s folds");
        assert_eq!(norm("ﬁle"), "file", "ligature");
    }

    #[test]
    fn words_are_not_collapsed() {
        assert_eq!(norm("a bomb"), "a bomb");
        assert_eq!(norm("to be or"), "to be or");
        assert_eq!(
            norm("x          y"),
            "x          y",
            "long separator runs stay"
        );
    }

    #[test]
    fn soft_boundaries_mark_collapsed_joins() {
        let n = normalize("a b o m b");
        assert_eq!(n.text, "abomb");
        assert_eq!(n.soft_boundaries, vec![1, 2, 3, 4]);
    }

    #[test]
    fn origins_point_back_to_the_original() {
        let text = "x ｂ\u{200B}y";
        let n = normalize(text);
        assert_eq!(n.text, "x by");
        let (s, e) = n.origin[2];
        assert_eq!(&text[s as usize..e as usize], "ｂ");
    }

    #[test]
    fn the_table_equals_the_definition() {
        for c in ['A', 'é', 'ｍ', 'а', 'Ω', 'ß', '\u{200D}', '中', '１'] {
            assert_eq!(fold_char(c), fold_char_uncached(c), "{c:?}");
        }
    }
}
