//! The fold table: stage 1 ([`super::fold`]) precomputed once per process for every BMP
//! character, with one bit per character for "belongs to a word" and, for the gate's fast
//! path, whether a character folds to exactly one character ([`Folder::single`]). It caches
//! the definition and decides nothing of its own.

use std::sync::OnceLock;

use super::fold::fold_char_uncached;

pub(super) struct FoldTable {
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

pub(super) fn fold_table() -> &'static FoldTable {
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
    pub(super) fn fold(&self, c: char) -> Option<&str> {
        let cp = c as usize;
        (cp < 0x1_0000).then(|| &self.text[self.starts[cp] as usize..self.starts[cp + 1] as usize])
    }

    #[inline]
    pub(super) fn is_word(&self, c: char) -> bool {
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
