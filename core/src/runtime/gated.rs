//! One gated chat turn: the input gate on every message the person wrote, generation on the
//! engine, and the output gate over the stream. The app sees only what the output gate
//! releases; a blocked answer becomes the bundle's refusal, nothing of the blocked text is
//! ever shown, and generation stops as soon as the gate blocks. With no bundle in force (and
//! no explicit developer mode) nothing is generated.
//!
//! Every user message passes the input gate, not only the last: redactions apply to earlier
//! messages too, and an earlier message a block rule matches is dropped together with the
//! answer that followed it, so blocked text never reaches the model. The notices of annotate
//! rules are shown to the person (the turn's first chunk, and [`TurnReport::input_notice`]) and
//! never sent to the model as if the person had written them.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::Serialize;

use crate::engine::{
    ChatMessage, Engine, Generation, GenerationParams, GenerationReport, Role, StreamEvent,
};
use crate::runtime::BundleStatus;
use crate::safety::payload::Action;
use crate::safety::{BundleSlot, Gate, GateReport, OutputGate, Verdict, VerifiedBundle};
use crate::Error;

/// An engine whose every turn passes the bundle's gate.
pub struct GatedChat {
    engine: Arc<Engine>,
    slot: BundleSlot,
}

impl std::fmt::Debug for GatedChat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatedChat")
            .field("bundle", &BundleStatus::of(&self.slot))
            .finish()
    }
}

/// What happened in one turn, for the app and the person.
#[derive(Debug, Clone, Serialize)]
pub struct TurnReport {
    /// The strictest gate decision of the turn (input or output).
    pub verdict: Verdict,
    /// The input gate's decision over the person's messages: the strictest verdict and every
    /// rule that matched. The last message blocked means `Block` (nothing was generated); an
    /// earlier message a block rule matched was dropped with its answer, which counts as
    /// `Redact` (the conversation was masked, the answer itself was not refused).
    pub input: GateReport,
    /// The notices of the input rules that annotated the person's last message, exactly as
    /// shown in the turn's first chunk (ending with a blank line); never sent to the model.
    /// Strip this prefix from the shown text before storing the answer as conversation
    /// history.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_notice: Option<String>,
    /// The output gate's decision (absent when the input was blocked and nothing ran).
    pub output: Option<GateReport>,
    /// The engine's counts and timings (absent when nothing was generated).
    pub generation: Option<GenerationReport>,
    /// The bundle that judged the turn.
    pub bundle: BundleStatus,
}

/// One item of a gated turn.
#[derive(Debug)]
pub enum TurnEvent {
    /// Text the gate released: safe to show.
    Chunk(String),
    /// The turn ended; nothing follows.
    Done(Box<TurnReport>),
    /// The turn failed; nothing follows.
    Failed(Error),
}

impl GatedChat {
    /// Serve `engine` with the bundle (or explicit developer mode) in `slot`.
    pub fn new(engine: Arc<Engine>, slot: BundleSlot) -> Self {
        Self { engine, slot }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The bundle in force.
    pub fn bundle_status(&self) -> BundleStatus {
        BundleStatus::of(&self.slot)
    }

    /// Start a turn: every message the person wrote passes the input gate, then the answer
    /// streams through the output gate. Fails closed when no bundle is in force.
    pub fn chat(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<GatedTurn, Error> {
        let gate = self.slot.gate()?;
        let bundle = self.bundle_status();
        let input = gate_input(&gate, self.slot.bundle().map(|b| &**b), messages);
        let report = GateReport {
            verdict: input.verdict,
            rules: input.rules,
            developer_mode: bundle.developer_mode,
        };
        if let Some(refusal) = input.refusal {
            return Ok(GatedTurn::refused(refusal, report, bundle));
        }
        let generation = self.engine.generate(input.messages, params)?;
        Ok(GatedTurn::streaming(
            generation,
            &gate,
            report,
            input.notice,
            bundle,
        ))
    }
}

/// The conversation after the input gate.
struct GatedInput {
    /// What the model may see.
    messages: Vec<ChatMessage>,
    /// The strictest verdict over the person's messages.
    verdict: Verdict,
    /// Every rule that matched, first match first, without repeats.
    rules: Vec<String>,
    /// The refusal, when the last message is blocked.
    refusal: Option<String>,
    /// The notices for the person's last message, as the chunk to show.
    notice: Option<String>,
}

/// Pass every user message through the input gate: redact spans, drop blocked earlier
/// exchanges, refuse a blocked last message, and collect the last message's notices.
fn gate_input(
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

/// A running gated turn: read it as a `futures::Stream` or with [`GatedTurn::next_blocking`].
/// Dropping it cancels the generation.
pub struct GatedTurn {
    generation: Option<Generation>,
    output: Option<OutputGate>,
    input: GateReport,
    input_notice: Option<String>,
    bundle: BundleStatus,
    ready: VecDeque<TurnEvent>,
    finished: bool,
}

impl std::fmt::Debug for GatedTurn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatedTurn")
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl GatedTurn {
    fn refused(refusal: String, input: GateReport, bundle: BundleStatus) -> Self {
        let report = TurnReport {
            verdict: Verdict::Block,
            input,
            input_notice: None,
            output: None,
            generation: None,
            bundle,
        };
        Self {
            generation: None,
            output: None,
            input: report.input.clone(),
            input_notice: None,
            bundle: report.bundle.clone(),
            ready: VecDeque::from([TurnEvent::Chunk(refusal), TurnEvent::Done(Box::new(report))]),
            finished: false,
        }
    }

    fn streaming(
        generation: Generation,
        gate: &Gate,
        input: GateReport,
        input_notice: Option<String>,
        bundle: BundleStatus,
    ) -> Self {
        let ready = input_notice.iter().cloned().map(TurnEvent::Chunk).collect();
        Self {
            generation: Some(generation),
            output: Some(gate.output()),
            input,
            input_notice,
            bundle,
            ready,
            finished: false,
        }
    }

    /// Stop generating; the turn ends with what the gate released so far.
    pub fn cancel(&self) {
        if let Some(g) = &self.generation {
            g.cancel();
        }
    }

    /// A handle that cancels this turn's generation from elsewhere (e.g. a Ctrl-C handler).
    pub fn cancel_handle(&self) -> Option<crate::engine::CancelHandle> {
        self.generation.as_ref().map(Generation::cancel_handle)
    }

    /// Whether the final event has been read.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The next event, waiting for it; `None` after the final event.
    pub fn next_blocking(&mut self) -> Option<TurnEvent> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(self.note(event));
            }
            if self.finished {
                return None;
            }
            let event = self.generation.as_mut().and_then(Generation::next_blocking);
            self.absorb(event);
        }
    }

