//! The external-data evaluation: JSONL lines of per-person pairwise choices,
//! `{"user","context"?,"prompt","a","b","winner":"a"|"b"|"tie"}`. Each person's choices are
//! split in file order (the earlier half to learn, the later half to test); ties are counted
//! and left out; a malformed line is counted and skipped, never fatal. The personal learners
//! start from, and shrink toward, the population fitted on the learning halves only.

use std::collections::BTreeMap;
use std::io::BufRead;

use serde::{Deserialize, Serialize};

use crate::prefs::eval::fit::{fit_population, personal_credit};
use crate::prefs::eval::Choice;
use crate::prefs::features::extract;
use crate::prefs::feedback::ContextKey;
use crate::prefs::learner::{Learner, LearnerConfig};

/// Longest line accepted (bytes); longer lines count as bad.
const MAX_LINE: usize = 1 << 20;

/// What the external evaluation reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalReport {
    /// Personal learners' accuracy on each person's later choices.
    pub personalized_acc: f64,
    /// The aggregated model's accuracy on the same choices.
    pub aggregated_acc: f64,
    /// People with at least one usable choice.
    pub users: usize,
    /// Usable (non-tie) choices.
    pub pairs: usize,
    /// Choices held out for testing.
    pub test_pairs: usize,
    /// Ties (counted, not used).
    pub ties: usize,
    /// Lines that could not be used (malformed JSON, missing fields, bad winner, ...).
    pub bad_lines: usize,
    /// The per-person prior variance chosen on the learning halves.
    pub prior_variance: f64,
}

#[derive(Deserialize)]
struct Line {
    user: String,
    #[serde(default)]
    context: Option<String>,
    prompt: String,
    a: String,
    b: String,
    winner: String,
}

enum Parsed {
    Choice(String, Box<Choice>),
    Tie,
    Bad,
}

fn parse(line: &str) -> Parsed {
    let Ok(l) = serde_json::from_str::<Line>(line) else {
        return Parsed::Bad;
    };
    if l.user.trim().is_empty()
        || l.prompt.trim().is_empty()
        || l.a.trim().is_empty()
        || l.b.trim().is_empty()
    {
        return Parsed::Bad;
    }
    let context = match l.context.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(c) => match ContextKey::new(c) {
            Ok(k) => Some(k),
            Err(_) => return Parsed::Bad,
        },
    };
    let (fa, fb) = (extract(&l.a), extract(&l.b));
    let (winner, loser) = match l.winner.as_str() {
        "a" => (fa, fb),
        "b" => (fb, fa),
        "tie" => return Parsed::Tie,
        _ => return Parsed::Bad,
    };
    Parsed::Choice(
        l.user,
        Box::new(Choice {
            context,
            winner,
            loser,
        }),
    )
}

/// Evaluate the JSONL choices read from `reader`. Only reading can fail; bad lines are counted.
pub fn evaluate_jsonl(
    reader: impl BufRead,
    config: &LearnerConfig,
) -> std::io::Result<ExternalReport> {
    let mut by_user: BTreeMap<String, Vec<Choice>> = BTreeMap::new();
    let (mut ties, mut bad) = (0, 0);
    for line in reader.split(b'\n') {
        let line = line?;
        let Ok(text) = std::str::from_utf8(&line) else {
            bad += 1;
            continue;
        };
        if text.trim().is_empty() {
            continue;
        }
        if line.len() > MAX_LINE {
            bad += 1;
            continue;
        }
        match parse(text) {
            Parsed::Choice(user, c) => by_user.entry(user).or_default().push(*c),
            Parsed::Tie => ties += 1,
            Parsed::Bad => bad += 1,
        }
    }
    let split: Vec<(&[Choice], &[Choice])> = by_user
        .values()
        .map(|c| c.split_at(c.len() - c.len() / 2))
        .collect();
    let learn: Vec<&[Choice]> = split.iter().map(|(l, _)| *l).collect();
    let population = fit_population(&learn, config);
    let (mut personal, mut aggregated, mut tested) = (0.0, 0.0, 0usize);
    for (learn, test) in &split {
        let observations: Vec<_> = learn.iter().map(Choice::observation).collect();
        let learner = Learner::rebuild(population.prior.clone(), config.clone(), &observations)
            .expect("choices built from the file are valid observations");
        for c in *test {
            personal += personal_credit(&learner, c);
            aggregated += population.aggregate.credit(c);
            tested += 1;
        }
    }
    let share = |s: f64| if tested == 0 { 0.0 } else { s / tested as f64 };
    Ok(ExternalReport {
        personalized_acc: share(personal),
        aggregated_acc: share(aggregated),
        users: by_user.len(),
        pairs: by_user.values().map(Vec::len).sum(),
        test_pairs: tested,
        ties,
        bad_lines: bad,
        prior_variance: population.prior_variance,
    })
}
