//! Positions in the scanned text: where the normalized text ends, which original bytes a
//! normalized offset came from, character and word-boundary lookups around an offset.

use super::ScanCore;
use crate::safety::normalize::is_word_char;

impl ScanCore {
    pub(super) fn norm_end(&self) -> u64 {
        self.norm_base + self.norm.len() as u64
    }

    /// The original range of the character that produced normalized byte `p`.
    pub(super) fn orig_range(&self, p: u64) -> (u64, u64) {
        let i = self
            .segs
            .partition_point(|s| s.norm_start <= p)
            .saturating_sub(1);
        let s = self.segs[i];
        if s.identity {
            let at = s.orig_start + (p - s.norm_start);
            (at, at + 1)
        } else {
            (s.orig_start, s.orig_start + s.orig_len)
        }
    }

    /// `p` moved back to the start of the normalized character it falls in.
    pub(super) fn char_floor(&self, mut p: u64) -> u64 {
        while p > self.norm_base
            && self
                .norm
                .get((p - self.norm_base) as usize)
                .is_some_and(|b| b & 0xC0 == 0x80)
        {
            p -= 1;
        }
        p
    }

    pub(super) fn is_soft(&self, p: u64) -> bool {
        self.soft
            .iter()
            .rev()
            .take_while(|&&s| s >= p)
            .any(|&s| s == p)
    }

    /// The normalized character starting at / ending at absolute offset `p`.
    pub(super) fn char_at(&self, p: u64) -> Option<char> {
        let i = usize::try_from(p.checked_sub(self.norm_base)?).ok()?;
        let len = match *self.norm.get(i)? {
            b if b < 0x80 => 1,
            b if b >= 0xF0 => 4,
            b if b >= 0xE0 => 3,
            _ => 2,
        };
        std::str::from_utf8(self.norm.get(i..i + len)?)
            .ok()?
            .chars()
            .next()
    }

    pub(super) fn char_before(&self, p: u64) -> Option<char> {
        let end = usize::try_from(p.checked_sub(self.norm_base)?).ok()?;
        let mut i = end.checked_sub(1)?;
        while i > 0 && (self.norm[i] & 0xC0) == 0x80 {
            i -= 1;
        }
        std::str::from_utf8(&self.norm[i..end]).ok()?.chars().next()
    }

    /// Whether a word boundary lies before normalized offset `p`.
    pub(super) fn boundary_before(&self, p: u64) -> bool {
        p == 0 || self.is_soft(p) || !self.char_before(p).is_some_and(is_word_char)
    }
}
