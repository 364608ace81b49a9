#include "runtime/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <unordered_map>

#include "kernels/ops.h"
#include "util/error.h"

namespace hfk {

void validate(const SamplerParams &p) {
    auto bad = [](const std::string &what) { fail(HFK_E_INVALID_ARG, what); };
    if (!std::isfinite(p.temperature) || p.temperature < 0)
        bad("temperature must be a finite number >= 0, got " + std::to_string(p.temperature));
    if (p.top_k < 0) bad("top_k must be >= 0 (0 = off), got " + std::to_string(p.top_k));
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f))
        bad("top_p must be in (0, 1], got " + std::to_string(p.top_p));
    if (!(p.min_p >= 0.0f && p.min_p <= 1.0f))
        bad("min_p must be in [0, 1], got " + std::to_string(p.min_p));
    if (!(p.repetition_penalty > 0.0f) || !std::isfinite(p.repetition_penalty))
        bad("repetition_penalty must be > 0, got " + std::to_string(p.repetition_penalty));
    if (!std::isfinite(p.presence_penalty))
        bad("presence_penalty must be finite, got " + std::to_string(p.presence_penalty));
    if (!std::isfinite(p.frequency_penalty))
        bad("frequency_penalty must be finite, got " + std::to_string(p.frequency_penalty));
}

int32_t argmax(std::span<const float> logits) {
    return logits.empty() ? 0 : int32_t(kern::argmax(logits.data(), int64_t(logits.size())));
}

Sampler::Sampler(const SamplerParams &p) : p_(p) {
    // splitmix64 seeding so that seeds 0, 1, 2 ... give unrelated streams.
    state_ = p.seed ^ 0x9E3779B97F4A7C15ull;
}

double Sampler::next_uniform() {
    // splitmix64: tiny, fast, and identical on every platform (unlike std:: distributions).
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
}

int32_t Sampler::sample(std::span<float> logits, std::span<const int32_t> context,
                        std::span<const int32_t> generated) {
    const auto n = static_cast<int64_t>(logits.size());
    if (p_.repetition_penalty != 1.0f) {
        // transformers' RepetitionPenaltyLogitsProcessor: each distinct token once.
        std::vector<int32_t> seen(context.begin(), context.end());
        std::sort(seen.begin(), seen.end());
        seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
        for (int32_t id : seen) {
            if (id < 0 || id >= n) continue;
            float &l = logits[id];
            l = l < 0 ? l * p_.repetition_penalty : l / p_.repetition_penalty;
        }
    }
    if (p_.presence_penalty != 0.0f || p_.frequency_penalty != 0.0f) {
        std::unordered_map<int32_t, int32_t> counts;
        for (int32_t id : generated) ++counts[id];
        for (auto [id, c] : counts) {
            if (id < 0 || id >= n) continue;
            logits[id] -= p_.presence_penalty + p_.frequency_penalty * static_cast<float>(c);
        }
    }
    if (p_.temperature == 0.0f || p_.top_k == 1) return argmax(logits);
    // Scale the distance to the best logit, not the logit itself: (l - max) / T is <= 0 for any
    // T > 0, so a tiny temperature sends the others to -inf (probability 0) and the best to 0,
    // which is greedy, instead of overflowing to +inf and making exp(inf - inf) a NaN.
    float best = -INFINITY;
    for (float l : logits)
        if (l > best) best = l;  // NaN compares false and is skipped
    if (!std::isfinite(best)) return argmax(logits);
    for (float &l : logits) l = (l - best) / p_.temperature;
    return draw(logits);
}

int32_t Sampler::draw(std::span<const float> logits) {
    candidates_.clear();
    candidates_.reserve(logits.size());
    for (size_t i = 0; i < logits.size(); ++i)
        if (!std::isnan(logits[i]) && logits[i] != -INFINITY)
            candidates_.emplace_back(logits[i], static_cast<int32_t>(i));
    if (candidates_.empty()) return argmax(logits);

    // Highest logit first; ties to the lower id, so the order never depends on the sort.
    auto better = [](const auto &a, const auto &b) {
        return a.first > b.first || (a.first == b.first && a.second < b.second);
    };
    size_t keep = candidates_.size();
    if (p_.top_k > 0 && static_cast<size_t>(p_.top_k) < keep) {
        keep = static_cast<size_t>(p_.top_k);
        std::partial_sort(candidates_.begin(), candidates_.begin() + keep, candidates_.end(),
                          better);
        candidates_.resize(keep);
    } else if (p_.top_p < 1.0f || p_.min_p > 0.0f) {
        std::sort(candidates_.begin(), candidates_.end(), better);
    }

    // Probabilities relative to the best logit (numerically safe softmax).
    const float max_logit =
        std::max_element(candidates_.begin(), candidates_.end(), [](auto &a, auto &b) {
            return a.first < b.first;
        })->first;
    std::vector<double> probs(candidates_.size());
    double total = 0;
    for (size_t i = 0; i < candidates_.size(); ++i) {
        probs[i] = std::exp(static_cast<double>(candidates_[i].first - max_logit));
        total += probs[i];
    }
    if (p_.top_p < 1.0f) {
        // Smallest prefix whose mass reaches top_p (sorted, so this is the nucleus); then min_p,
        // in the order transformers applies its warpers.
        double mass = 0;
        size_t k = 0;
        while (k < probs.size()) {
            mass += probs[k++];
            if (mass >= p_.top_p * total) break;
        }
        total = mass;
        probs.resize(k);
    }
    if (p_.min_p > 0.0f) {
        // Keep tokens whose probability is at least min_p times the best one's (which is 1 here).
        size_t k = 0;
        while (k < probs.size() && probs[k] >= p_.min_p) ++k;
        k = std::max<size_t>(k, 1);
        for (size_t i = k; i < probs.size(); ++i) total -= probs[i];
        probs.resize(k);
    }
    double r = next_uniform() * total;
    for (size_t i = 0; i < probs.size(); ++i) {
        r -= probs[i];
        if (r < 0) return candidates_[i].second;
    }
    return candidates_[probs.size() - 1].second;
}

}  // namespace hfk
