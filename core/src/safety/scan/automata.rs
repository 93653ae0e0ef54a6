//! The automata loops: the phrase automaton (Aho–Corasick) and the regex automaton (lazy
//! DFA) over newly appended normalized bytes, alone or interleaved in one loop, and what a
//! match becomes (a candidate waiting for its word boundary, or a reported rule).

use std::sync::Arc;

use aho_corasick::automaton::Automaton as _;
use regex_automata::hybrid::dfa::Cache;
use regex_automata::hybrid::LazyStateID;
use regex_automata::{Anchored, Input, PatternID};

use super::{Candidate, RegexRun, ScanCore};
use crate::safety::normalize::is_word_char;
use crate::safety::rules::RuleSet;

impl ScanCore {
    pub(super) fn scan_phrases(&mut self, from: u64, to: u64) {
        let rules = Arc::clone(&self.rules);
        let Some(dfa) = rules.phrase_dfa.as_ref() else {
            return;
        };
        let mut state = self.ac_state;
        let start = (from - self.norm_base) as usize;
        let end = (to - self.norm_base) as usize;
        for i in start..end {
            state = dfa.next_state(aho_corasick::Anchored::No, state, self.norm[i]);
            if dfa.is_special(state) && dfa.is_match(state) {
                self.phrase_matches(&rules, state, self.norm_base + i as u64 + 1);
            }
        }
        self.ac_state = state;
    }

    /// Both automata in one loop: their table lookups are independent, so the processor
    /// overlaps them (the two separate loops are each bound by load latency).
    pub(super) fn scan_both(
        &mut self,
        from: u64,
        to: u64,
        run: &mut RegexRun,
        found: &mut Vec<(PatternID, u64)>,
    ) {
        let rules = Arc::clone(&self.rules);
        let (Some(dfa), Some(re)) = (rules.phrase_dfa.as_ref(), rules.regex.as_ref()) else {
            return;
        };
        let mut state = self.ac_state;
        let start = (from - self.norm_base) as usize;
        let end = (to - self.norm_base) as usize;
        for i in start..end {
            let b = self.norm[i];
            state = dfa.next_state(aho_corasick::Anchored::No, state, b);
            let next = re.forward.next_state(&mut run.cache, run.state, b);
            if dfa.is_special(state) && dfa.is_match(state) {
                self.phrase_matches(&rules, state, self.norm_base + i as u64 + 1);
            }
            match next {
                Ok(next) => {
                    run.state = next;
                    if next.is_match() {
                        Self::regex_found(re, run, next, self.norm_base + i as u64, found);
                    }
                }
                Err(_) => {
                    // Finish the phrases alone; the regex automaton failed (fail closed).
                    self.ac_state = state;
                    self.scan_phrases(self.norm_base + i as u64 + 1, to);
                    self.fail();
                    return;
                }
            }
        }
        self.ac_state = state;
    }

    pub(super) fn phrase_matches(
        &mut self,
        rules: &RuleSet,
        state: aho_corasick::automaton::StateID,
        match_end: u64,
    ) {
        let dfa = rules.phrase_dfa.as_ref().expect("only called with phrases");
        for k in 0..dfa.match_len(state) {
            let pattern = rules.phrase_patterns[dfa.match_pattern(state, k).as_usize()];
            let match_start = match_end - u64::from(pattern.len);
            if pattern.boundary_before && !self.boundary_before(match_start) {
                continue;
            }
            let candidate = Candidate {
                rule: pattern.rule,
                start: match_start,
                end: match_end,
            };
            if pattern.boundary_after {
                self.pending.push(candidate);
            } else {
                self.report(candidate.rule, candidate.start, candidate.end);
            }
        }
    }

