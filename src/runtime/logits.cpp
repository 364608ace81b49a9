#include "runtime/logits.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "util/error.h"

namespace hfk {

double log_sum_exp(std::span<const float> logits) {
    float best = -INFINITY;
    for (float l : logits)
        if (l > best) best = l;
    if (!std::isfinite(best)) return best;
    double total = 0;
    for (float l : logits) total += std::exp(static_cast<double>(l) - best);
    return best + std::log(total);
}

TokenLogprob token_logprob(std::span<const float> logits, int32_t id, int32_t n_top) {
    const double lse = log_sum_exp(logits);
    TokenLogprob out;
    out.id = id;
    out.logprob = static_cast<float>(static_cast<double>(logits[static_cast<size_t>(id)]) - lse);
    n_top = std::clamp<int32_t>(n_top, 0, static_cast<int32_t>(logits.size()));
    if (n_top == 0) return out;
    std::vector<int32_t> order(logits.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
    auto better = [&](int32_t a, int32_t b) {
        return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
    };
    std::partial_sort(order.begin(), order.begin() + n_top, order.end(), better);
    for (int32_t i = 0; i < n_top; ++i)
        out.top.emplace_back(order[i], static_cast<float>(logits[order[i]] - lse));
    return out;
}

void validate_logit_bias(std::span<const LogitBias> biases, int32_t n_ids) {
    for (size_t i = 0; i < biases.size(); ++i) {
        const LogitBias &b = biases[i];
        if (b.id < 0 || b.id >= n_ids)
            fail(HFK_E_INVALID_ARG, "logit_bias id " + std::to_string(b.id) + " (entry " +
                                        std::to_string(i) + ") is outside the vocabulary [0, " +
                                        std::to_string(n_ids) + ")");
        if (std::isnan(b.bias) || b.bias == INFINITY)
            fail(HFK_E_INVALID_ARG, "logit_bias value of id " + std::to_string(b.id) +
                                        " must be a number or -inf, got " + std::to_string(b.bias));
    }
}

void apply_logit_bias(std::span<float> logits, std::span<const LogitBias> biases) {
    for (const LogitBias &b : biases)
        if (b.id >= 0 && static_cast<size_t>(b.id) < logits.size()) logits[b.id] += b.bias;
}

}  // namespace hfk
