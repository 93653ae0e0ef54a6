//! What a person's preferences change in one turn (DESIGN.md §2): their learner is
//! rebuilt from their sealed observations, their profile is clamped into the bundle's envelope
//! (a length the turn's own system message states beats the learned one, ADR 0035) and
//! compiled into conditioning: a preamble in the system message, a token budget, sampling, and
//! whether the answer is held to whole sentences. The result, [`PreparedTurn`], is what a
//! streamed turn and a best-of-n turn both run.

use crate::engine::{ChatMessage, GenerationParams, Role};
use crate::prefs::{Conditioning, ConditioningBase, ContextKey, Learner, Profile};
use crate::safety::personalization::Dimension;

use super::personal_records::prompt_key;
use super::personal_turn::TurnMeta;
use super::{PersonalChat, PersonalError};

/// A personalized turn ready to run: what [`PersonalChat::prepare`] compiled.
pub(super) struct PreparedTurn {
    /// The person's learner as of this turn.
    pub(super) learner: Learner,
    /// The conversation with the preamble.
    pub(super) messages: Vec<ChatMessage>,
    /// The conditioned settings.
    pub(super) params: GenerationParams,
    /// Whether the answer is held to whole sentences.
    pub(super) concise: bool,
    /// What the turn's record and report need.
    pub(super) meta: TurnMeta,
}

impl PersonalChat {
    /// The person's learner, and the conditioned conversation and settings for their turn.
    pub(super) fn prepare(
        &self,
        user: &str,
        context: Option<&ContextKey>,
        mut messages: Vec<ChatMessage>,
        params: GenerationParams,
    ) -> Result<PreparedTurn, PersonalError> {
        params.validate().map_err(crate::Error::from)?;
        let prompt_key = prompt_key(&messages);
        let (learner, skipped) = self.prefs().learner(user)?;
        let mut profile = Profile::compile(&learner, self.prefs().envelope(), context);
        let stated = messages.iter().any(|m| {
            m.role == Role::System
                && crate::prefs::states_a_length(&m.content, self.prefs().envelope())
        });
        if stated {
            // The turn's own word on length beats the learned one (ADR 0035).
            profile
                .preferences
                .retain(|p| p.dimension != Dimension::Verbosity);
        }
        let base = ConditioningBase {
            max_tokens: params.max_tokens,
            temperature: params.sampling.temperature,
            top_p: params.sampling.top_p,
            repeat_penalty: params.sampling.repeat_penalty,
            dry_multiplier: params.sampling.dry_multiplier,
        };
        let conditioning = crate::prefs::compile(&profile, self.prefs().envelope(), &base);
        add_preamble(&mut messages, &conditioning.preamble);
        let params = conditioned(params, &conditioning);
        let concise = conditioning
            .shaped_by
            .iter()
            .any(|s| s.dimension == Dimension::Verbosity && s.weight < 0.0);
        Ok(PreparedTurn {
            learner,
            messages,
            params,
            concise,
            meta: TurnMeta {
                user: user.to_owned(),
                context: context.cloned(),
                prompt_key,
                shaped_by: conditioning.shaped_by,
                max_tokens: conditioning.max_tokens,
                skipped,
            },
        })
    }
}

/// Put the preamble in front of the system message (or add one).
fn add_preamble(messages: &mut Vec<ChatMessage>, preamble: &str) {
    if preamble.is_empty() {
        return;
    }
    match messages.first_mut() {
        Some(m) if m.role == Role::System => {
            m.content = format!("{preamble}\n\n{}", m.content);
        }
        _ => messages.insert(0, ChatMessage::system(preamble)),
    }
}

/// `params` with the conditioning's budget and sampling; greedy decoding stays greedy.
fn conditioned(mut params: GenerationParams, c: &Conditioning) -> GenerationParams {
    params.max_tokens = c.max_tokens.max(1);
    if params.sampling.temperature > 0.0 {
        params.sampling.temperature = c.temperature;
    }
    params.sampling.top_p = c.top_p;
    params.sampling.repeat_penalty = c.repeat_penalty;
    params.sampling.dry_multiplier = c.dry_multiplier;
    params.sampling.min_tokens = params.sampling.min_tokens.max(c.min_tokens);
    params
}
