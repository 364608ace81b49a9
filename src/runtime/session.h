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
#include "runtime/loaded_model.h"
#include "runtime/sampler.h"

namespace hfk {

struct GenerateOptions {
    SamplerParams sampler;
    int32_t max_new_tokens = 256;
    std::vector<std::string> stop_strings;
    bool add_special_tokens = true;  // for the start of the conversation (BOS, ...)
    bool ignore_eos = false;
    std::vector<int32_t> stop_ids;  // more ids that end the generation, like EOS (chat turns)
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
};

class Session {
public:
    Session(std::shared_ptr<const LoadedModel> model, int32_t n_ctx, int32_t n_threads);

    // `on_piece` returns true to stop. `cancel` is polled once per decode step; when set, the
    // call throws hfk::Error(HFK_E_CANCELLED) after storing the partial text in `text` and the
    // statistics so far in `result`. Throws HFK_E_CONTEXT_FULL (prompt too long; session
    // unchanged), HFK_E_NUMERIC, HFK_E_INVALID_ARG.
    void generate(std::string_view prompt, const GenerateOptions &opts,
                  const std::function<bool(std::string_view)> &on_piece,
                  const std::atomic<bool> &cancel, std::string &text, GenerateResult &result);
    void reset();
    // Chat: the next generate() continues `text` (the whole rendered conversation) instead of
    // what the session has seen; the longest common token prefix stays in the KV cache.
    void replace_conversation(std::string text) { conversation_ = std::move(text); }

    const LoadedModel &model() const { return *model_; }
    int32_t n_cached_tokens() const { return static_cast<int32_t>(tokens_.size()); }
    // The ids the last generate() produced, EOS excluded.
    const std::vector<int32_t> &last_tokens() const { return last_tokens_; }

private:
    std::shared_ptr<const LoadedModel> model_;
    std::unique_ptr<KvCache> cache_;
    int32_t n_threads_;
    std::vector<int32_t> tokens_;  // exactly the tokens whose keys/values are in cache_
    std::string conversation_;     // the text the session has seen: prompts and replies
    std::vector<float> logits_;
    std::vector<int32_t> last_tokens_;
    // The last constraint, compiled, with its memoised matcher states and token masks: the next
    // generate with the same constraint starts warm.
    int32_t constraint_kind_ = 0;
    std::string constraint_text_;
    std::unique_ptr<constrain::ConstrainedDecoder> constraint_;
};

}  // namespace hfk
