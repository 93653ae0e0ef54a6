//! The sampler chain for a generation's settings: repetition penalties (repeat, frequency,
//! presence), DRY, then greedy or the top-k / top-p / min-p / temperature / seeded draw,
//! following llama.cpp's conventions; and a floor on the answer's length (end of generation
//! barred for the first `min_tokens` tokens).
//!
//! The chain is planned as plain data ([`plan`]) so that what a setting turns on can be
//! checked without a model, then built into llama.cpp samplers ([`build_sampler`]). Every
//! sampler is fresh per generation, so the penalties and DRY see the answer being written,
//! not the prompt.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::logit_bias::LlamaLogitBias;
use llama_cpp_2::token::LlamaToken;

use crate::engine::SamplingParams;

/// How many recent tokens the repeat penalty looks at: `-1` means the whole context (as in
/// llama.cpp's own tools; the sampler itself no longer maps it and would turn it off), `0`
/// turns the penalty off, and a positive count is used as it is.
pub(crate) fn penalty_last_n(repeat_last_n: i32, n_ctx: u32) -> i32 {
    if repeat_last_n < 0 {
        i32::try_from(n_ctx).unwrap_or(i32::MAX)
    } else {
        repeat_last_n
    }
}

/// Characters that end a sequence DRY compares (llama.cpp's defaults): a repeated phrase
/// across a line break, a colon, a quote or an emphasis mark is not a loop.
const DRY_BREAKERS: [&str; 4] = ["\n", ":", "\"", "*"];

/// One stage of the sampler chain, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Stage {
    /// End-of-generation tokens barred (only while fewer than `min_tokens` are generated).
    BarEnd,
    /// Repeat, frequency and presence penalties over the last `last_n` tokens.
    Penalties {
        last_n: i32,
        repeat: f32,
        frequency: f32,
        presence: f32,
    },
    /// DRY over the last `last_n` tokens.
    Dry {
        multiplier: f32,
        base: f32,
        allowed_length: i32,
        last_n: i32,
    },
    TopK(i32),
    TopP(f32),
    MinP(f32),
    Temp(f32),
    Dist(u32),
    Greedy,
}

/// The stages for `params` in a context of `n_ctx` tokens, without the end bar: greedy when
/// the temperature is 0.
pub(crate) fn plan(params: &SamplingParams, n_ctx: u32) -> Vec<Stage> {
    let mut stages = Vec::new();
    let last_n = penalty_last_n(params.repeat_last_n, n_ctx);
    let penalized = params.repeat_penalty != 1.0
        || params.frequency_penalty != 0.0
        || params.presence_penalty != 0.0;
    if penalized && last_n != 0 {
        stages.push(Stage::Penalties {
            last_n,
            repeat: params.repeat_penalty,
            frequency: params.frequency_penalty,
            presence: params.presence_penalty,
        });
    }
    if params.dry_multiplier > 0.0 {
        stages.push(Stage::Dry {
            multiplier: params.dry_multiplier,
            base: params.dry_base,
            allowed_length: params.dry_allowed_length,
            last_n: penalty_last_n(-1, n_ctx),
        });
    }
    if params.is_greedy() {
        stages.push(Stage::Greedy);
    } else {
        if params.top_k > 0 {
            stages.push(Stage::TopK(params.top_k));
        }
        if params.top_p < 1.0 {
            stages.push(Stage::TopP(params.top_p));
        }
        if params.min_p > 0.0 {
            stages.push(Stage::MinP(params.min_p));
        }
        stages.push(Stage::Temp(params.temperature));
        stages.push(Stage::Dist(params.seed));
    }
    stages
}

/// The sampler of one generation: the chain, and while the answer is shorter than its
/// floor, a twin chain with end of generation barred that samples instead (the main chain
/// is kept in step, so its penalties see every token).
pub(crate) struct Sampler {
    chain: LlamaSampler,
    open: Option<LlamaSampler>,
    min_tokens: u32,
    sampled: u32,
}

impl Sampler {
    /// Choose the next token from the logits at `idx`, and remember it.
    pub(crate) fn sample(&mut self, ctx: &LlamaContext<'_>, idx: i32) -> LlamaToken {
        let held_open = holds_open(self.sampled, self.min_tokens);
        self.sampled = self.sampled.saturating_add(1);
        match self.open.as_mut() {
            Some(open) if held_open => {
                let token = open.sample(ctx, idx);
                self.chain.accept(token);
                token
            }
            _ => {
                self.open = None;
                self.chain.sample(ctx, idx)
            }
        }
    }
}

