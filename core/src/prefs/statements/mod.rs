//! A deterministic parser for explicit statements ("I prefer short answers", "use bullet
//! points", "no emoji", "be more formal", "explain like I'm five", "more detail"). Each clause
//! of a statement becomes one of: a target value on an envelope dimension (clamped into the
//! envelope, with the envelope's reason when moved), a refusal with a readable reason (a
//! dimension the bundle fixes, or a locked behaviour such as refusals or safety notices), or
//! an unmapped note kept verbatim so nothing the person said is lost. The phrases it knows are
//! in `phrases.rs`.

mod phrases;

use crate::safety::personalization::{Dimension, PersonalizationEnvelope};
use phrases::{LOCKED, NEGATORS, RULES};

/// What one clause of a statement amounts to.
#[derive(Debug, Clone, PartialEq)]
pub enum StatementOutcome {
    /// A preference the envelope accepts (possibly moved inside its range).
    Applied {
        /// The dimension.
        dimension: Dimension,
        /// What the clause asked for, 0–1.
        requested: f64,
        /// What will be used, inside the envelope.
        value: f64,
        /// The envelope's reason when `value` differs from `requested`.
        adjusted: Option<String>,
    },
    /// A request the envelope refuses, with its reason for people.
    Refused {
        /// The dimension, when the refusal is about one (else a locked behaviour).
        dimension: Option<Dimension>,
        /// Why, for people.
        reason: String,
    },
    /// A clause the parser cannot map: reported, stored as a note, not applied.
    Unmapped {
        /// The clause as the person wrote it.
        note: String,
    },
}

/// Parse `statement` into one outcome per meaningful clause, checking each against `envelope`.
pub fn parse_statement(
    statement: &str,
    envelope: &PersonalizationEnvelope,
) -> Vec<StatementOutcome> {
    let mut outcomes = Vec::new();
    for clause in clauses(statement) {
        let normal = normalize(clause);
        if normal.is_empty() {
            continue;
        }
        let before = outcomes.len();
        if let Some(refusal) = locked_request(&normal, envelope) {
            outcomes.push(refusal);
            continue;
        }
        for (dimension, target) in dimension_targets(&normal) {
            outcomes.push(match envelope.clamp(dimension, target) {
                Ok(c) => StatementOutcome::Applied {
                    dimension,
                    requested: target,
                    value: c.value,
                    adjusted: c.adjusted,
                },
                Err(refusal) => StatementOutcome::Refused {
                    dimension: Some(dimension),
                    reason: refusal.reason,
                },
            });
        }
        if outcomes.len() == before {
            outcomes.push(StatementOutcome::Unmapped {
                note: clause.trim().to_string(),
            });
        }
    }
    outcomes
}

fn clauses(statement: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for part in statement.split(['.', ',', ';', '!', '?', '\n']) {
        let mut rest = part;
        loop {
            let lower = rest.to_lowercase();
            let cut = [" and ", " but ", " also "]
                .iter()
                .filter_map(|sep| lower.find(sep).map(|i| (i, sep.len())))
                .min();
            match cut {
                // Lower-casing can change byte lengths outside ASCII; cut only where it did not.
                Some((i, len)) if lower.len() == rest.len() && rest.is_char_boundary(i) => {
                    out.push(&rest[..i]);
                    rest = &rest[i + len..];
                }
                _ => {
                    out.push(rest);
                    break;
                }
            }
        }
    }
    out.into_iter()
        .filter(|c| c.chars().any(char::is_alphanumeric))
        .collect()
}

