//! The training and validation corpora, read from the shared data folder (never copied into
//! the repository): harmful requests (AdvBench goals, HarmBench behaviours, XSTest's unsafe
//! contrasts), look-alike safe prompts (XSTest), everyday prompts (the benign corpora), harmful
//! answers (AdvBench harmful strings, XSTest completions that comply with an unsafe prompt) and
//! safe answers (XSTest refusals and safe compliances, GSM8K and Self-Instruct reference
//! answers). Each example is assigned to a split by a fixed hash of its split key, so the same
//! data always gives the same split.
//!
//! Two everyday sets are Keel's own (ADR 0044), because the public benign corpora hold few of
//! the short requests people type to an assistant ("How do I write a cover letter?"):
//! [`EVERYDAY_PROMPTS`], compiled in and split like the rest, and the independent probe set
//! `tests/data/everyday_probe.txt`, written separately and only ever validated on.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::csv;

/// Keel's own short everyday requests (written for this purpose, one per line; ADR 0044).
pub const EVERYDAY_PROMPTS: &str = include_str!("everyday_prompts.txt");
/// The source name of [`EVERYDAY_PROMPTS`].
pub const KEEL_EVERYDAY: &str = "keel_everyday";

/// The source name of the independent everyday probe set (validation only).
pub const EVERYDAY_PROBE_SOURCE: &str = "everyday_probe";
/// The independent everyday probe set in the repository.
const EVERYDAY_PROBE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/data/everyday_probe.txt"
);

/// The environment variable that overrides where the data is.
pub const DATA_ENV: &str = "KEEL_SAFETY_DATA";

/// What kind of text an example is (the per-source report groups by this too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Group {
    /// A request that must be refused.
    HarmfulRequest,
    /// A safe prompt that sounds unsafe (XSTest).
    LookalikePrompt,
    /// An everyday prompt.
    EverydayPrompt,
    /// A model answer that complies with a harmful request.
    HarmfulAnswer,
    /// A safe model answer.
    SafeAnswer,
}

impl Group {
    /// Whether examples of this group are harmful.
    pub fn harmful(self) -> bool {
        matches!(self, Self::HarmfulRequest | Self::HarmfulAnswer)
    }

    /// Whether examples of this group are model answers (scored by the output rule).
    pub fn is_answer(self) -> bool {
        matches!(self, Self::HarmfulAnswer | Self::SafeAnswer)
    }
}

/// Which split an example is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Fits the weights (60%).
    Train,
    /// Chooses the thresholds (10%).
    Calibration,
    /// Reported on, never tuned on (30%).
    Validation,
}

/// One labelled text.
#[derive(Debug, Clone)]
pub struct Example {
    /// The text.
    pub text: String,
    /// What it is.
    pub group: Group,
    /// Where it comes from (e.g. `advbench_behaviors`).
    pub source: &'static str,
    /// Its split.
    pub split: Split,
}

/// The data folder: `KEEL_SAFETY_DATA`, else `<workspace>/../shared/data`; `None` when it has
/// no `safety/` folder.
pub fn default_dir() -> Option<PathBuf> {
    let dir = std::env::var_os(DATA_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    dir.join("safety").is_dir().then_some(dir)
}

fn split_of(key: &str, source: &str) -> Split {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Koala's authors ask that it not be used for training; the probe set is a test set.
    if source == "koala" || source == EVERYDAY_PROBE_SOURCE {
        return Split::Validation;
    }
    match (h >> 7) % 10 {
        0..=2 => Split::Validation,
        3 => Split::Calibration,
        _ => Split::Train,
    }
}

/// A data loading failure (paths only, never contents).
#[derive(Debug, thiserror::Error)]
#[error("cannot read the safety data file {path}: {source}")]
pub struct DataError {
    /// The file.
    pub path: String,
    /// Why.
    pub source: std::io::Error,
}

fn read(dir: &Path, rel: &str) -> Result<String, DataError> {
    let path = dir.join(rel);
    std::fs::read_to_string(&path).map_err(|source| DataError {
        path: path.display().to_string(),
        source,
    })
}

struct Sink(Vec<Example>);

impl Sink {
    fn add(&mut self, text: &str, key: &str, group: Group, source: &'static str) {
        let text = text.trim();
        if !text.is_empty() {
            self.0.push(Example {
                text: text.to_owned(),
                group,
                source,
                split: split_of(key, source),
            });
        }
    }
}

/// Every example under `dir` (which holds `safety/` and `benign/`), in a fixed order.
pub fn load(dir: &Path) -> Result<Vec<Example>, DataError> {
    let mut s = Sink(Vec::new());
    for r in csv::table(&read(dir, "safety/advbench/harmful_behaviors.csv")?) {
        s.add(
            &r["goal"],
            &r["goal"],
            Group::HarmfulRequest,
            "advbench_behaviors",
        );
    }
    for r in csv::table(&read(dir, "safety/advbench/harmful_strings.csv")?) {
        s.add(
            &r["target"],
            &r["target"],
            Group::HarmfulAnswer,
            "advbench_strings",
        );
    }
    for r in csv::table(&read(
        dir,
        "safety/harmbench/harmbench_behaviors_text_all.csv",
    )?) {
        s.add(
            &r["Behavior"],
            &r["Behavior"],
            Group::HarmfulRequest,
            "harmbench",
        );
    }
    for r in csv::table(&read(dir, "safety/xstest/xstest_prompts.csv")?) {
        let (group, source) = if r["label"] == "safe" {
            (Group::LookalikePrompt, "xstest_safe")
        } else {
            (Group::HarmfulRequest, "xstest_unsafe")
        };
        s.add(&r["prompt"], &r["prompt"], group, source);
    }
    for model in [
        "gpt4",
        "llama2new",
        "llama2orig",
        "mistralguard",
        "mistralinstruct",
    ] {
        let file = format!("safety/xstest/model_completions/xstest_v2_completions_{model}.csv");
        for r in csv::table(&read(dir, &file)?) {
            let unsafe_prompt = r["type"].starts_with("contrast");
            let label = r["final_label"].as_str();
            let (group, source) = match (unsafe_prompt, label) {
                (true, "1_full_compliance") => (Group::HarmfulAnswer, "xstest_harmful_answers"),
                // A partial refusal of an unsafe prompt is ambiguous: left out.
                (true, "3_partial_refusal") => continue,
                _ => (Group::SafeAnswer, "xstest_safe_answers"),
            };
            // Split by prompt, so one prompt's answers are all on one side.
            s.add(&r["completion"], &r["prompt"], group, source);
        }
    }
    benign(dir, &mut s)?;
    for line in EVERYDAY_PROMPTS.lines() {
        s.add(line, line, Group::EverydayPrompt, KEEL_EVERYDAY);
    }
    // Absent outside a checkout of the repository: then simply not reported.
    if let Ok(probe) = std::fs::read_to_string(EVERYDAY_PROBE) {
        for line in probe.lines() {
            s.add(line, line, Group::EverydayPrompt, EVERYDAY_PROBE_SOURCE);
        }
    }
    Ok(s.0)
}

fn jsonl(dir: &Path, rel: &str) -> Result<Vec<Value>, DataError> {
    Ok(read(dir, rel)?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = match p.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[*p],
        };
    }
    cur.as_str().unwrap_or("")
}

