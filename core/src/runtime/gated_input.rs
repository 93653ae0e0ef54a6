//! The input gate of a chat turn: every message the person wrote passes the bundle's input
//! gate, not only the last. Redactions apply to earlier messages too; an earlier message a
//! block rule matches is dropped with the answer that followed it, so blocked text never
//! reaches the model; a blocked last message is refused. The notices of annotate rules on the
//! last message are collected for the person and never sent to the model.

use crate::engine::{ChatMessage, Role};
use crate::safety::payload::Action;
use crate::safety::{Gate, Verdict, VerifiedBundle};

/// The conversation after the input gate.
pub(super) struct GatedInput {
    /// What the model may see.
    pub(super) messages: Vec<ChatMessage>,
    /// The strictest verdict over the person's messages.
    pub(super) verdict: Verdict,
    /// Every rule that matched, first match first, without repeats.
    pub(super) rules: Vec<String>,
    /// The refusal, when the last message is blocked.
    pub(super) refusal: Option<String>,
    /// The notices for the person's last message, as the chunk to show.
    pub(super) notice: Option<String>,
}

/// Pass every user message through the input gate: redact spans, drop blocked earlier
/// exchanges, refuse a blocked last message, and collect the last message's notices.
pub(super) fn gate_input(
    gate: &Gate,
    bundle: Option<&VerifiedBundle>,
    messages: Vec<ChatMessage>,
) -> GatedInput {
    let last_user = messages.iter().rposition(|m| m.role == Role::User);
    let mut out = GatedInput {
        messages: Vec::with_capacity(messages.len()),
        verdict: Verdict::Allow,
        rules: Vec::new(),
        refusal: None,
        notice: None,
    };
    let mut dropping = false;
    for (i, mut message) in messages.into_iter().enumerate() {
        match message.role {
            Role::System => {}
            Role::Assistant if dropping => continue,
            Role::Assistant => {}
            Role::User => {
                dropping = false;
                let checked = gate.check_input(&message.content);
                for rule in &checked.report.rules {
                    if !out.rules.contains(rule) {
                        out.rules.push(rule.clone());
                    }
                }
                let is_last = Some(i) == last_user;
                match checked.report.verdict {
                    Verdict::Block if is_last => {
                        out.verdict = Verdict::Block;
                        out.refusal = Some(checked.text);
                        out.messages.clear();
                        return out;
                    }
                    Verdict::Block => {
                        out.verdict = out.verdict.max(Verdict::Redact);
                        dropping = true;
                        continue;
                    }
                    verdict => out.verdict = out.verdict.max(verdict),
                }
                let notices =
                    bundle.map_or_else(Vec::new, |b| input_notices(b, &checked.report.rules));
                if checked.report.verdict == Verdict::Redact {
                    message.content = strip_notices(checked.text, &notices);
                }
                if is_last && !notices.is_empty() {
                    out.notice = Some(notices.join("\n\n") + "\n\n");
                }
            }
        }
        out.messages.push(message);
    }
    out
}

/// The distinct notices of the annotate rules among `matched`, in bundle order (the order in
/// which the gate appends them).
fn input_notices(bundle: &VerifiedBundle, matched: &[String]) -> Vec<String> {
    let payload = bundle.payload();
    let mut notices: Vec<String> = Vec::new();
    for rule in &payload.rules {
        if rule.action != Action::Annotate
            || !rule.scope.covers(true)
            || !matched.contains(&rule.id)
        {
            continue;
        }
        let notice = rule
            .notice
            .clone()
            .unwrap_or_else(|| payload.templates.notice.clone());
        if !notices.contains(&notice) {
            notices.push(notice);
        }
    }
    notices
}

