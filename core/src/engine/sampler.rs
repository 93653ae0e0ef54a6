//! The sampler chain for a generation's settings: repeat penalty, then greedy or the
//! top-k / top-p / min-p / temperature / seeded draw, following llama.cpp's conventions.

use llama_cpp_2::sampling::LlamaSampler;

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

/// The sampler chain for `params` in a context of `n_ctx` tokens: greedy when the
/// temperature is 0.
pub(crate) fn build_sampler(params: &SamplingParams, n_vocab: i32, n_ctx: u32) -> LlamaSampler {
    let mut chain = Vec::new();
    let last_n = penalty_last_n(params.repeat_last_n, n_ctx);
    if params.repeat_penalty != 1.0 && last_n != 0 {
        chain.push(LlamaSampler::penalties(
            n_vocab,
            last_n,
            params.repeat_penalty,
            0.0,
            0.0,
        ));
    }
    if params.is_greedy() {
        chain.push(LlamaSampler::greedy());
    } else {
        if params.top_k > 0 {
            chain.push(LlamaSampler::top_k(params.top_k));
        }
        if params.top_p < 1.0 {
            chain.push(LlamaSampler::top_p(params.top_p, 1));
        }
        if params.min_p > 0.0 {
            chain.push(LlamaSampler::min_p(params.min_p, 1));
        }
        chain.push(LlamaSampler::temp(params.temperature));
        chain.push(LlamaSampler::dist(params.seed));
    }
    LlamaSampler::chain_simple(chain)
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
}
