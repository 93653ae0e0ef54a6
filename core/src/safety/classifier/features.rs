//! Feature extraction for the safety classifier: the gate's normalized text
//! ([`crate::safety::normalize`]) cut into words, then hashed word unigrams, word bigrams and
//! character 3- to 5-grams of each word (with boundary marks) into `2^bits` buckets with
//! FNV-1a. Deterministic on every platform: no randomized hashers, no floating point.

use crate::safety::normalize::{is_word_char, normalize};

/// The most bytes of normalized text that are scored; a longer text is scored on its last
/// `MAX_TEXT_BYTES` bytes (the growing end of a streamed answer), so one check costs a bounded
/// time.
pub const MAX_TEXT_BYTES: usize = 2048;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(tag: u8, parts: &[&[u8]]) -> u64 {
    let mut h = FNV_OFFSET;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    };
    eat(tag);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            eat(0xff);
        }
        part.iter().copied().for_each(&mut eat);
    }
    h
}

fn bucket(h: u64, bits: u32) -> u32 {
    let folded = h ^ (h >> 29) ^ (h >> 47);
    // Truncation is intended: only the low `bits` bits are kept.
    (folded & ((1u64 << bits) - 1)) as u32
}

/// The tail of `text` the classifier looks at, on a character boundary.
pub fn window(text: &str) -> &str {
    if text.len() <= MAX_TEXT_BYTES {
        return text;
    }
    let mut start = text.len() - MAX_TEXT_BYTES;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// The hashed features of raw `text` (normalized first), appended to `out` (cleared first).
pub fn extract(text: &str, bits: u32, out: &mut Vec<u32>) {
    let norm = normalize(text).text;
    extract_normalized(window(&norm), bits, out);
}

/// The hashed features of already-normalized text.
pub fn extract_normalized(norm: &str, bits: u32, out: &mut Vec<u32>) {
    out.clear();
    let mut prev: Option<&str> = None;
    let mut padded: Vec<u8> = Vec::with_capacity(64);
    for word in norm
        .split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
    {
        let w = word.as_bytes();
        out.push(bucket(fnv(1, &[w]), bits));
        if let Some(p) = prev {
            out.push(bucket(fnv(2, &[p.as_bytes(), w]), bits));
        }
        prev = Some(word);
        padded.clear();
        padded.push(b'<');
        padded.extend_from_slice(w);
        padded.push(b'>');
        for n in 3..=5usize {
            if padded.len() < n {
                break;
            }
            for gram in padded.windows(n) {
                // n is 3..=5, so the cast cannot truncate.
                out.push(bucket(fnv(10 + n as u8, &[gram]), bits));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_deterministic_and_in_range() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        extract("How do I KILL a Python process?", 16, &mut a);
        extract("how do i kill a python process", 16, &mut b);
        assert_eq!(a, b, "normalization makes case and punctuation irrelevant");
        assert!(!a.is_empty());
        assert!(a.iter().all(|&i| i < (1 << 16)));
    }

    #[test]
    fn the_window_keeps_the_tail_on_a_char_boundary() {
        let text = "é".repeat(MAX_TEXT_BYTES);
        let w = window(&text);
        assert!(w.len() <= MAX_TEXT_BYTES && text.ends_with(w));
    }
}