    /// Confirm or drop phrase candidates whose following character is known.
    pub(super) fn resolve_pending(&mut self, eoi: bool) {
        if self.pending.is_empty() {
            return;
        }
        let norm_end = self.norm_end();
        let mut waiting = Vec::new();
        for cand in std::mem::take(&mut self.pending) {
            if cand.end < norm_end {
                let next_is_word = self.char_at(cand.end).is_some_and(is_word_char);
                if !next_is_word || self.is_soft(cand.end) {
                    self.report(cand.rule, cand.start, cand.end);
                }
            } else if eoi {
                self.report(cand.rule, cand.start, cand.end);
            } else {
                waiting.push(cand);
            }
        }
        self.pending = waiting;
    }

    /// Run the regex automaton (and the phrases in the same loop when there are any).
    pub(super) fn scan_regex(&mut self, from: u64, to: u64, eoi: bool) {
        let rules = Arc::clone(&self.rules);
        let (Some(re), Some(mut run)) = (rules.regex.as_ref(), self.regex.take()) else {
            self.scan_phrases(from, to);
            return;
        };
        // Pattern ids are read at once: a lazy DFA state id is only valid until its cache
        // is next cleared.
        let mut found: Vec<(PatternID, u64)> = Vec::new();
        if rules.phrase_dfa.is_some() {
            self.scan_both(from, to, &mut run, &mut found);
        } else {
            for i in (from - self.norm_base) as usize..(to - self.norm_base) as usize {
                match re
                    .forward
                    .next_state(&mut run.cache, run.state, self.norm[i])
                {
                    Ok(next) => {
                        run.state = next;
                        if next.is_match() {
                            Self::regex_found(
                                re,
                                &run,
                                next,
                                self.norm_base + i as u64,
                                &mut found,
                            );
                        }
                    }
                    Err(_) => {
                        self.fail();
                        break;
                    }
                }
            }
        }
        if eoi && !self.failed {
            match re.forward.next_eoi_state(&mut run.cache, run.state) {
                Ok(next) if next.is_match() => Self::regex_found(re, &run, next, to, &mut found),
                Ok(_) => {}
                Err(_) => self.fail(),
            }
        }
        self.regex_matches(&mut run.reverse_cache, &found);
        self.regex = Some(run);
    }

    /// Record the patterns of match state `state`, whose matches end at `end` (one byte
    /// before the byte that led there).
    pub(super) fn regex_found(
        re: &crate::safety::rules::RegexAutomata,
        run: &RegexRun,
        state: LazyStateID,
        end: u64,
        found: &mut Vec<(PatternID, u64)>,
    ) {
        for k in 0..re.forward.match_len(&run.cache, state) {
            found.push((re.forward.match_pattern(&run.cache, state, k), end));
        }
    }

    /// Find where each regex match starts (reverse lazy DFA, bounded by the rule's window),
    /// confirm detector matches, and report them.
    pub(super) fn regex_matches(&mut self, reverse_cache: &mut Cache, found: &[(PatternID, u64)]) {
        let rules = Arc::clone(&self.rules);
        let re = rules.regex.as_ref().expect("only called with regexes");
        for &(pid, end) in found {
            let pattern = re.patterns[pid.as_usize()];
            let lo = end
                .saturating_sub(pattern.window as u64)
                .max(self.norm_base);
            let (lo_rel, end_rel) = (
                (lo - self.norm_base) as usize,
                (end - self.norm_base) as usize,
            );
            let input = Input::new(&self.norm[..])
                .range(lo_rel..end_rel)
                .anchored(Anchored::Pattern(pid));
            let start_rel = match re.reverse.try_search_rev(reverse_cache, &input) {
                Ok(Some(hm)) => hm.offset(),
                Ok(None) => continue,
                Err(_) => {
                    self.fail();
                    return;
                }
            };
            if let Some(kind) = pattern.detector {
                let before = start_rel.checked_sub(1).map(|i| self.norm[i]);
                let after = self.norm.get(end_rel).copied();
                if !kind.validate(&self.norm[start_rel..end_rel], before, after) {
                    continue;
                }
            }
            self.report(pattern.rule, self.norm_base + start_rel as u64, end);
        }
    }
}
