//! Keel's engine against a plain llama-cpp-2 decode loop ("raw") on the same model, threads,
//! prompt and greedy sampling, with repetitions interleaved in one process (the machines
//! are noisy, so only side-by-side ratios mean anything). Reports medians.

use std::path::PathBuf;
use std::time::Instant;

use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;
use serde::Serialize;

use crate::engine::{
    shared_backend, ChatMessage, Engine, EngineConfig, EngineError, GenerationParams,
};

/// What to measure.
#[derive(Debug, Clone)]
pub struct DecodeBenchConfig {
    /// The GGUF model.
    pub model: PathBuf,
    /// Engine settings, used by both sides.
    pub engine: EngineConfig,
    /// Tokens generated per decode run.
    pub tokens: usize,
    /// Interleaved repetitions per side.
    pub reps: usize,
}

/// Medians of the interleaved runs.
#[derive(Debug, Clone, Serialize)]
pub struct DecodeBench {
    /// Raw llama-cpp-2 loop: generated tokens per second after the first.
    pub raw_decode_tok_s: f64,
    /// Keel's engine: generated tokens per second after the first.
    pub keel_decode_tok_s: f64,
    /// `keel_decode_tok_s / raw_decode_tok_s`.
    pub decode_ratio: f64,
    /// Raw: time to the first token of a fresh prompt.
    pub raw_ttft_ms: f64,
    /// Keel: time to the first token of a fresh prompt.
    pub keel_ttft_ms: f64,
    /// Raw: time to the first token of a follow-up turn, evaluating the whole conversation.
    pub raw_followup_ttft_ms: f64,
    /// Keel: the same follow-up, reusing the conversation prefix from the KV cache.
    pub keel_followup_ttft_ms: f64,
    /// Tokens in the follow-up prompt.
    pub followup_prompt_tokens: usize,
    /// Of those, tokens Keel reused from the cache.
    pub followup_reused_tokens: usize,
    /// Resident memory of the process with Keel's engine loaded and warm, before the raw
    /// side's model is loaded, in MiB.
    pub rss_mb: f64,
    /// Threads both sides used.
    pub threads: u32,
    /// Repetitions per side.
    pub reps: usize,
    /// Tokens generated per decode run.
    pub tokens: usize,
}

const DECODE_PROMPT: &str =
    "Write a detailed story about a lighthouse keeper who finds a message in a bottle.";

/// A conversation of well over 500 tokens before its last user message.
pub fn followup_conversation() -> Vec<ChatMessage> {
    let mut messages = vec![ChatMessage::system(
        "You are a careful, friendly assistant who answers questions about cooking, travel and \
         everyday science in plain language.",
    )];
    let turns = [
        ("How do I make a simple tomato sauce?", "Warm olive oil in a pan, soften a chopped onion and two cloves of garlic for about five minutes, then add a tin of chopped tomatoes, a pinch of salt and a little sugar. Let it simmer for twenty minutes, stirring now and then, until it thickens. Finish with torn basil and a spoon of butter if you like a rounder taste."),
        ("Why does bread go stale?", "Bread goes stale mostly because the starch inside it slowly recrystallises after baking, a process called retrogradation. The crumb loses its soft, gel-like structure and becomes firm and dry even when little water has escaped. Warming stale bread briefly in an oven reverses part of this, which is why toast or a reheated loaf tastes fresher."),
        ("What should I pack for a week of hiking in the mountains?", "Pack layers rather than one heavy coat: a breathable base layer, a warm fleece and a waterproof shell. Bring broken-in boots, two pairs of wool socks per day of walking, a hat and gloves even in summer, a map and compass alongside your phone, a small first-aid kit, sun cream, a head torch, a refillable water bottle with a filter, and high-energy snacks. Check the forecast each morning and tell someone your route."),
        ("Why is the sky blue?", "Sunlight contains every colour. When it passes through the air, the tiny nitrogen and oxygen molecules scatter short blue wavelengths much more strongly than long red ones, an effect called Rayleigh scattering. That scattered blue light reaches your eyes from every direction of the sky, so the sky looks blue. At sunset the light travels through more air, most of the blue is scattered away, and the reds and oranges remain."),
        ("How can I make my coffee taste less bitter?", "Bitterness usually comes from over-extraction. Use a slightly coarser grind, water just off the boil at about ninety-three degrees rather than fully boiling, and a shorter brewing time. Weigh your coffee and water: around sixty grams of coffee per litre is a good starting ratio. Fresh beans, roasted within the last month and ground just before brewing, taste sweeter, and a clean machine or pot removes old oils that turn bitter."),
        ("How long should I boil an egg?", "For a soft yolk, lower the egg into boiling water for six minutes; for a jammy yolk, seven to eight minutes; for a firm, fully set yolk, ten to eleven minutes. Cool it in cold water straight away so it stops cooking and peels more easily. Very fresh eggs are harder to peel, so eggs a week old often work best."),
    ];
    for (q, a) in turns {
        messages.push(ChatMessage::user(q));
        messages.push(ChatMessage::assistant(a));
    }
    messages.push(ChatMessage::user("What is a good way to keep herbs fresh?"));
    messages
}

