//! The streaming matcher behind the gate. It folds and collapses the text as it arrives
//! ([`super::normalize`]), appends the normalized bytes with an offset map back to the
//! original, then runs the phrase and regex automata over the new bytes in tight loops. Every
//! decision is defined by *positions* in the normalized text (where a match ends, where the
//! first block ends), never by when a chunk arrived, so the result is the same for any
//! chunking. It decides nothing about release; [`super::gate`] does. Private to the layer.
//! Position lookups live in `positions.rs`, the automata loops in `automata.rs`.

mod automata;
mod positions;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use aho_corasick::automaton::Automaton as _;
use regex_automata::hybrid::dfa::Cache;
use regex_automata::hybrid::LazyStateID;
use regex_automata::util::start;
use regex_automata::Anchored;

use super::normalize::{ascii_char, fold_non_ascii, Collapser, Folder, NormChar};
use super::payload::Action;
use super::rules::RuleSet;

/// A run of normalized bytes and the original bytes it came from.
#[derive(Debug, Clone, Copy)]
struct Seg {
    norm_start: u64,
    norm_len: u64,
    orig_start: u64,
    orig_len: u64,
    /// Byte-for-byte (each folded character as long as its original); otherwise one
    /// original character.
    identity: bool,
}

/// A phrase match waiting for the character after it to confirm the word boundary.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    rule: u32,
    start: u64,
    end: u64,
}

/// The regex automata's running state.
struct RegexRun {
    state: LazyStateID,
    cache: Cache,
    reverse_cache: Cache,
}

/// The matching state over one text.
pub(crate) struct ScanCore {
    rules: Arc<RuleSet>,
    norm: Vec<u8>,
    /// Absolute normalized offset of `norm[0]`.
    norm_base: u64,
    segs: VecDeque<Seg>,
    soft: VecDeque<u64>,
    ac_state: aho_corasick::automaton::StateID,
    regex: Option<RegexRun>,
    /// Absolute normalized offset up to which the automata have run.
    scanned: u64,
    pending: Vec<Candidate>,
    /// Redaction spans in original offsets, sorted by start, non-overlapping.
    pub spans: Vec<(u64, u64)>,
    /// Each matched rule and the end of its earliest match (normalized offset).
    matched: BTreeMap<u32, u64>,
    /// The end of the earliest block match found so far.
    block_end: Option<u64>,
    /// Matching failed inside an automaton: fail closed.
    failed: bool,
    /// Set once the block is settled: nothing more is matched or released.
    pub blocked: bool,
    /// The original offset that is safe to release before the refusal.
    pub block_release: u64,
}

/// The fold/collapse front end plus the matching core.
pub(crate) struct Scanner {
    collapser: Collapser,
    pub core: ScanCore,
}

impl Scanner {
    pub fn new(rules: Arc<RuleSet>) -> Self {
        let ac_state = rules
            .phrase_dfa
            .as_ref()
            .map(|dfa| {
                dfa.start_state(aho_corasick::Anchored::No)
                    .expect("unanchored DFAs start")
            })
            .unwrap_or_default();
        let mut failed = false;
        let regex = rules.regex.as_ref().and_then(|re| {
            let mut cache = re.forward.create_cache();
            let config = start::Config::new().anchored(Anchored::No);
            let state = re.forward.start_state(&mut cache, &config);
            failed = state.is_err();
            Some(RegexRun {
                state: state.ok()?,
                cache,
                reverse_cache: re.reverse.create_cache(),
            })
        });
        let mut core = ScanCore {
            rules,
            norm: Vec::with_capacity(8192),
            norm_base: 0,
            segs: VecDeque::new(),
            soft: VecDeque::new(),
            ac_state,
            regex,
            scanned: 0,
            pending: Vec::new(),
            spans: Vec::new(),
            matched: BTreeMap::new(),
            block_end: None,
            failed,
            blocked: false,
            block_release: 0,
        };
        if failed {
            core.block_end = Some(0);
            core.settle(false);
        }
        Self {
            collapser: Collapser::new(),
            core,
        }
    }

    /// Feed original text that starts at absolute original offset `base`.
    pub fn feed(&mut self, text: &str, base: u64) {
        if self.core.blocked {
            return;
        }
        let Self { collapser, core } = self;
        let folder = Folder::get();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            let at = base + i as u64;
            if b < 0x80 {
                let lower = b.to_ascii_lowercase();
                let word = lower.is_ascii_alphanumeric();
                if collapser.try_pass(word) {
                    core.append(&[lower], at, at + 1);
                } else {
                    collapser.push(ascii_char(lower, word, at), &mut |c, soft| {
                        core.on_char(c, soft)
                    });
                }
                i += 1;
            } else {
                let c = decode_at(bytes, i);
                let end = at + c.len_utf8() as u64;
                match folder.single(c) {
                    Some((folded, word)) if collapser.try_pass(word) => {
                        core.append(folded.as_bytes(), at, end);
                    }
                    _ => fold_non_ascii(c, at, end, &mut |n| {
                        collapser.push(n, &mut |c, soft| core.on_char(c, soft));
                    }),
                }
                i += c.len_utf8();
            }
        }
        self.core.scan(false);
        self.core.trim();
    }

    /// The text ended.
    pub fn finish(&mut self) {
        if self.core.blocked {
            return;
        }
        let Self { collapser, core } = self;
        collapser.finish(&mut |c, soft| core.on_char(c, soft));
        core.scan(true);
    }

    /// The original offset before which nothing can be part of a match not yet found.
    /// `consumed` is the original offset up to which text was fed.
    pub fn safe_orig(&self, consumed: u64) -> u64 {
        let core = &self.core;
        let f = core.norm_end();
        let safe = core.char_floor(f.saturating_sub(core.rules.window() as u64));
        if safe == f {
            self.collapser.held_orig_start().unwrap_or(consumed)
        } else {
            core.orig_range(safe).0
        }
    }
}