    /// Read to the end: the text shown and the report.
    pub fn collect_blocking(mut self) -> Result<(String, TurnReport), Error> {
        let mut text = String::new();
        while let Some(event) = self.next_blocking() {
            match event {
                TurnEvent::Chunk(c) => text.push_str(&c),
                TurnEvent::Done(report) => return Ok((text, *report)),
                TurnEvent::Failed(e) => return Err(e),
            }
        }
        Err(crate::engine::EngineError::WorkerGone.into())
    }

    fn note(&mut self, event: TurnEvent) -> TurnEvent {
        if !matches!(event, TurnEvent::Chunk(_)) {
            self.finished = true;
        }
        event
    }

    /// Turn one engine event into zero or more turn events.
    fn absorb(&mut self, event: Option<StreamEvent>) {
        match event {
            Some(StreamEvent::Chunk(chunk)) => {
                if let Some(gate) = self.output.as_mut() {
                    let shown = gate.push(&chunk);
                    if !shown.is_empty() {
                        self.ready.push_back(TurnEvent::Chunk(shown));
                    }
                    if gate.is_blocked() {
                        // Nothing more of the answer will be shown: stop generating it.
                        if let Some(g) = &self.generation {
                            g.cancel();
                        }
                    }
                }
            }
            Some(StreamEvent::Done(generation)) => {
                let (rest, output) = match self.output.take() {
                    Some(gate) => gate.finish(),
                    None => (String::new(), self.input.clone()),
                };
                if !rest.is_empty() {
                    self.ready.push_back(TurnEvent::Chunk(rest));
                }
                let report = TurnReport {
                    verdict: self.input.verdict.max(output.verdict),
                    input: self.input.clone(),
                    input_notice: self.input_notice.clone(),
                    output: Some(output),
                    generation: Some(generation),
                    bundle: self.bundle.clone(),
                };
                self.ready.push_back(TurnEvent::Done(Box::new(report)));
            }
            Some(StreamEvent::Failed(e)) => self.ready.push_back(TurnEvent::Failed(e.into())),
            None => self.ready.push_back(TurnEvent::Failed(
                crate::engine::EngineError::WorkerGone.into(),
            )),
        }
    }
}

impl futures::Stream for GatedTurn {
    type Item = TurnEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<TurnEvent>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Poll::Ready(Some(self.note(event)));
            }
            if self.finished {
                return Poll::Ready(None);
            }
            let polled = match self.generation.as_mut() {
                Some(g) => Pin::new(g).poll_next(cx),
                None => Poll::Ready(None),
            };
            match polled {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(event) => self.absorb(event),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::keys::SigningKey;
    use crate::safety::payload::RulesFile;
    use crate::safety::trust::RootPayload;
    use crate::safety::{
        BundleVerifier, Duration, MemoryRollbackStore, OffsetDateTime, TrustRoot, VerifyPolicy,
    };

    /// A bundle that blocks "forbidden", redacts "secret" and annotates "pills", on input.
    fn bundle() -> VerifiedBundle {
        let mut rules = String::from(
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
[envelope]
locked = []
[envelope.dimensions]
"#,
        );
        for d in [
            "verbosity",
            "formality",
            "technical_depth",
            "warmth",
            "humour",
            "format",
            "emoji",
        ] {
            rules.push_str(&format!(
                "{d} = {{ min = 0.0, max = 1.0, default = 0.5 }}\n"
            ));
        }
        let key = SigningKey::generate().expect("key");
        let now = OffsetDateTime::now_utc();
        let root = RootPayload::new(&[key.public_key()], 1, 1, now + Duration::days(30), false)
            .sign(&[&key])
            .to_json();
        let signed = RulesFile::from_toml(&rules)
            .expect("rules")
            .into_payload(1, now - Duration::days(1), now + Duration::days(7))
            .expect("payload")
            .sign(&[&key])
            .expect("sign")
            .to_json();
        BundleVerifier::new(TrustRoot::from_pinned(root.as_bytes()).expect("root"))
            .verify(
                signed.as_bytes(),
                &VerifyPolicy::now(),
                &MemoryRollbackStore::default(),
            )
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
