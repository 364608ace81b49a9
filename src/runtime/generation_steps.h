// One generation's per-token logic, shared by Session::run and the batching engine
// (src/engine), so that both give the same ids, text, stop reasons and logprobs: from the
// model's raw logits, the NaN check, the logit biases, the constraint's mask, the sampler, the
// end-of-sequence and stop-id checks, the logprob record, the text (the tokens' exact bytes
// under a constraint, else the tokenizer's decoding), the stop strings and the limits. The
// callers only run the forward passes.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "constrain/constraint.h"
#include "constrain/utf8_stream.h"
#include "runtime/loaded_model.h"
#include "runtime/logits.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "runtime/text_emitter.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace hfk {

// Throws HFK_E_INVALID_ARG naming the first bad option (sampler, biases over n_ids ids,
// top_logprobs, max_new_tokens). Does not compile the constraint.
void validate_generate_options(const GenerateOptions &opts, int32_t n_ids);

// The ids a generation may sample from the model's logits: those the tokenizer can decode.
size_t sampleable_ids(const LoadedModel &model);

// opts' constraint compiled for the model's vocabulary (HFK_E_INVALID_ARG naming the position
// when it does not compile); nullptr when opts has none.
std::unique_ptr<constrain::ConstrainedDecoder> compile_decoder(const LoadedModel &model,
                                                               int32_t kind,
                                                               const std::string &text);
// A decoder over an already compiled grammar (shared: a Grammar is immutable), for the model's
// vocabulary; nullptr when grammar is.
std::unique_ptr<constrain::ConstrainedDecoder> decoder_for(
    const LoadedModel &model, std::shared_ptr<const constrain::Grammar> grammar);

// Why a generation with max_new_tokens 0 ends, without a GenerationSteps (whose sampler, stream
// and stop strings it would never use): HFK_STOP_MAX_TOKENS, or HFK_STOP_CONSTRAINT_INCOMPLETE
// when `constraint` (nullptr: none; restarted here) does not accept an empty output.
int32_t nothing_generated_reason(constrain::ConstrainedDecoder *constraint);

class GenerationSteps {
  public:
    // `constraint` (nullptr: none) is restarted here and followed; it, `model` and `opts` must
    // outlive this. Generated ids go to `tokens`, their logprobs (opts.logprobs) to `logprobs`.
    GenerationSteps(const LoadedModel &model, const GenerateOptions &opts,
                    constrain::ConstrainedDecoder *constraint, std::vector<int32_t> &tokens,
                    std::vector<TokenLogprob> &logprobs);

    // Picks the id after `context` (every id the model has seen) from the model's raw logits
    // (sampleable_ids() wide) and passes the text that may be shown now to `release` (true:
    // stop). Returns why the generation ends, or HFK_STOP_NONE: the caller runs last_id() and
    // calls again. `context_full`: the cache has no room to run another id. Throws
    // HFK_E_NUMERIC for NaN or +-inf logits.
    int32_t step(std::span<const float> raw, std::span<const int32_t> context, bool context_full,
                 const std::function<bool(const std::string &)> &release);
    int32_t last_id() const { return tokens_.back(); }
    // The reason when nothing is generated (max_new_tokens 0).
    int32_t nothing_generated() const { return unless_incomplete(HFK_STOP_MAX_TOKENS); }
    // The text still held back when the generation ends for `reason` (none after a stop string
    // or a callback's stop).
    std::string rest(int32_t reason);
    const Sampler &sampler() const { return sampler_; }

  private:
    // Running out of tokens or context before the constraint is complete is its own reason.
    int32_t unless_incomplete(int32_t reason) const;

    const LoadedModel &model_;
    const GenerateOptions &opts_;
    constrain::ConstrainedDecoder *constraint_;
    std::vector<int32_t> &tokens_;
    std::vector<TokenLogprob> &logprobs_;
    std::vector<int32_t> end_ids_;  // what the constraint allows only once complete
    Sampler sampler_;
    DecodeStream stream_;
    constrain::Utf8Stream constrained_text_;
    TextEmitter emitter_;
    std::vector<float> work_;  // the sampler's copy of the logits (it transforms in place)
};

}  // namespace hfk