impl ScanCore {
    /// A character from the collapser, possibly after a collapsed separator run.
    pub fn on_char(&mut self, c: NormChar, soft: bool) {
        if soft {
            self.soft.push_back(self.norm_end());
        }
        let mut buf = [0u8; 4];
        self.append(
            c.ch.encode_utf8(&mut buf).as_bytes(),
            c.orig_start,
            c.orig_end,
        );
    }

    /// Append one folded character's bytes, from original bytes `orig_start..orig_end`.
    #[inline]
    pub fn append(&mut self, bytes: &[u8], orig_start: u64, orig_end: u64) {
        let pos = self.norm_end();
        let n = bytes.len() as u64;
        let olen = orig_end - orig_start;
        // Byte-for-byte when the folded character is as long as the original one.
        let identity = n == olen;
        self.norm.extend_from_slice(bytes);
        if let Some(last) = self.segs.back_mut() {
            let contiguous = last.norm_start + last.norm_len == pos;
            if contiguous
                && identity
                && last.identity
                && last.orig_start + last.orig_len == orig_start
            {
                last.norm_len += n;
                last.orig_len += n;
                return;
            }
            if contiguous && !last.identity && last.orig_start == orig_start {
                last.norm_len += n;
                return;
            }
        }
        self.segs.push_back(Seg {
            norm_start: pos,
            norm_len: n,
            orig_start,
            orig_len: olen,
            identity,
        });
    }

    /// Run the automata over the bytes appended since the last scan; at the end of the text
    /// (`eoi`), also decide what was waiting for more text.
    fn scan(&mut self, eoi: bool) {
        if self.blocked {
            return;
        }
        let from = self.scanned;
        let to = self.norm_end();
        self.resolve_pending(eoi);
        self.scan_regex(from, to, eoi);
        self.scanned = to;
        self.resolve_pending(eoi);
        self.settle(eoi);
    }

    /// A block is settled once everything ending at or before it is decided: the character
    /// after it has arrived (or the text ended).
    fn settle(&mut self, eoi: bool) {
        let Some(end) = self.block_end else { return };
        if !(eoi || self.failed || self.norm_end() > end) {
            return;
        }
        self.blocked = true;
        let safe = end
            .saturating_sub(self.rules.window() as u64)
            .max(self.norm_base);
        self.block_release = if self.segs.is_empty() {
            0
        } else {
            self.orig_range(self.char_floor(safe)).0
        };
    }

    fn report(&mut self, rule: u32, start: u64, end: u64) {
        let earliest = self.matched.entry(rule).or_insert(end);
        *earliest = (*earliest).min(end);
        match self.rules.rules[rule as usize].action {
            Action::Block => self.block_end = Some(self.block_end.map_or(end, |b| b.min(end))),
            Action::Annotate => {}
            Action::Redact => {
                let (s, _) = self.orig_range(start);
                let (_, e) = self.orig_range(end - 1);
                self.add_span(s, e);
            }
        }
    }

    fn add_span(&mut self, mut s: u64, mut e: u64) {
        let first = self.spans.partition_point(|&(_, se)| se <= s);
        let mut last = first;
        while last < self.spans.len() && self.spans[last].0 < e {
            s = s.min(self.spans[last].0);
            e = e.max(self.spans[last].1);
            last += 1;
        }
        self.spans.splice(first..last, [(s, e)]);
    }

    fn fail(&mut self) {
        self.failed = true;
        self.block_end = Some(self.block_end.map_or(self.scanned, |b| b.min(self.scanned)));
    }

    /// Whether matching failed inside an automaton (the gate then fails closed).
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// The matched rules (indexes in the rule set, ascending): all of them, or after a block
    /// only those with a match ending no later than the block.
    pub fn matched_rules(&self) -> Vec<u32> {
        self.matched
            .iter()
            .filter(|&(_, &end)| self.block_end.is_none_or(|b| end <= b))
            .map(|(&rule, _)| rule)
            .collect()
    }

    /// Drop normalized text no future match can reach.
    fn trim(&mut self) {
        let keep_from = self
            .norm_end()
            .saturating_sub(self.rules.window() as u64 + 16);
        if keep_from < self.norm_base + 8192 {
            return;
        }
        let drop = (keep_from - self.norm_base) as usize;
        self.norm.drain(..drop);
        self.norm_base = keep_from;
        while self.segs.len() > 1 && self.segs[1].norm_start <= keep_from {
            self.segs.pop_front();
        }
        while self.soft.front().is_some_and(|&s| s < keep_from) {
            self.soft.pop_front();
        }
    }
}

/// The character starting at byte `i` of valid UTF-8 `bytes` (a lead byte of a non-ASCII
/// character).
#[inline]
fn decode_at(bytes: &[u8], i: usize) -> char {
    let b0 = u32::from(bytes[i]);
    let cont = |k: usize| u32::from(bytes[i + k] & 0x3F);
    let cp = if b0 >= 0xF0 {
        ((b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3)
    } else if b0 >= 0xE0 {
        ((b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2)
    } else {
        ((b0 & 0x1F) << 6) | cont(1)
    };
    char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER)
}

#[cfg(test)]
mod tests {
    use super::decode_at;

    #[test]
    fn decode_at_matches_the_standard_decoder() {
        let text = "aé中🙂Ωｂ\u{200B}";
        for (i, c) in text.char_indices().filter(|(_, c)| !c.is_ascii()) {
            assert_eq!(decode_at(text.as_bytes(), i), c);
        }
    }
}
