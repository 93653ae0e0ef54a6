//! Stage 2, the collapse: a run of up to [`MAX_COLLAPSED_SEPARATORS`] separator characters
//! between two single-character words is dropped (`b.o.m.b`, `b o m b` → `bomb`) and the join
//! is marked as a *soft* word boundary, streaming one folded character at a time
//! ([`Collapser`]).

use super::NormChar;

/// The most separator characters collapsed between two single-character words.
pub const MAX_COLLAPSED_SEPARATORS: usize = 8;

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
