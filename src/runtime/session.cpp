#include "runtime/session.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "runtime/generation_steps.h"
#include "util/error.h"

namespace hfk {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

Session::Session(std::shared_ptr<const LoadedModel> model, int32_t n_ctx, int32_t n_threads,
                 DType kv_type, kern::Compute compute)
    : model_(std::move(model)),
      n_threads_(n_threads > 0 ? n_threads : model_->n_threads),
      compute_(compute) {
    if (!model_->model->is_causal())
        fail(HFK_E_UNSUPPORTED, std::string("a '") + model_->model->architecture() +
                                    "' model is an encoder: it embeds and classifies, it does "
                                    "not generate text");
    cache_ = model_->model->new_cache(n_ctx, kv_type);
    logits_.resize(static_cast<size_t>(model_->model->vocab_size()));
    rng_state_ = Sampler(SamplerParams{}).rng_state();
}

void Session::reset() {
    // Only the text is forgotten. The KV entries are a function of the tokens alone, so they
    // stay valid: generate() keeps the prefix the new prompt shares with tokens_ and truncates
    // the rest, which makes a reset session reuse a repeated prompt's prefill.
    conversation_.clear();
}

void Session::generate(std::string_view prompt, const GenerateOptions &opts,
                       const std::function<bool(std::string_view)> &on_piece,
                       const std::atomic<bool> &cancel, std::string &text, GenerateResult &result) {
    const Tokenizer &tok = *model_->tokenizer;
    // Tokenize the whole conversation so that a continued session sees exactly the tokens one
    // generate over the concatenated text would see; then only the new suffix is computed.
    std::string full = conversation_;
    full.append(prompt);
    std::vector<int32_t> ids = tok.encode(full, opts.add_special_tokens);
    if (ids.empty()) {
        if (tok.bos_id() < 0)
            fail(HFK_E_INVALID_ARG,
                 "the prompt is empty and the tokenizer has no BOS token to start from");
        ids.push_back(tok.bos_id());
    }
    run(std::move(ids), std::move(full), true, opts, on_piece, cancel, text, result);
}

void Session::generate_tokens(std::span<const int32_t> prompt, const GenerateOptions &opts,
                              const std::function<bool(std::string_view)> &on_piece,
                              const std::atomic<bool> &cancel, std::string &text,
                              GenerateResult &result) {
    std::vector<int32_t> ids = tokens_;
    ids.insert(ids.end(), prompt.begin(), prompt.end());
    if (ids.empty())
        fail(HFK_E_INVALID_ARG, "generate from tokens: the session is empty and no ids were given");
    const int32_t n_ids = n_logits();
    for (int32_t id : prompt)
        if (id < 0 || id >= n_ids)
            fail(HFK_E_INVALID_ARG, "token id " + std::to_string(id) +
                                        " is outside the vocabulary [0, " + std::to_string(n_ids) +
                                        ")");
    run(std::move(ids), std::string(), false, opts, on_piece, cancel, text, result);
}

void Session::run(std::vector<int32_t> ids, std::string full, bool text_mode,
                  const GenerateOptions &opts,
                  const std::function<bool(std::string_view)> &on_piece,
                  const std::atomic<bool> &cancel, std::string &text, GenerateResult &result) {
    validate_generate_options(opts, n_logits());
    model_->check_weights_intact();
    if (opts.constraint_kind != 0 && (!constraint_ || opts.constraint_kind != constraint_kind_ ||
                                      opts.constraint_text != constraint_text_)) {
        constraint_.reset();  // compiled before anything changes: a bad one leaves no trace
        constraint_ = compile_decoder(*model_, opts.constraint_kind, opts.constraint_text);
        constraint_kind_ = opts.constraint_kind;
        constraint_text_ = opts.constraint_text;
    }
    text.clear();
    result = GenerateResult{};
    last_tokens_.clear();
    last_logprobs_.clear();
    const auto t_start = Clock::now();
    const Model &net = *model_->model;
    if (static_cast<int64_t>(ids.size()) > cache_->capacity())
        fail(HFK_E_CONTEXT_FULL, "the prompt is " + std::to_string(ids.size()) +
                                     " tokens but the context holds " +
                                     std::to_string(cache_->capacity()));

    size_t common = 0;
    while (common < tokens_.size() && common < ids.size() && tokens_[common] == ids[common])
        ++common;
    if (common == ids.size()) --common;  // the last token must run again to give logits
    result.n_prompt_tokens = static_cast<int32_t>(ids.size());
    result.n_reused_tokens = static_cast<int32_t>(common);

    cache_->truncate(static_cast<int32_t>(common));
    tokens_.resize(common);
    const std::span<const int32_t> suffix(ids.data() + common, ids.size() - common);
    kern::ComputeScope compute_scope(compute_);
    net.forward(*cache_, suffix, logits_.data(), false, n_threads_);
    tokens_.assign(ids.begin(), ids.end());
    conversation_ = text_mode ? std::move(full) : std::string();
    const auto t_prefilled = Clock::now();
    result.prefill_tokens_per_s =
        static_cast<double>(suffix.size()) / std::max(1e-9, ms_between(t_start, t_prefilled) / 1e3);

    const size_t sampleable = sampleable_ids(*model_);
    std::vector<int32_t> &generated = result.tokens;
    GenerationSteps steps(*model_, opts, opts.constraint_kind != 0 ? constraint_.get() : nullptr,
                          generated, result.logprobs);
    Clock::time_point t_first{};

    auto release = [&](const std::string &piece) -> bool {
        if (piece.empty()) return false;
        text += piece;
        return on_piece && on_piece(piece);
    };
    auto finish = [&](int32_t reason) {
        if (release(steps.rest(reason)) && reason != HFK_STOP_CANCELLED) reason = HFK_STOP_CALLBACK;
        if (text_mode) conversation_ += text;
        // The token mode keeps every generated id in the session (the loop runs an id only
        // when it goes on), so that the next token-level call continues after the output.
        const bool last_pending = reason == HFK_STOP_MAX_TOKENS || reason == HFK_STOP_STRING ||
                                  reason == HFK_STOP_CALLBACK;
        if (!text_mode && !generated.empty() && last_pending &&
            static_cast<int64_t>(tokens_.size()) < cache_->capacity()) {
            const int32_t last[1] = {generated.back()};
            kern::ComputeScope compute_scope(compute_);
            net.forward(*cache_, std::span<const int32_t>(last, 1), logits_.data(), false,
                        n_threads_);
            tokens_.push_back(generated.back());
        }
        rng_state_ = steps.sampler().rng_state();
        last_tokens_ = generated;
        last_logprobs_ = result.logprobs;
        result.stop_reason = reason;
        result.n_generated_tokens = static_cast<int32_t>(generated.size());
        const auto t_end = Clock::now();
        if (!generated.empty()) {
            result.time_to_first_token_ms = ms_between(t_start, t_first);
            const double decode_s = ms_between(t_first, t_end) / 1e3;
            if (generated.size() > 1 && decode_s > 0)
                result.decode_tokens_per_s = static_cast<double>(generated.size() - 1) / decode_s;
        }
    };

    if (opts.max_new_tokens == 0) {
        finish(steps.nothing_generated());
        return;
    }
    for (;;) {
        if (cancel.load(std::memory_order_relaxed)) {
            finish(HFK_STOP_CANCELLED);
            fail(HFK_E_CANCELLED,
                 "generation cancelled after " + std::to_string(generated.size()) + " tokens");
        }
        const bool first = generated.empty();
        const int32_t reason =
            steps.step(std::span<const float>(logits_.data(), sampleable), tokens_,
                       static_cast<int64_t>(tokens_.size()) >= cache_->capacity(), release);
        if (first) t_first = Clock::now();
        if (reason != HFK_STOP_NONE) {
            finish(reason);
            return;
        }
        const int32_t one[1] = {steps.last_id()};
        kern::ComputeScope compute_scope(compute_);
        net.forward(*cache_, std::span<const int32_t>(one, 1), logits_.data(), false, n_threads_);
        tokens_.push_back(one[0]);
    }
}

}  // namespace hfk
