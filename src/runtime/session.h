// A conversation with a causal model: its KV cache, the tokens in it, and the text they came
// from. generate() appends a prompt, reuses the longest cached token prefix, and samples a
// continuation, releasing text through a callback as it becomes safe to show.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "constrain/constraint.h"
#include "kernels/bf16_compute.h"
#include "runtime/loaded_model.h"
#include "runtime/logits.h"
#include "runtime/sampler.h"

namespace hfk {

struct GenerateOptions {
    SamplerParams sampler;
    int32_t max_new_tokens = 256;
    std::vector<std::string> stop_strings;
    bool add_special_tokens = true;  // for the start of the conversation (BOS, ...)
    bool ignore_eos = false;
    std::vector<int32_t> stop_ids;      // more ids that end the generation, like EOS (chat turns)
    std::vector<LogitBias> logit_bias;  // added to the logits before every sampling step
    bool logprobs = false;              // record each generated token's logprob (result.logprobs)
    int32_t top_logprobs = 0;           // and its best alternatives, 0..kMaxTopLogprobs
    // Constrained decoding: only tokens that keep the text a prefix of the constraint are
    // sampled; the text is then the tokens' exact bytes (constrain/constraint.h). Kind 0: none.
    int32_t constraint_kind = 0;
    std::string constraint_text;
};

struct GenerateResult {
    int32_t stop_reason = 0;  // HFK_STOP_*
    int32_t n_prompt_tokens = 0;
    int32_t n_reused_tokens = 0;
    int32_t n_generated_tokens = 0;
    double time_to_first_token_ms = 0;
    double prefill_tokens_per_s = 0;
    double decode_tokens_per_s = 0;
    std::vector<int32_t> tokens;  // the generated ids
    // With GenerateOptions::logprobs: one entry per generated id, from the model's raw logits.
    std::vector<TokenLogprob> logprobs;
};

// Everything a session's future depends on, copied out (save, fork) or in (restore).
struct SessionSnapshot {
    std::vector<int32_t> tokens;       // the ids in the KV cache, in order
    std::vector<int32_t> last_tokens;  // what the last generate produced
    std::string conversation;          // the text the session has seen (text-level calls)
    std::vector<float> logits;         // after tokens.back() (model vocabulary wide), or empty
    uint64_t rng_state = 0;            // the session's sampler generator
    int64_t n_blocks = 0, row_floats = 0;
    std::vector<float> kv;  // n_blocks x tokens.size() x row_floats (widened to F32)
};

class Session {
  public:
    // kv_type: what the KV cache stores (F32, F16 or BF16; Model::new_cache). compute: the
    // arithmetic of its forward passes (kernels/bf16_compute.h; F32 is exact).
    Session(std::shared_ptr<const LoadedModel> model, int32_t n_ctx, int32_t n_threads,
            DType kv_type = DType::F32, kern::Compute compute = kern::Compute::F32);

    // `on_piece` returns true to stop. `cancel` is polled once per decode step; when set, the
    // call throws hfk::Error(HFK_E_CANCELLED) after storing the partial text in `text` and the
    // statistics so far in `result`. Throws HFK_E_CONTEXT_FULL (prompt too long; session
    // unchanged), HFK_E_NUMERIC, HFK_E_INVALID_ARG.
    void generate(std::string_view prompt, const GenerateOptions &opts,
                  const std::function<bool(std::string_view)> &on_piece,
                  const std::atomic<bool> &cancel, std::string &text, GenerateResult &result);
    // Generates after the session's tokens plus `ids` (the token-level twin of generate(): no
    // text is tokenized). Every generated id (EOS excluded) ends up in the session, so tokens()
    // and logits() continue from the end of the output (unless the context filled up).
    void generate_tokens(std::span<const int32_t> ids, const GenerateOptions &opts,
                         const std::function<bool(std::string_view)> &on_piece,
                         const std::atomic<bool> &cancel, std::string &text,
                         GenerateResult &result);
    void reset();