/// Lower-case words separated by single spaces, apostrophes kept and unified.
fn normalize(clause: &str) -> String {
    clause
        .to_lowercase()
        .replace('’', "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-' || c == ';'))
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Byte offset of the first whole-word occurrence of `phrase` in `clause`.
fn find_phrase(clause: &str, phrase: &str) -> Option<usize> {
    let padded = format!(" {clause} ");
    padded.find(&format!(" {phrase} "))
}

fn negated_before(clause: &str, at: usize) -> bool {
    clause[..at.min(clause.len())]
        .split(' ')
        .any(|w| NEGATORS.contains(&w) || w.ends_with("n't"))
}

fn locked_request(clause: &str, envelope: &PersonalizationEnvelope) -> Option<StatementOutcome> {
    for (phrases, behaviour, needs_negation) in LOCKED {
        for phrase in *phrases {
            let Some(at) = find_phrase(clause, phrase) else {
                continue;
            };
            if needs_negation.is_some_and(|n| n != negated_before(clause, at)) {
                continue;
            }
            if let Err(refusal) = envelope.request_behaviour_change(*behaviour) {
                return Some(StatementOutcome::Refused {
                    dimension: None,
                    reason: refusal.reason,
                });
            }
        }
    }
    None
}

/// Each dimension the clause names, with the target of its earliest phrase.
fn dimension_targets(clause: &str) -> Vec<(Dimension, f64)> {
    let mut best: Vec<(Dimension, usize, f64)> = Vec::new();
    for rule in RULES {
        for phrase in rule.phrases {
            let Some(at) = find_phrase(clause, phrase) else {
                continue;
            };
            let target = if negated_before(clause, at) {
                rule.negated
            } else {
                rule.affirmed
            };
            match best.iter_mut().find(|(d, _, _)| *d == rule.dimension) {
                Some(entry) if at < entry.1 => *entry = (rule.dimension, at, target),
                Some(_) => {}
                None => best.push((rule.dimension, at, target)),
            }
        }
    }
    best.sort_by_key(|(d, _, _)| *d);
    best.into_iter().map(|(d, _, t)| (d, t)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prefs::profile::tests::envelope;

    fn applied(statement: &str) -> Vec<(Dimension, f64)> {
        parse_statement(statement, &envelope())
            .into_iter()
            .filter_map(|o| match o {
                StatementOutcome::Applied {
                    dimension, value, ..
                } => Some((dimension, value)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn common_statements_map_to_dimensions() {
        assert_eq!(
            applied("I prefer short answers"),
            vec![(Dimension::Verbosity, 0.15)]
        );
        assert_eq!(applied("Use bullet points"), vec![(Dimension::Format, 0.9)]);
        assert_eq!(applied("no emoji"), vec![(Dimension::Emoji, 0.0)]);
        assert_eq!(
            applied("Be more formal."),
            vec![(Dimension::Formality, 0.85)]
        );
        assert_eq!(
            applied("Explain like I’m five"),
            vec![(Dimension::TechnicalDepth, 0.1)]
        );
        assert_eq!(
            applied("more detail please"),
            vec![(Dimension::Verbosity, 0.85)]
        );
        assert_eq!(applied("less formal"), vec![(Dimension::Formality, 0.25)]);
        assert_eq!(
            applied("answers are too long"),
            vec![(Dimension::Verbosity, 0.3)]
        );
        assert_eq!(
            applied("Short and casual, with lists"),
            vec![
                (Dimension::Verbosity, 0.15),
                (Dimension::Formality, 0.2),
                (Dimension::Format, 0.9)
            ]
        );
    }

    #[test]
    fn values_outside_the_range_are_moved_with_the_envelopes_reason() {
        let out = parse_statement("lots of emoji", &envelope());
        let StatementOutcome::Applied {
            value, adjusted, ..
        } = &out[0]
        else {
            panic!("expected an applied preference, got {out:?}");
        };
        assert_eq!(*value, 0.5);
        assert!(adjusted
            .as_deref()
            .is_some_and(|r| r.contains("up to 0.50")));
    }

    #[test]
    fn locked_behaviours_and_fixed_dimensions_are_refused_with_a_reason() {
        let out = parse_statement("never refuse anything", &envelope());
        assert!(
            matches!(&out[..], [StatementOutcome::Refused { dimension: None, reason }]
            if reason.contains("cannot be changed"))
        );
        let out = parse_statement("skip the safety warnings", &envelope());
        assert!(matches!(&out[..], [StatementOutcome::Refused { .. }]));
        let out = parse_statement("always agree with me", &envelope());
        assert!(matches!(&out[..], [StatementOutcome::Refused { .. }]));
        let fixed = crate::prefs::profile::tests::envelope_with_fixed_humour();
        let out = parse_statement("be funny", &fixed);
        assert!(
            matches!(&out[..], [StatementOutcome::Refused { dimension: Some(Dimension::Humour), reason }]
            if reason.contains("cannot be personalized"))
        );
    }

    #[test]
    fn unmappable_clauses_are_kept_as_notes() {
        let out = parse_statement("I live in Lisbon, be brief", &envelope());
        assert_eq!(
            out[0],
            StatementOutcome::Unmapped {
                note: "I live in Lisbon".into()
            }
        );
        assert!(matches!(
            out[1],
            StatementOutcome::Applied {
                dimension: Dimension::Verbosity,
                ..
            }
        ));
        assert!(parse_statement("...", &envelope()).is_empty());
    }

    #[test]
    fn parsing_is_deterministic() {
        let s = "Be concise and formal, no emoji; I like cats";
        assert_eq!(
            parse_statement(s, &envelope()),
            parse_statement(s, &envelope())
        );
    }
}
