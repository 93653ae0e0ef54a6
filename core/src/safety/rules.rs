//! Compiling a bundle's rules into linear-time matchers for one scope (input or output): an
//! Aho-Corasick DFA over the normalized phrases, and lazy DFAs (forward to find where matches
//! end, reverse to find where they start) over the regexes and detector patterns. Compiling
//! refuses anything that could make matching unbounded: empty-matching patterns, Unicode word
//! boundaries (which would make the lazy DFA give up), phrases longer than the limit. This
//! module owns the compiled form; the gate ([`super::gate`]) drives it over a stream.

use aho_corasick::dfa::DFA as PhraseDfa;
use regex_automata::hybrid::dfa::DFA as RegexDfa;
use regex_automata::nfa::thompson;
use regex_automata::MatchKind;

use super::detectors::DetectorKind;
use super::normalize::{is_word_char, normalize};
use super::payload::{Action, BundlePayload, RuleKind, MAX_PHRASE_BYTES};
use super::SafetyError;

/// What the gate needs to know about a rule once matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMeta {
    /// The rule id.
    pub id: String,
    /// What a match does.
    pub action: Action,
    /// The notice an annotate rule appends.
    pub notice: Option<String>,
}

/// One phrase pattern of the Aho-Corasick automaton.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PhrasePattern {
    pub rule: u32,
    pub len: u32,
    /// The phrase starts with a word character, so a word boundary is required before it.
    pub boundary_before: bool,
    /// The phrase ends with a word character, so a word boundary is required after it.
    pub boundary_after: bool,
}

/// One pattern of the regex automata: a regex rule or a detector.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RegexPattern {
    pub rule: u32,
    pub window: usize,
    pub detector: Option<DetectorKind>,
}

pub(crate) struct RegexAutomata {
    pub forward: RegexDfa,
    pub reverse: RegexDfa,
    pub patterns: Vec<RegexPattern>,
}

/// The compiled rules of one scope. Immutable.
pub struct RuleSet {
    pub(crate) rules: Vec<RuleMeta>,
    pub(crate) phrase_dfa: Option<PhraseDfa>,
    pub(crate) phrase_patterns: Vec<PhrasePattern>,
    pub(crate) regex: Option<RegexAutomata>,
    window: usize,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field("phrases", &self.phrase_patterns.len())
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

fn invalid(reason: String) -> SafetyError {
    SafetyError::InvalidRules { reason }
}

impl RuleSet {
    /// Compile the rules of `payload` that apply to input (`input == true`) or output text.
    pub fn compile(payload: &BundlePayload, input: bool) -> Result<Self, SafetyError> {
        let mut rules = Vec::new();
        let mut phrases: Vec<String> = Vec::new();
        let mut phrase_patterns = Vec::new();
        let mut regexes: Vec<String> = Vec::new();
        let mut regex_patterns = Vec::new();
        // The classifier is not an automaton: the gate runs it ([`super::classifier::check`]).
        for spec in payload
            .rules
            .iter()
            .filter(|r| r.scope.covers(input) && r.kind != RuleKind::Classifier)
        {
            let rule = u32::try_from(rules.len()).expect("rule count is limited");
            rules.push(RuleMeta {
                id: spec.id.clone(),
                action: spec.action,
                notice: spec.notice.clone(),
            });
            match spec.kind {
                RuleKind::Phrases => {
                    for text in spec
                        .phrases
                        .iter()
                        .flat_map(|p| phrase_variants(&normalize(p).text))
                    {
                        let (Some(first), Some(last)) = (text.chars().next(), text.chars().last())
                        else {
                            return Err(invalid(format!(
                                "rule {}: a phrase is empty after normalization",
                                spec.id
                            )));
                        };
                        if text.len() > MAX_PHRASE_BYTES {
                            return Err(invalid(format!(
                                "rule {}: a phrase is over {MAX_PHRASE_BYTES} bytes",
                                spec.id
                            )));
                        }
                        phrase_patterns.push(PhrasePattern {
                            rule,
                            len: u32::try_from(text.len()).expect("phrases are short"),
                            boundary_before: is_word_char(first),
                            boundary_after: is_word_char(last),
                        });
                        phrases.push(text);
                    }
                }
                RuleKind::Regex => {
                    let pattern = spec
                        .pattern
                        .clone()
                        .expect("validated: regex rules have a pattern");
                    let window = spec.max_len.expect("validated: regex rules have max_len");
                    check_regex(&spec.id, &pattern)?;
                    regexes.push(pattern);
                    regex_patterns.push(RegexPattern {
                        rule,
                        window,
                        detector: None,
                    });
                }
                RuleKind::Classifier => unreachable!("classifier rules are filtered out above"),
                RuleKind::Detector => {
                    let kind = spec
                        .detector
                        .expect("validated: detector rules name a detector");
                    regexes.push(kind.pattern().to_owned());
                    regex_patterns.push(RegexPattern {
                        rule,
                        window: kind.max_len(),
                        detector: Some(kind),
                    });
                }
            }
        }
        let phrase_window = phrase_patterns
            .iter()
            .map(|p| p.len as usize)
            .max()
            .unwrap_or(0);
        let regex_window = regex_patterns.iter().map(|p| p.window).max().unwrap_or(0);
        let phrase_dfa = if phrases.is_empty() {
            None
        } else {
            Some(
                PhraseDfa::builder()
                    .match_kind(aho_corasick::MatchKind::Standard)
                    .build(&phrases)
                    .map_err(|_| invalid("the phrase automaton is too large".into()))?,
            )
        };
        let regex = if regexes.is_empty() {
            None
        } else {
            Some(RegexAutomata {
                forward: build_regex_dfa(&regexes, false)?,
                reverse: build_regex_dfa(&regexes, true)?,
                patterns: regex_patterns,
            })
        };
        Ok(Self {
            rules,
            phrase_dfa,
            phrase_patterns,
            regex,
            window: phrase_window.max(regex_window),
        })
    }

