// What the token-level API does with a logit vector besides sampling: log-probabilities (the
// model's own distribution, before any sampling transform), the top-N alternatives, and
// per-token logit biases.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace hfk {

// OpenAI's cap on top_logprobs.
inline constexpr int32_t kMaxTopLogprobs = 20;

struct TokenLogprob {
    int32_t id = 0;
    float logprob = 0;
    std::vector<std::pair<int32_t, float>> top;  // (id, logprob), best first, ties to lower id
};

// log(sum(exp(logits))), accumulated in double from the maximum (-inf entries count as 0).
double log_sum_exp(std::span<const float> logits);

// The log-probability of `id` under softmax(logits) and the `n_top` most likely ids.
TokenLogprob token_logprob(std::span<const float> logits, int32_t id, int32_t n_top);

// A logit bias: added to the logit of `id` (-inf bans the id).
struct LogitBias {
    int32_t id;
    float bias;
};
// Throws HFK_E_INVALID_ARG for an id outside [0, n_ids) or a NaN/+inf bias.
void validate_logit_bias(std::span<const LogitBias> biases, int32_t n_ids);
void apply_logit_bias(std::span<float> logits, std::span<const LogitBias> biases);

}  // namespace hfk