/// Whether end of generation is still barred when `sampled` tokens came before.
fn holds_open(sampled: u32, min_tokens: u32) -> bool {
    sampled < min_tokens
}

/// The sampler for `params` with `model` in a context of `n_ctx` tokens.
pub(crate) fn build_sampler(params: &SamplingParams, model: &LlamaModel, n_ctx: u32) -> Sampler {
    let stages = plan(params, n_ctx);
    let open = (params.min_tokens > 0).then(|| {
        let mut barred = vec![Stage::BarEnd];
        barred.extend(stages.iter().cloned());
        build_chain(&barred, model)
    });
    Sampler {
        chain: build_chain(&stages, model),
        open,
        min_tokens: params.min_tokens,
        sampled: 0,
    }
}

fn build_chain(stages: &[Stage], model: &LlamaModel) -> LlamaSampler {
    let n_vocab = model.n_vocab();
    let chain = stages.iter().map(|stage| match *stage {
        Stage::BarEnd => {
            let vocab = model.vocab();
            let biases: Vec<LlamaLogitBias> = vocab
                .tokens()
                .filter(|&t| vocab.is_eog(t))
                .map(|t| LlamaLogitBias::new(t, f32::NEG_INFINITY))
                .collect();
            LlamaSampler::logit_bias(n_vocab, &biases)
        }
        Stage::Penalties {
            last_n,
            repeat,
            frequency,
            presence,
        } => LlamaSampler::penalties(n_vocab, last_n, repeat, frequency, presence),
        Stage::Dry {
            multiplier,
            base,
            allowed_length,
            last_n,
        } => LlamaSampler::dry(
            model,
            multiplier,
            base,
            allowed_length,
            last_n,
            DRY_BREAKERS,
        ),
        Stage::TopK(k) => LlamaSampler::top_k(k),
        Stage::TopP(p) => LlamaSampler::top_p(p, 1),
        Stage::MinP(p) => LlamaSampler::min_p(p, 1),
        Stage::Temp(t) => LlamaSampler::temp(t),
        Stage::Dist(seed) => LlamaSampler::dist(seed),
        Stage::Greedy => LlamaSampler::greedy(),
    });
    LlamaSampler::chain_simple(chain.collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minus_one_means_the_whole_context() {
        assert_eq!(penalty_last_n(-1, 4096), 4096);
        assert_eq!(penalty_last_n(-1, 512), 512);
        assert_eq!(penalty_last_n(-1, u32::MAX), i32::MAX);
    }

    #[test]
    fn zero_and_counts_are_kept() {
        assert_eq!(penalty_last_n(0, 4096), 0);
        assert_eq!(penalty_last_n(64, 4096), 64);
    }

    #[test]
    fn plain_greedy_is_just_greedy() {
        assert_eq!(plan(&SamplingParams::greedy(), 2048), vec![Stage::Greedy]);
    }

    #[test]
    fn the_defaults_plan_is_unchanged_by_the_new_options() {
        let p = SamplingParams::default();
        assert_eq!(
            plan(&p, 2048),
            vec![
                Stage::Penalties {
                    last_n: 64,
                    repeat: 1.1,
                    frequency: 0.0,
                    presence: 0.0
                },
                Stage::TopK(40),
                Stage::TopP(0.95),
                Stage::MinP(0.05),
                Stage::Temp(0.7),
                Stage::Dist(p.seed),
            ]
        );
    }

    #[test]
    fn frequency_presence_and_dry_turn_their_stages_on_before_the_choice() {
        let p = SamplingParams {
            frequency_penalty: 0.3,
            presence_penalty: 0.2,
            dry_multiplier: 0.8,
            repeat_last_n: -1,
            ..SamplingParams::greedy()
        };
        assert_eq!(
            plan(&p, 2048),
            vec![
                Stage::Penalties {
                    last_n: 2048,
                    repeat: 1.0,
                    frequency: 0.3,
                    presence: 0.2
                },
                Stage::Dry {
                    multiplier: 0.8,
                    base: 1.75,
                    allowed_length: 2,
                    last_n: 2048
                },
                Stage::Greedy,
            ]
        );
        let off = SamplingParams {
            repeat_last_n: 0,
            ..p
        };
        assert!(!plan(&off, 2048)
            .iter()
            .any(|s| matches!(s, Stage::Penalties { .. })));
    }

    #[test]
    fn the_end_is_barred_only_below_the_floor() {
        assert!(holds_open(0, 3));
        assert!(holds_open(2, 3));
        assert!(!holds_open(3, 3));
        assert!(!holds_open(0, 0));
    }
}
