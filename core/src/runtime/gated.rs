//! One gated chat turn: the input gate on every message the person wrote, generation on the
//! engine, and the output gate over the stream. The app sees only what the output gate
//! releases; a blocked answer becomes the bundle's refusal, nothing of the blocked text is
//! ever shown, and generation stops as soon as the gate blocks. With no bundle in force (and
//! no explicit developer mode) nothing is generated.
//!
//! Every user message passes the input gate (`gated_input.rs`), not only the last: redactions apply to earlier
//! messages too, and an earlier message a block rule matches is dropped together with the
//! answer that followed it, so blocked text never reaches the model. The notices of annotate
//! rules are shown to the person (the turn's first chunk, and [`TurnReport::input_notice`]) and
//! never sent to the model as if the person had written them.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::Serialize;

use super::gated_input::gate_input;
use crate::engine::{
    ChatMessage, Engine, Generation, GenerationParams, GenerationReport, StreamEvent,
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

    /// The gate of the bundle in force (fails closed when there is none).
    pub(crate) fn gate(&self) -> Result<Gate, Error> {
        Ok(self.slot.gate()?)
    }

    /// Start a turn: every message the person wrote passes the input gate, then the answer
    /// streams through the output gate. Fails closed when no bundle is in force.
    pub fn chat(
        &self,
        messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<GatedTurn, Error> {
        let gate = self.gate()?;
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