    /// The longest possible match in bytes of normalized text: the gate's hold-back window.
    pub fn window(&self) -> usize {
        self.window
    }

    /// The rules of this scope.
    pub fn rules(&self) -> &[RuleMeta] {
        &self.rules
    }
}

/// The most separator runs next to single-character words that [`phrase_variants`] varies.
const MAX_VARIED_SEPARATORS: usize = 4;

/// A normalized phrase and its variants with separators next to single-character words
/// removed: the text "build a b o m b" collapses to "build abomb", so the phrase
/// "build a bomb" also needs the variant "build abomb".
pub fn phrase_variants(phrase: &str) -> Vec<String> {
    let chars: Vec<char> = phrase.chars().collect();
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if is_word_char(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !is_word_char(chars[i]) {
            i += 1;
        }
        let single = |from: usize, step: isize| {
            let at = from as isize + step;
            let next = at + step;
            at >= 0
                && (at as usize) < chars.len()
                && is_word_char(chars[at as usize])
                && (next < 0 || next as usize >= chars.len() || !is_word_char(chars[next as usize]))
        };
        let has_words_both_sides = start > 0 && i < chars.len();
        if has_words_both_sides && (single(start, -1) || single(i - 1, 1)) {
            runs.push((start, i));
        }
    }
    runs.truncate(MAX_VARIED_SEPARATORS);
    let mut variants = Vec::with_capacity(1 << runs.len());
    for mask in 0u32..(1 << runs.len()) {
        let mut text = String::with_capacity(phrase.len());
        let mut at = 0;
        for (bit, &(s, e)) in runs.iter().enumerate() {
            if mask & (1 << bit) != 0 {
                text.extend(&chars[at..s]);
                at = e;
            }
        }
        text.extend(&chars[at..]);
        variants.push(text);
    }
    variants
}

const NFA_SIZE_LIMIT: usize = 32 << 20;
const DFA_CACHE_BYTES: usize = 8 << 20;

fn check_regex(id: &str, pattern: &str) -> Result<(), SafetyError> {
    let re = regex::RegexBuilder::new(pattern)
        .size_limit(NFA_SIZE_LIMIT)
        .build()
        .map_err(|_| invalid(format!("rule {id}: the regex does not compile")))?;
    if re.is_match("") {
        return Err(invalid(format!("rule {id}: the regex matches empty text")));
    }
    build_regex_dfa(&[pattern.to_owned()], false).map_err(|_| {
        invalid(format!(
            "rule {id}: the regex cannot run in linear time (use (?-u:\\b) for word boundaries)"
        ))
    })?;
    Ok(())
}

fn build_regex_dfa(patterns: &[String], reverse: bool) -> Result<RegexDfa, SafetyError> {
    RegexDfa::builder()
        .configure(
            RegexDfa::config()
                .match_kind(MatchKind::All)
                .starts_for_each_pattern(reverse)
                .cache_capacity(DFA_CACHE_BYTES),
        )
        .thompson(
            thompson::Config::new()
                .reverse(reverse)
                .nfa_size_limit(Some(NFA_SIZE_LIMIT)),
        )
        .build_many(patterns)
        .map_err(|_| invalid("the regular expressions cannot be compiled together".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::payload::{RuleSpec, Scope};

    pub(crate) fn regex_rule(id: &str, pattern: &str) -> RuleSpec {
        RuleSpec {
            id: id.into(),
            kind: RuleKind::Regex,
            scope: Scope::Output,
            action: Action::Block,
            phrases: vec![],
            pattern: Some(pattern.into()),
            max_len: Some(16),
            detector: None,
            notice: None,
            model: None,
            thresholds: None,
            model_file: None,
        }
    }

    #[test]
    fn variants_join_single_letter_words() {
        assert_eq!(
            phrase_variants("build a bomb"),
            vec!["build a bomb", "builda bomb", "build abomb", "buildabomb"]
        );
        assert_eq!(phrase_variants("pipe bomb"), vec!["pipe bomb"]);
    }

    #[test]
    fn unbounded_or_empty_regexes_are_refused() {
        assert!(check_regex("r", "abc").is_ok());
        assert!(check_regex("r", "a*").is_err(), "matches empty");
        assert!(
            check_regex("r", r"\bfoo\b").is_err(),
            "unicode word boundary"
        );
        assert!(check_regex("r", r"(?-u:\b)foo(?-u:\b)").is_ok());
        assert!(check_regex("r", "(").is_err());
        let _ = regex_rule("x", "y");
    }
}
