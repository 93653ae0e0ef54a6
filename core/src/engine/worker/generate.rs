//! One generation: tokenize the prompt, reuse the cached prefix, evaluate the rest, then
//! sample token by token with stop sequences, cancellation and the context limit, streaming
//! whole characters and ending with a timing report.

use std::time::Instant;

use crate::engine::prompt::chat_tokens;
use crate::engine::sampler::build_sampler;
use crate::engine::stop::{StopMatcher, StopOutcome};
use crate::engine::stream::EventSink;
use crate::engine::worker::session::Session;
use crate::engine::worker::Prompt;
use crate::engine::{
    EngineError, FinishReason, GenerationParams, GenerationReport, StreamEvent, Utf8Stream,
};

impl Session<'_> {
    pub(super) fn generate(
        &mut self,
        prompt: Prompt,
        params: &GenerationParams,
        sink: &EventSink,
    ) -> Result<(), EngineError> {
        let queue_ms = ms(sink.submitted.elapsed());
        let started = Instant::now();
        let tokens = match prompt {
            // Message text is tokenized without special-token parsing (prompt.rs).
            Prompt::Chat(messages) => chat_tokens(&self.template, self.model, &messages)?,
            Prompt::Raw(text) => self.tokenize(&text, true),
        };
        let n_ctx = usize::try_from(self.ctx.n_ctx()).unwrap_or(usize::MAX);
        if tokens.is_empty() {
            return Err(EngineError::EmptyConversation);
        }
        if tokens.len() >= n_ctx {
            return Err(EngineError::PromptTooLong {
                prompt_tokens: tokens.len(),
                context_size: n_ctx,
            });
        }
        let reused = self.reuse_prefix(&tokens);
        // The cancel flag is checked before each batch of the prompt, so cancelling a turn
        // with a long prompt (or one still queued) returns without evaluating the rest.
        let Some(mut logits_at) = self.evaluate(&tokens[reused..], Some(sink))? else {
            sink.send(StreamEvent::Done(GenerationReport {
                finish: FinishReason::Cancelled,
                prompt_tokens: tokens.len(),
                reused_tokens: reused,
                evaluated_tokens: self.cached.len().saturating_sub(reused),
                generated_tokens: 0,
                queue_ms,
                ttft_ms: 0.0,
                decode_tok_s: 0.0,
                total_ms: ms(started.elapsed()),
            }));
            return Ok(());
        };

        let vocab = self.model.vocab();
        let mut sampler = build_sampler(&params.sampling, self.model, self.ctx.n_ctx());
        let mut utf8 = Utf8Stream::new();
        let mut stops = StopMatcher::new(&params.stop);
        let mut generated = 0usize;
        let mut first_token_at: Option<Instant> = None;
        let finish = loop {
            if sink.cancelled() {
                break FinishReason::Cancelled;
            }
            let token = sampler.sample(&self.ctx, logits_at);
            first_token_at.get_or_insert_with(Instant::now);
            if vocab.is_eog(token) {
                break FinishReason::EndOfText;
            }
            generated += 1;
            let piece = vocab.token_to_piece(token, false, None);
            match stops.push(&utf8.push(&piece)) {
                StopOutcome::Continue(text) => {
                    if !text.is_empty() && !sink.send(StreamEvent::Chunk(text)) {
                        break FinishReason::Cancelled;
                    }
                }
                StopOutcome::Stopped(text) => {
                    if !text.is_empty() {
                        sink.send(StreamEvent::Chunk(text));
                    }
                    break FinishReason::StopSequence;
                }
            }
            if generated >= usize::try_from(params.max_tokens).unwrap_or(usize::MAX) {
                break FinishReason::MaxTokens;
            }
            if self.cached.len() + 1 >= n_ctx {
                break FinishReason::ContextFull;
            }
            logits_at = self
                .evaluate(&[token], None)?
                .ok_or_else(|| EngineError::Decode("no logits for the sampled token".into()))?;
        };
        if matches!(
            finish,
            FinishReason::EndOfText | FinishReason::MaxTokens | FinishReason::ContextFull
        ) {
            let rest = match stops.push(&utf8.finish()) {
                StopOutcome::Continue(t) | StopOutcome::Stopped(t) => t,
            } + &stops.finish();
            if !rest.is_empty() {
                sink.send(StreamEvent::Chunk(rest));
            }
        }
        let ended = Instant::now();
        let decode_tok_s = match first_token_at {
            Some(first) if generated > 1 => {
                let secs = ended.duration_since(first).as_secs_f64();
                if secs > 0.0 {
                    (generated - 1) as f64 / secs
                } else {
                    0.0
                }
            }
            _ => 0.0,
        };
        sink.send(StreamEvent::Done(GenerationReport {
            finish,
            prompt_tokens: tokens.len(),
            reused_tokens: reused,
            evaluated_tokens: tokens.len() - reused,
            generated_tokens: generated,
            queue_ms,
            ttft_ms: first_token_at.map_or(0.0, |t| ms(t.duration_since(started))),
            decode_tok_s,
            total_ms: ms(ended.duration_since(started)),
        }));
        Ok(())
    }
}

fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