/// Run the comparison.
pub fn measure(cfg: &DecodeBenchConfig) -> Result<DecodeBench, EngineError> {
    let backend = shared_backend()?;
    crate::engine::check_gguf_file(&cfg.model)?;
    let engine = Engine::load(&cfg.model, cfg.engine.clone())?;
    let decode_prompt = engine.render_prompt(vec![ChatMessage::user(DECODE_PROMPT)])?;
    engine
        .complete(decode_prompt.clone(), greedy_exact(cfg.tokens))?
        .collect_blocking()?;
    let rss_mb = super::rss_mb();
    let raw_model = crate::engine::load_model(backend, &cfg.model, &cfg.engine)?;
    let conversation = followup_conversation();
    let (history, _) = conversation.split_at(conversation.len() - 1);
    let followup_question = conversation[conversation.len() - 1].clone();

    let mut raw = Samples::default();
    let mut keel = Samples::default();
    let mut followup_prompt_tokens = 0;
    let mut followup_reused_tokens = 0;
    for rep in 0..cfg.reps.max(1) {
        let raw_first = rep % 2 == 0;
        for side in [raw_first, !raw_first] {
            if side {
                let run = raw_decode(backend, &raw_model, cfg, &decode_prompt)?;
                raw.push_decode(run);
            } else {
                engine.reset_cache()?;
                let gen = engine.complete(decode_prompt.clone(), greedy_exact(cfg.tokens))?;
                let (_, report) = gen.collect_blocking()?;
                keel.push_decode((report.ttft_ms, report.decode_tok_s));
            }
        }
        // Follow-up turn: Keel has the conversation so far in its cache from the previous
        // turn; raw evaluates everything again.
        engine.reset_cache()?;
        let (previous_answer, _) = engine
            .generate(
                history[..history.len() - 1].to_vec(),
                GenerationParams::greedy(32),
            )?
            .collect_blocking()?;
        let mut followup = history[..history.len() - 1].to_vec();
        followup.push(ChatMessage::assistant(previous_answer));
        followup.push(followup_question.clone());
        let followup_prompt = engine.render_prompt(followup.clone())?;
        for side in [raw_first, !raw_first] {
            if side {
                let run = raw_generate(backend, &raw_model, cfg, &followup_prompt, 1)?;
                raw.followup_ttft.push(run.ttft_ms);
            } else {
                let (_, report) = engine
                    .generate(followup.clone(), GenerationParams::greedy(1))?
                    .collect_blocking()?;
                keel.followup_ttft.push(report.ttft_ms);
                followup_prompt_tokens = report.prompt_tokens;
                followup_reused_tokens = report.reused_tokens;
                // The cache now holds the follow-up; the next repetition resets it before
                // each Keel run, so every repetition starts alike.
            }
        }
    }
    let raw_decode_tok_s = median(&raw.decode_tok_s);
    let keel_decode_tok_s = median(&keel.decode_tok_s);
    Ok(DecodeBench {
        raw_decode_tok_s,
        keel_decode_tok_s,
        decode_ratio: if raw_decode_tok_s > 0.0 {
            keel_decode_tok_s / raw_decode_tok_s
        } else {
            0.0
        },
        raw_ttft_ms: median(&raw.ttft),
        keel_ttft_ms: median(&keel.ttft),
        raw_followup_ttft_ms: median(&raw.followup_ttft),
        keel_followup_ttft_ms: median(&keel.followup_ttft),
        followup_prompt_tokens,
        followup_reused_tokens,
        rss_mb,
        threads: cfg.engine.threads,
        reps: cfg.reps.max(1),
        tokens: cfg.tokens,
    })
}

