// The token-level side of a Session: evaluating ids, reading logits, sampling from given
// logits, scoring, truncating, and copying the whole state out and in (save, restore, fork).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "runtime/session.h"
#include "util/error.h"

namespace hfk {

int32_t Session::n_logits() const {
    return std::min(static_cast<int32_t>(logits_.size()), std::max(model_->n_decodable, 1));
}

void Session::forward_logits(std::span<const int32_t> ids) {
    if (ids.empty()) return;
    kern::ComputeScope compute_scope(compute_);
    model_->model->forward(*cache_, ids, logits_.data(), false, n_threads_);
    tokens_.insert(tokens_.end(), ids.begin(), ids.end());
}

void Session::check_ids_fit(std::span<const int32_t> ids) const {
    const int32_t n_ids = n_logits();
    for (int32_t id : ids)
        if (id < 0 || id >= n_ids)
            fail(HFK_E_INVALID_ARG, "token id " + std::to_string(id) +
                                        " is outside the vocabulary [0, " + std::to_string(n_ids) +
                                        ")");
    if (static_cast<int64_t>(tokens_.size()) + static_cast<int64_t>(ids.size()) >
        cache_->capacity())
        fail(HFK_E_CONTEXT_FULL, std::to_string(ids.size()) + " more tokens do not fit: " +
                                     std::to_string(tokens_.size()) + " of " +
                                     std::to_string(cache_->capacity()) + " positions are used");
}

void Session::eval(std::span<const int32_t> ids, float *all_logits) {
    model_->check_weights_intact();
    check_ids_fit(ids);
    const int32_t n_ids = n_logits();
    conversation_.clear();  // the session is now driven by ids, not text
    if (ids.empty()) return;
    if (all_logits == nullptr) {
        forward_logits(ids);
        return;
    }
    // Every position: run in chunks so that the model-wide buffer stays small, and copy the
    // decodable columns of each row out.
    const size_t width = logits_.size();
    const size_t chunk = 64;
    std::vector<float> rows;
    kern::ComputeScope compute_scope(compute_);
    for (size_t start = 0; start < ids.size(); start += chunk) {
        const size_t n = std::min(chunk, ids.size() - start);
        rows.resize(n * width);
        model_->model->forward(*cache_, ids.subspan(start, n), rows.data(), true, n_threads_);
        tokens_.insert(tokens_.end(), ids.begin() + start, ids.begin() + start + n);
        for (size_t r = 0; r < n; ++r)
            std::memcpy(all_logits + (start + r) * size_t(n_ids), rows.data() + r * width,
                        size_t(n_ids) * sizeof(float));
        std::memcpy(logits_.data(), rows.data() + (n - 1) * width, width * sizeof(float));
    }
}

std::span<const float> Session::logits() const {
    if (tokens_.empty())
        fail(HFK_E_STATE, "the session holds no tokens, so there are no logits yet");
    return {logits_.data(), static_cast<size_t>(n_logits())};
}

int32_t Session::sample(std::span<const float> logits, const SamplerParams &p,
                        std::span<const LogitBias> bias) {
    validate(p);
    if (static_cast<int64_t>(logits.size()) != n_logits())
        fail(HFK_E_INVALID_ARG, "sample: " + std::to_string(logits.size()) +
                                    " logits given, the model has " + std::to_string(n_logits()));
    validate_logit_bias(bias, n_logits());
    work_.assign(logits.begin(), logits.end());
    apply_logit_bias(work_, bias);
    Sampler sampler(p);
    sampler.set_rng_state(rng_state_);
    const int32_t id = sampler.sample(work_, tokens_, tokens_);
    rng_state_ = sampler.rng_state();
    return id;
}

void Session::set_seed(uint64_t seed) {
    SamplerParams p;
    p.seed = seed;
    rng_state_ = Sampler(p).rng_state();
}

std::vector<double> Session::score(std::span<const int32_t> ids) {
    std::vector<double> out(ids.size(), std::numeric_limits<double>::quiet_NaN());
    if (ids.empty()) return out;
    // Everything eval() would refuse is refused here first: the chunks below must not leave
    // half the ids in the session.
    check_ids_fit(ids);
    std::vector<float> prev;
    if (!tokens_.empty()) prev.assign(logits_.begin(), logits_.begin() + n_logits());
    const size_t width = static_cast<size_t>(n_logits());
    const size_t chunk = 64;
    std::vector<float> rows;
    for (size_t start = 0; start < ids.size(); start += chunk) {
        const size_t n = std::min(chunk, ids.size() - start);
        rows.resize(n * width);
        eval(ids.subspan(start, n), rows.data());
        for (size_t r = 0; r < n; ++r) {
            const size_t i = start + r;
            if (!prev.empty())
                out[i] = static_cast<double>(prev[size_t(ids[i])]) - log_sum_exp(prev);
            prev.assign(rows.begin() + r * width, rows.begin() + (r + 1) * width);
        }
    }
    return out;
}

void Session::truncate(int32_t n) {
    if (n < 0 || static_cast<size_t>(n) > tokens_.size())
        fail(HFK_E_INVALID_ARG, "truncate: " + std::to_string(n) + " is outside [0, " +
                                    std::to_string(tokens_.size()) + "] (the session's tokens)");
    conversation_.clear();
    if (static_cast<size_t>(n) == tokens_.size()) return;
    if (n == 0) {
        cache_->truncate(0);
        tokens_.clear();
        return;
    }
    // Run token n - 1 again: its logits are the ones after the kept prefix.
    const int32_t last = tokens_[n - 1];
    cache_->truncate(n - 1);
    tokens_.resize(n - 1);
    const int32_t one[1] = {last};
    forward_logits(one);
}

SessionSnapshot Session::snapshot() const {
    SessionSnapshot s;
    s.tokens = tokens_;
    s.last_tokens = last_tokens_;
    s.conversation = conversation_;
    if (!tokens_.empty()) s.logits = logits_;
    s.rng_state = rng_state_;
    s.n_blocks = cache_->n_blocks();
    s.row_floats = cache_->row_floats();
    const size_t per_block = tokens_.size() * size_t(s.row_floats);
    s.kv.resize(size_t(s.n_blocks) * per_block);
    // Widened to F32 (exact for an F16/BF16 cache).
    if (per_block > 0)  // an empty session has nothing to copy (and may have no block mapped)
        for (int64_t b = 0; b < s.n_blocks; ++b)
            cache_->read_rows(b, int64_t(tokens_.size()), s.kv.data() + size_t(b) * per_block);
    return s;
}

void Session::restore(SessionSnapshot s) {
    if (s.n_blocks != cache_->n_blocks() || s.row_floats != cache_->row_floats())
        fail(HFK_E_INVALID_ARG, "the saved KV cache has " + std::to_string(s.n_blocks) + " x " +
                                    std::to_string(s.row_floats) + " rows, this model " +
                                    std::to_string(cache_->n_blocks()) + " x " +
                                    std::to_string(cache_->row_floats()));
    if (static_cast<int64_t>(s.tokens.size()) > cache_->capacity())
        fail(HFK_E_CONTEXT_FULL, "the saved session holds " + std::to_string(s.tokens.size()) +
                                     " tokens but this session's context is " +
                                     std::to_string(cache_->capacity()));
    const size_t per_block = s.tokens.size() * size_t(s.row_floats);
    if (s.kv.size() != size_t(s.n_blocks) * per_block ||
        (!s.tokens.empty() && s.logits.size() != logits_.size()))
        fail(HFK_E_INVALID_ARG, "the saved session's sizes are inconsistent");
    const int32_t vocab = model_->model->vocab_size();
    for (int32_t id : s.tokens)
        if (id < 0 || id >= vocab)
            fail(HFK_E_INVALID_ARG, "the saved session holds token id " + std::to_string(id) +
                                        " outside the vocabulary");
    // Rounded to this session's kv_type (exact when the values came from a cache of that type).
    if (per_block > 0)
        for (int64_t b = 0; b < s.n_blocks; ++b)
            cache_->write_rows(b, int64_t(s.tokens.size()), s.kv.data() + size_t(b) * per_block);
    cache_->set_n_past(static_cast<int32_t>(s.tokens.size()));
    tokens_ = std::move(s.tokens);
    last_tokens_ = std::move(s.last_tokens);
    conversation_ = std::move(s.conversation);
    if (!tokens_.empty()) logits_ = std::move(s.logits);
    rng_state_ = s.rng_state;
}

}  // namespace hfk
