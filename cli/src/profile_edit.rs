//! `keel profile set|unset` and the "in words" part of `keel profile show`: a person reads,
//! sets or deletes any single preference. The learner stays the one source of truth (an edit
//! is an observation it learns from); this module only parses and prints.

use keel::prefs::ContextKey;
use keel::safety::personalization::Dimension;
use keel::store::Store;
use serde_json::json;

use crate::error::CliError;
use crate::globals::Globals;
use crate::store_access::{default_personalizer, personal_error, print_feedback, print_json};

/// Parse a dimension by the name bundles and profiles use (`verbosity`, `technical_depth`…).
pub fn parse_dimension(name: &str) -> Result<Dimension, String> {
    let wanted = name.trim().replace(['-', ' '], "_").to_lowercase();
    Dimension::ALL
        .into_iter()
        .find(|d| d.name() == wanted)
        .ok_or_else(|| {
            let names: Vec<_> = Dimension::ALL.iter().map(|d| d.name()).collect();
            format!("unknown preference; use one of: {}", names.join(", "))
        })
}

/// Parse a preference value: a number from 0 to 1.
pub fn parse_value(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err("a preference value is a number from 0 to 1 (0: the first end of the scale, 1: the other)".into()),
    }
}

/// `keel profile set`: the person sets one preference (clamped into the bundle's envelope,
/// refused when the bundle fixes it).
pub fn set(
    store: Store,
    user: &str,
    dimension: Dimension,
    value: f64,
    context: Option<&ContextKey>,
    g: &Globals,
) -> Result<(), CliError> {
    let report = default_personalizer(store)?
        .edit(user, dimension, value, context)
        .map_err(personal_error)?;
    finish(&report, g)
}

/// `keel profile unset`: the person deletes one preference; it returns to the starting point.
pub fn unset(
    store: Store,
    user: &str,
    dimension: Dimension,
    context: Option<&ContextKey>,
    g: &Globals,
) -> Result<(), CliError> {
    let report = default_personalizer(store)?
        .delete(user, dimension, context)
        .map_err(personal_error)?;
    finish(&report, g)
}

fn finish(report: &keel::runtime::FeedbackReport, g: &Globals) -> Result<(), CliError> {
    if g.json {
        let value = serde_json::to_value(report)
            .map_err(|e| CliError::Usage(format!("encoding JSON failed: {e}")))?;
        return print_json(&value);
    }
    print_feedback(report);
    Ok(())
}

/// The person's profile as the learner sees it now, in words and as data.
pub fn describe(
    store: Store,
    user: &str,
    context: Option<&ContextKey>,
) -> Result<(Vec<String>, serde_json::Value), CliError> {
    let profile = default_personalizer(store)?
        .profile(user, context)
        .map_err(personal_error)?;
    let data = serde_json::to_value(&profile.preferences).unwrap_or_else(|_| json!([]));
    Ok((profile.describe(), data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_parse_by_name_in_any_spelling() {
        assert_eq!(parse_dimension("verbosity"), Ok(Dimension::Verbosity));
        assert_eq!(
            parse_dimension("Technical-Depth"),
            Ok(Dimension::TechnicalDepth)
        );
        assert_eq!(
            parse_dimension("technical depth"),
            Ok(Dimension::TechnicalDepth)
        );
        let err = parse_dimension("loudness").expect_err("not a dimension");
        assert!(err.contains("verbosity") && err.contains("emoji"), "{err}");
    }

    #[test]
    fn values_outside_zero_to_one_are_refused() {
        assert_eq!(parse_value("0.25"), Ok(0.25));
        assert_eq!(parse_value("1"), Ok(1.0));
        for bad in ["-0.1", "1.5", "NaN", "short", ""] {
            assert!(parse_value(bad).is_err(), "{bad:?} accepted");
        }
    }
}