fn greedy_exact(tokens: usize) -> GenerationParams {
    GenerationParams::greedy(u32::try_from(tokens).unwrap_or(u32::MAX))
}

#[derive(Default)]
struct Samples {
    ttft: Vec<f64>,
    decode_tok_s: Vec<f64>,
    followup_ttft: Vec<f64>,
}

impl Samples {
    fn push_decode(&mut self, (ttft, tok_s): (f64, f64)) {
        self.ttft.push(ttft);
        self.decode_tok_s.push(tok_s);
    }
}

/// The median of `values` (0 when empty).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 0 {
        (v[mid - 1] + v[mid]) / 2.0
    } else {
        v[mid]
    }
}

fn raw_decode(
    backend: &'static llama_cpp_2::llama_backend::LlamaBackend,
    model: &LlamaModel,
    cfg: &DecodeBenchConfig,
    prompt: &str,
) -> Result<(f64, f64), EngineError> {
    raw_generate(backend, model, cfg, prompt, cfg.tokens).map(|r| (r.ttft_ms, r.decode_tok_s))
}

/// What one run of the plain loop measured (the counts are checked by the tests).
#[cfg_attr(not(test), allow(dead_code))]
struct RawRun {
    ttft_ms: f64,
    decode_tok_s: f64,
    /// Tokens generated.
    generated: usize,
    /// Tokens in the prompt.
    prompt: usize,
    /// The context size llama.cpp gave (it may round the asked size up).
    n_ctx: usize,
}

/// Whether a context of `n_ctx` tokens has room to decode one more token after `used`
/// positions. Like Keel's engine, the last position is left free (it stops with
/// `ContextFull` one token early), so both sides do the same work.
fn has_room(used: usize, n_ctx: usize) -> bool {
    used + 1 < n_ctx
}

