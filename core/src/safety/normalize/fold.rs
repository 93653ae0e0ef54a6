//! Stage 1, the fold: what one character becomes before matching (compatibility decomposition,
//! no combining marks or invisible characters, lower case, confusable skeleton), whether a
//! folded character belongs to a word, and the per-character loops that feed folded
//! characters, with their original byte ranges, to the next stage. The precomputed table that
//! caches the fold lives in [`super::fold_table`].

use std::borrow::Cow;

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

use super::fold_table::fold_table;
use super::NormChar;

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
pub(super) fn fold_char_uncached(c: char) -> String {
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
