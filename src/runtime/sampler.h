// Turns a logit vector into the next token id, with the controls transformers and llama.cpp
// users expect. Deterministic for a given seed on any thread count: the only randomness is one
// uniform draw per token from the sampler's own generator.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace hfk {

struct SamplerParams {
    float temperature = 0.0f;        // 0 = greedy (argmax, ties to the lower id)
    int32_t top_k = 0;               // 0 = off
    float top_p = 1.0f;              // 1 = off
    float min_p = 0.0f;              // 0 = off
    float repetition_penalty = 1.0f; // CTRL-style, applied to every token seen in the context
    float presence_penalty = 0.0f;   // subtracted once from every token generated so far
    float frequency_penalty = 0.0f;  // subtracted once per occurrence among generated tokens
    uint64_t seed = 0;
};

// Throws hfk::Error(HFK_E_INVALID_ARG) naming the first bad field.
void validate(const SamplerParams &p);

class Sampler {
public:
    explicit Sampler(const SamplerParams &p);

    // `logits` is modified in place (penalties, temperature). `context` is every token the model
    // has seen (prompt and generated) for the repetition penalty; `generated` only the tokens of
    // this generation, for presence and frequency penalties.
    int32_t sample(std::span<float> logits, std::span<const int32_t> context,
                   std::span<const int32_t> generated);

    // Draws from softmax(logits) restricted by top-k/top-p/min-p (exposed for the chi-square
    // test of the sampling distribution).
    int32_t draw(std::span<const float> logits);

    // The generator's whole state, saved and restored with a session (session_state.cpp).
    uint64_t rng_state() const { return state_; }
    void set_rng_state(uint64_t state) { state_ = state; }

private:
    double next_uniform();  // [0, 1), 53 bits

    SamplerParams p_;
    uint64_t state_;
    std::vector<std::pair<float, int32_t>> candidates_;  // reused between calls
};

int32_t argmax(std::span<const float> logits);

}  // namespace hfk