/// The plain loop: a fresh context, the whole prompt evaluated in batches, greedy sampling,
/// one token decoded at a time, stopping at `max_tokens` or when the context is full.
fn raw_generate(
    backend: &'static llama_cpp_2::llama_backend::LlamaBackend,
    model: &LlamaModel,
    cfg: &DecodeBenchConfig,
    prompt: &str,
    max_tokens: usize,
) -> Result<RawRun, EngineError> {
    let decode_err = |e: &dyn std::fmt::Display| EngineError::Decode(e.to_string());
    let mut ctx = model
        .new_context(backend, crate::engine::context_params(&cfg.engine))
        .map_err(|e| decode_err(&e))?;
    let started = Instant::now();
    let vocab = model.vocab();
    let tokens = vocab.tokenize(prompt.as_bytes(), vocab.should_add_bos(), true);
    let n_ctx = usize::try_from(ctx.n_ctx()).unwrap_or(usize::MAX);
    if tokens.len() >= n_ctx {
        return Err(EngineError::PromptTooLong {
            prompt_tokens: tokens.len(),
            context_size: n_ctx,
        });
    }
    let n_batch = usize::try_from(ctx.n_batch()).unwrap_or(512).max(1);
    let mut batch = LlamaBatch::new(n_batch, 1);
    let mut pos = 0i32;
    for (c, chunk) in tokens.chunks(n_batch).enumerate() {
        batch.clear();
        for (i, t) in chunk.iter().enumerate() {
            let last = c * n_batch + i + 1 == tokens.len();
            batch.add(*t, pos, &[0], last).map_err(|e| decode_err(&e))?;
            pos += 1;
        }
        ctx.decode(&mut batch).map_err(|e| decode_err(&e))?;
    }
    let mut sampler = llama_cpp_2::sampling::LlamaSampler::greedy();
    let mut generated = 0usize;
    let mut first: Option<Instant> = None;
    let mut idx = batch.n_tokens() - 1;
    let mut last_token: LlamaToken;
    loop {
        last_token = sampler.sample(&ctx, idx);
        first.get_or_insert_with(Instant::now);
        if vocab.is_eog(last_token) {
            break;
        }
        generated += 1;
        let _piece = vocab.token_to_piece(last_token, false, None);
        if generated >= max_tokens {
            break;
        }
        if !has_room(usize::try_from(pos).unwrap_or(usize::MAX), n_ctx) {
            break;
        }
        batch.clear();
        batch
            .add(last_token, pos, &[0], true)
            .map_err(|e| decode_err(&e))?;
        pos += 1;
        ctx.decode(&mut batch).map_err(|e| decode_err(&e))?;
        idx = 0;
    }
    let end = Instant::now();
    let ttft = first.map_or(0.0, |f| f.duration_since(started).as_secs_f64() * 1000.0);
    let tok_s = match first {
        Some(f) if generated > 1 => (generated - 1) as f64 / end.duration_since(f).as_secs_f64(),
        _ => 0.0,
    };
    Ok(RawRun {
        ttft_ms: ttft,
        decode_tok_s: tok_s,
        generated,
        prompt: tokens.len(),
        n_ctx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_stops_one_short_of_the_context_like_the_engine() {
        assert!(has_room(0, 64));
        assert!(has_room(62, 64));
        assert!(!has_room(63, 64));
        assert!(!has_room(64, 64));
        assert!(!has_room(500, 64));
    }

    /// The default model (`KEEL_MODEL`, else the one `keel model fetch` stored).
    fn model_path() -> PathBuf {
        if let Some(p) = std::env::var_os("KEEL_MODEL") {
            return PathBuf::from(p);
        }
        let home = crate::home::default_home().expect("a data directory");
        crate::model_fetch::find_default_model(&home)
            .expect("the default model is missing: run `make test` or set KEEL_MODEL")
    }

    #[test]
    fn the_raw_loop_never_decodes_past_the_context() {
        let backend = shared_backend().expect("backend");
        let cfg = DecodeBenchConfig {
            model: model_path(),
            engine: EngineConfig {
                threads: 1,
                threads_batch: 1,
                n_ctx: 64,
                ..EngineConfig::default()
            },
            tokens: 5000,
            reps: 1,
        };
        let model = crate::engine::load_model(backend, &cfg.model, &cfg.engine).expect("model");
        // Raw text of repeated words: greedy decoding keeps repeating them, so the loop runs
        // into the end of the context long before the token limit.
        let probe = raw_generate(backend, &model, &cfg, "word", 1).expect("probe");
        let n_ctx = probe.n_ctx;
        let prompt = "word ".repeat(n_ctx.saturating_sub(40));
        let run = raw_generate(backend, &model, &cfg, &prompt, cfg.tokens).expect("run");
        assert!(run.generated > 0);
        assert!(
            run.prompt + run.generated <= n_ctx,
            "{} prompt + {} generated tokens in a context of {n_ctx}",
            run.prompt,
            run.generated
        );
        assert!(run.generated < cfg.tokens, "stopped by the context");
        let long = "word ".repeat(n_ctx + 10);
        let refused = raw_generate(backend, &model, &cfg, &long, 4).map(|r| r.prompt);
        assert!(
            matches!(refused, Err(EngineError::PromptTooLong { .. })),
            "{refused:?}"
        );
    }
}