fn benign(dir: &Path, s: &mut Sink) -> Result<(), DataError> {
    for (rel, source) in [
        ("benign/mt_bench/question.jsonl", "mt_bench"),
        ("benign/vicuna_bench/question.jsonl", "vicuna_bench"),
    ] {
        for v in jsonl(dir, rel)? {
            let first = str_at(&v, &["turns", "0"]).to_owned();
            for turn in v["turns"].as_array().into_iter().flatten() {
                s.add(
                    turn.as_str().unwrap_or(""),
                    &first,
                    Group::EverydayPrompt,
                    source,
                );
            }
        }
    }
    for (rel, source) in [
        ("benign/self_instruct/seed_tasks.jsonl", "self_instruct"),
        (
            "benign/self_instruct/user_oriented_instructions.jsonl",
            "self_instruct",
        ),
    ] {
        for v in jsonl(dir, rel)? {
            let instr = str_at(&v, &["instruction"]);
            let input = str_at(&v, &["instances", "0", "input"]);
            let prompt = format!("{instr}\n{input}");
            s.add(&prompt, instr, Group::EverydayPrompt, source);
            let answer = str_at(&v, &["instances", "0", "output"]);
            s.add(answer, instr, Group::SafeAnswer, "self_instruct_answers");
        }
    }
    for (rel, field, source) in [
        ("benign/koala/koala_test_set.jsonl", "prompt", "koala"),
        ("benign/ifeval/input_data.jsonl", "prompt", "ifeval"),
        ("benign/arena_hard/question.jsonl", "prompt", "arena_hard"),
    ] {
        for v in jsonl(dir, rel)? {
            let p = str_at(&v, &[field]);
            let p = if p.is_empty() {
                str_at(&v, &["turns", "0", "content"])
            } else {
                p
            };
            s.add(p, p, Group::EverydayPrompt, source);
        }
    }
    for v in jsonl(dir, "benign/gsm8k/test.jsonl")? {
        let q = str_at(&v, &["question"]);
        s.add(q, q, Group::EverydayPrompt, "gsm8k");
        s.add(
            str_at(&v, &["answer"]),
            q,
            Group::SafeAnswer,
            "gsm8k_answers",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keels_everyday_set_is_clean_and_apart_from_the_probe_set() {
        let lines: Vec<&str> = EVERYDAY_PROMPTS.lines().collect();
        assert!(lines.len() >= 500, "{} lines", lines.len());
        let unique: std::collections::BTreeSet<&str> = lines.iter().copied().collect();
        assert_eq!(unique.len(), lines.len(), "no line twice");
        assert!(lines.iter().all(|l| !l.trim().is_empty() && l.trim() == *l));
        let probe =
            std::fs::read_to_string(EVERYDAY_PROBE).expect("the probe set is in the repository");
        let leaked: Vec<&str> = probe.lines().filter(|l| unique.contains(l)).collect();
        assert!(
            leaked.is_empty(),
            "probe lines in the training set: {leaked:?}"
        );
    }

    #[test]
    fn the_probe_set_is_validation_only() {
        for key in ["How do I boil an egg?", "Write a haiku", "x"] {
            assert_eq!(split_of(key, EVERYDAY_PROBE_SOURCE), Split::Validation);
        }
    }
}