    // ---- the token-level API (capi/src/session_tokens.cpp) ----
    // Runs `ids` after the session's tokens. all_logits, when not null, receives
    // ids.size() x n_logits() floats (every position). HFK_E_CONTEXT_FULL before any change.
    void eval(std::span<const int32_t> ids, float *all_logits);
    // The logits after the last token (n_logits() floats); HFK_E_STATE on an empty session.
    std::span<const float> logits() const;
    // The width of the logits the token API shows: the ids the tokenizer can decode.
    int32_t n_logits() const;
    const std::vector<int32_t> &tokens() const { return tokens_; }
    // Samples from `logits` (n_logits() floats) with the session's generator: bias, then the
    // sampler chain; penalties count the session's tokens.
    int32_t sample(std::span<const float> logits, const SamplerParams &p,
                   std::span<const LogitBias> bias);
    void set_seed(uint64_t seed);
    // log p(ids[i] | session tokens, ids[0..i)) per id (NaN for ids[0] on an empty session);
    // the ids are evaluated into the session.
    std::vector<double> score(std::span<const int32_t> ids);
    // Keeps the first n tokens (0 <= n <= tokens().size()); the logits are those after token
    // n - 1 again. The conversation text is dropped.
    void truncate(int32_t n);
    int32_t capacity() const { return cache_->capacity(); }
    const KvCache &cache() const { return *cache_; }
    int32_t n_threads() const { return n_threads_; }
    kern::Compute compute() const { return compute_; }
    std::shared_ptr<const LoadedModel> model_ptr() const { return model_; }

    SessionSnapshot snapshot() const;
    // Replaces the state with `s` (checked against this session's cache shape and capacity
    // first: HFK_E_INVALID_ARG / HFK_E_CONTEXT_FULL leave the session unchanged).
    void restore(SessionSnapshot s);
    // Chat: the next generate() continues `text` (the whole rendered conversation) instead of
    // what the session has seen; the longest common token prefix stays in the KV cache.
    void replace_conversation(std::string text) { conversation_ = std::move(text); }

    const LoadedModel &model() const { return *model_; }
    int32_t n_cached_tokens() const { return static_cast<int32_t>(tokens_.size()); }
    // The ids the last generate() produced, EOS excluded.
    const std::vector<int32_t> &last_tokens() const { return last_tokens_; }
    // Their logprobs, when the last generate() asked for them (else empty).
    const std::vector<TokenLogprob> &last_logprobs() const { return last_logprobs_; }

  private:
    // The decode loop shared by generate() and generate_tokens(): `ids` is the whole sequence
    // the session should hold before generating (its longest common prefix with tokens_ is
    // reused); `text_mode` keeps the conversation text, the token mode keeps every id instead.
    void run(std::vector<int32_t> ids, std::string full_text, bool text_mode,
             const GenerateOptions &opts, const std::function<bool(std::string_view)> &on_piece,
             const std::atomic<bool> &cancel, std::string &text, GenerateResult &result);
    void forward_logits(std::span<const int32_t> ids);
    // HFK_E_INVALID_ARG for an id outside [0, n_logits()), HFK_E_CONTEXT_FULL when they do not
    // fit after the session's tokens.
    void check_ids_fit(std::span<const int32_t> ids) const;

    std::shared_ptr<const LoadedModel> model_;
    std::unique_ptr<KvCache> cache_;
    int32_t n_threads_;
    kern::Compute compute_ = kern::Compute::F32;
    std::vector<int32_t> tokens_;  // exactly the tokens whose keys/values are in cache_
    std::string conversation_;     // the text the session has seen: prompts and replies
    std::vector<float> logits_;
    std::vector<int32_t> last_tokens_;
    std::vector<TokenLogprob> last_logprobs_;
    std::vector<float> work_;  // the sampler's copy of logits_ (it transforms in place)
    uint64_t rng_state_ = 0;
    // The last constraint, compiled, with its memoised matcher states and token masks: the next
    // generate with the same constraint starts warm.
    int32_t constraint_kind_ = 0;
    std::string constraint_text_;
    std::unique_ptr<constrain::ConstrainedDecoder> constraint_;
};

}  // namespace hfk
