//! One gated chat turn: the input gate on the person's last message, generation on the
//! engine, and the output gate over the stream. The app sees only what the output gate
//! releases; a blocked answer becomes the bundle's refusal and nothing of the blocked text is
//! ever shown. With no bundle in force (and no explicit developer mode) nothing is generated.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::Serialize;

use crate::engine::{
    ChatMessage, Engine, Generation, GenerationParams, GenerationReport, Role, StreamEvent,
};
use crate::runtime::BundleStatus;
use crate::safety::{BundleSlot, Gate, GateReport, OutputGate, Verdict};
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
    /// The input gate's decision on the person's message.
    pub input: GateReport,
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

    /// Start a turn: the person's last message passes the input gate, then the answer streams
    /// through the output gate. Fails closed when no bundle is in force.
    pub fn chat(
        &self,
        mut messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<GatedTurn, Error> {
        let gate = self.slot.gate()?;
        let bundle = self.bundle_status();
        let last_user = messages.iter().rposition(|m| m.role == Role::User);
        let input = match last_user {
            Some(i) => {
                let verdict = gate.check_input(&messages[i].content);
                match verdict.report.verdict {
                    Verdict::Block => {
                        return Ok(GatedTurn::refused(verdict.text, verdict.report, bundle))
                    }
                    Verdict::Redact => messages[i].content = verdict.text,
                    Verdict::Allow | Verdict::Annotate => {}
                }
                verdict.report
            }
            None => GateReport {
                verdict: Verdict::Allow,
                rules: Vec::new(),
                developer_mode: bundle.developer_mode,
            },
        };
        let generation = self.engine.generate(messages, params)?;
        Ok(GatedTurn::streaming(generation, &gate, input, bundle))
    }
}

/// A running gated turn: read it as a `futures::Stream` or with [`GatedTurn::next_blocking`].
/// Dropping it cancels the generation.
pub struct GatedTurn {
    generation: Option<Generation>,
    output: Option<OutputGate>,
    input: GateReport,
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
            output: None,
            generation: None,
            bundle,
        };
        Self {
            generation: None,
            output: None,
            input: report.input.clone(),
            bundle: report.bundle.clone(),
            ready: VecDeque::from([TurnEvent::Chunk(refusal), TurnEvent::Done(Box::new(report))]),
            finished: false,
        }
    }

    fn streaming(
        generation: Generation,
        gate: &Gate,
        input: GateReport,
        bundle: BundleStatus,
    ) -> Self {
        Self {
            generation: Some(generation),
            output: Some(gate.output()),
            input,
            bundle,
            ready: VecDeque::new(),
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