/// The input gate's text without the notices it appended (each after a blank line: the gate
/// adds one line break to text that already ends with one). When the text does not end with
/// them the gate's text is kept whole: never the unredacted original.
fn strip_notices(text: String, notices: &[String]) -> String {
    let mut rest = text.as_str();
    for notice in notices.iter().rev() {
        match rest
            .strip_suffix(notice.as_str())
            .and_then(|before| before.strip_suffix("\n\n"))
        {
            Some(before) => rest = before,
            None => return text,
        }
    }
    rest.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::testing::{sign_test_bundle, with_full_envelope};
    use crate::safety::Duration;

    /// A bundle that blocks "forbidden", redacts "secret" and annotates "pills", on input.
    fn bundle() -> VerifiedBundle {
        let rules = with_full_envelope(
            r#"bundle_id = "test-input"
models = []
[templates]
refusal = "REFUSED."
notice = "NOTICE."
redaction = "[x]"
[[rules]]
id = "in.block"
kind = "phrases"
scope = "input"
action = "block"
phrases = ["forbidden"]
[[rules]]
id = "in.redact"
kind = "phrases"
scope = "input"
action = "redact"
phrases = ["secret"]
[[rules]]
id = "in.note"
kind = "phrases"
scope = "input"
action = "annotate"
phrases = ["pills"]
"#,
            &[],
        );
        sign_test_bundle(&rules, Duration::days(7))
            .expect("signed")
            .verify()
            .expect("verified")
    }

    fn run(messages: Vec<ChatMessage>) -> GatedInput {
        let b = bundle();
        gate_input(&Gate::new(&b).expect("gate"), Some(&b), messages)
    }

    #[test]
    fn earlier_messages_are_redacted_too() {
        let out = run(vec![
            ChatMessage::user("my secret is here"),
            ChatMessage::assistant("ok"),
            ChatMessage::user("hello"),
        ]);
        assert_eq!(out.messages[0].content, "my [x] is here");
        assert_eq!(out.messages.len(), 3);
        assert_eq!(out.verdict, Verdict::Redact);
        assert_eq!(out.rules, vec!["in.redact".to_owned()]);
        assert!(out.refusal.is_none());
    }

    #[test]
    fn a_blocked_earlier_exchange_never_reaches_the_model() {
        let out = run(vec![
            ChatMessage::system("be kind"),
            ChatMessage::user("something forbidden"),
            ChatMessage::assistant("REFUSED."),
            ChatMessage::user("hello"),
        ]);
        let contents: Vec<&str> = out.messages.iter().map(|m| m.content.as_str()).collect();
        assert_eq!(contents, vec!["be kind", "hello"]);
        assert!(out.refusal.is_none(), "the last message is fine");
        assert_eq!(out.verdict, Verdict::Redact);
        assert_eq!(out.rules, vec!["in.block".to_owned()]);
    }

    #[test]
    fn a_blocked_last_message_is_refused_with_the_strongest_report() {
        let out = run(vec![
            ChatMessage::user("a secret"),
            ChatMessage::assistant("ok"),
            ChatMessage::user("forbidden"),
        ]);
        assert_eq!(out.refusal.as_deref(), Some("REFUSED."));
        assert_eq!(out.verdict, Verdict::Block);
        assert_eq!(
            out.rules,
            vec!["in.redact".to_owned(), "in.block".to_owned()]
        );
        assert!(out.messages.is_empty());
    }

    #[test]
    fn notices_go_to_the_person_not_the_model() {
        let out = run(vec![ChatMessage::user("which pills help?")]);
        assert_eq!(out.messages[0].content, "which pills help?");
        assert_eq!(out.notice.as_deref(), Some("NOTICE.\n\n"));
        assert_eq!(out.verdict, Verdict::Annotate);

        let out = run(vec![ChatMessage::user("my secret pills")]);
        assert_eq!(out.messages[0].content, "my [x] pills");
        assert_eq!(out.notice.as_deref(), Some("NOTICE.\n\n"));
        assert_eq!(out.verdict, Verdict::Redact);

        // An earlier message's notice was shown on its own turn.
        let out = run(vec![
            ChatMessage::user("pills?"),
            ChatMessage::assistant("ok"),
            ChatMessage::user("thanks"),
        ]);
        assert_eq!(out.messages[0].content, "pills?");
        assert!(out.notice.is_none());
    }

    #[test]
    fn notices_are_stripped_exactly() {
        let n = vec!["A.".to_owned(), "B.".to_owned()];
        assert_eq!(strip_notices("text\n\nA.\n\nB.".into(), &n), "text");
        assert_eq!(strip_notices("text\n\nB.".into(), &n[1..]), "text");
        // Not what the gate appends: kept whole rather than guessed at.
        assert_eq!(strip_notices("text A. B.".into(), &n), "text A. B.");
        assert_eq!(strip_notices("plain".into(), &[]), "plain");
    }
}
