#include "runtime/generation_steps.h"

#include <algorithm>
#include <cmath>

namespace hfk {
namespace {

bool has_non_finite(std::span<const float> v) {
    for (float x : v)
        if (!std::isfinite(x) && !(std::isinf(x) && x < 0)) return true;  // -inf is a mask
    return false;
}

}  // namespace

void validate_generate_options(const GenerateOptions &opts, int32_t n_ids) {
    validate(opts.sampler);
    validate_logit_bias(opts.logit_bias, n_ids);
    if (opts.top_logprobs < 0 || opts.top_logprobs > kMaxTopLogprobs)
        fail(HFK_E_INVALID_ARG, "top_logprobs must be in [0, " + std::to_string(kMaxTopLogprobs) +
                                    "], got " + std::to_string(opts.top_logprobs));
    if (opts.max_new_tokens < 0)
        fail(HFK_E_INVALID_ARG,
             "max_new_tokens must be >= 0, got " + std::to_string(opts.max_new_tokens));
}

size_t sampleable_ids(const LoadedModel &model) {
    return std::min(static_cast<size_t>(model.model->vocab_size()),
                    static_cast<size_t>(std::max(model.n_decodable, 1)));
}

std::unique_ptr<constrain::ConstrainedDecoder> compile_decoder(const LoadedModel &model,
                                                               int32_t kind,
                                                               const std::string &text) {
    if (kind == 0) return nullptr;
    return decoder_for(model,
                       constrain::compile_constraint(static_cast<constrain::Kind>(kind), text));
}

std::unique_ptr<constrain::ConstrainedDecoder> decoder_for(
    const LoadedModel &model, std::shared_ptr<const constrain::Grammar> grammar) {
    if (!grammar) return nullptr;
    return std::make_unique<constrain::ConstrainedDecoder>(
        std::move(grammar),
        constrain::VocabTrie::get(model.tokenizer, static_cast<int32_t>(sampleable_ids(model))));
}

int32_t nothing_generated_reason(constrain::ConstrainedDecoder *constraint) {
    if (!constraint) return HFK_STOP_MAX_TOKENS;
    constraint->restart();
    return constraint->accepting() ? HFK_STOP_MAX_TOKENS : HFK_STOP_CONSTRAINT_INCOMPLETE;
}

GenerationSteps::GenerationSteps(const LoadedModel &model, const GenerateOptions &opts,
                                 constrain::ConstrainedDecoder *constraint,
                                 std::vector<int32_t> &tokens, std::vector<TokenLogprob> &logprobs)
    : model_(model),
      opts_(opts),
      constraint_(constraint),
      tokens_(tokens),
      logprobs_(logprobs),
      sampler_(opts.sampler),
      stream_(model.tokenizer, /*skip_special_tokens=*/true),
      emitter_(opts.stop_strings) {
    if (constraint_) {
        constraint_->restart();
        if (!opts.ignore_eos) {
            end_ids_ = model.eos_ids;
            end_ids_.insert(end_ids_.end(), opts.stop_ids.begin(), opts.stop_ids.end());
        }
    }
}

int32_t GenerationSteps::unless_incomplete(int32_t reason) const {
    return constraint_ && !constraint_->accepting() ? HFK_STOP_CONSTRAINT_INCOMPLETE : reason;
}

int32_t GenerationSteps::step(std::span<const float> raw, std::span<const int32_t> context,
                              bool context_full,
                              const std::function<bool(const std::string &)> &release) {
    // Only ids the tokenizer can decode are candidates: the logits of a padded vocabulary's
    // extra rows are neither checked nor sampled.
    if (has_non_finite(raw))
        fail(HFK_E_NUMERIC, "the model produced NaN or infinite logits at position " +
                                std::to_string(context.size()) +
                                " (the weights may contain NaN/Inf)");
    // The sampler transforms its input in place: it gets a copy, so that the raw logits stay
    // the model's own (for logprobs now, and for the session's token API after the call).
    work_.assign(raw.begin(), raw.end());
    apply_logit_bias(work_, opts_.logit_bias);
    if (constraint_ && !constraint_->mask_logits(work_, end_ids_))
        return HFK_STOP_CONSTRAINT_INCOMPLETE;  // no token of the vocabulary continues it
    const int32_t id = sampler_.sample(work_, context, tokens_);
    if (!opts_.ignore_eos &&
        (model_.is_eos(id) ||
         std::find(opts_.stop_ids.begin(), opts_.stop_ids.end(), id) != opts_.stop_ids.end()))
        return HFK_STOP_EOS;
    tokens_.push_back(id);
    if (opts_.logprobs) logprobs_.push_back(token_logprob(raw, id, opts_.top_logprobs));
    // With a constraint the text is the tokens' bytes as the constraint matched them (a
    // decoder's start-of-text rules, such as dropping a first space, would change it).
    std::string piece;
    if (constraint_) {
        constraint_->accept(id);
        piece = constrained_text_.push(constraint_->token_bytes(id));
    } else {
        piece = stream_.step(id);
    }
    if (release(emitter_.push(piece))) return HFK_STOP_CALLBACK;
    if (emitter_.stopped()) return HFK_STOP_STRING;
    if (constraint_ && constraint_->finished()) return HFK_STOP_EOS;  // nothing may follow
    if (static_cast<int32_t>(tokens_.size()) >= opts_.max_new_tokens)
        return unless_incomplete(HFK_STOP_MAX_TOKENS);
    if (context_full) return unless_incomplete(HFK_STOP_CONTEXT_FULL);
    return HFK_STOP_NONE;
}

std::string GenerationSteps::rest(int32_t reason) {
    if (reason == HFK_STOP_STRING || reason == HFK_STOP_CALLBACK) return {};
    std::string out = emitter_.push(constraint_ ? constrained_text_.flush() : stream_.flush());
    out += emitter_.finish();
    return out;
}

}  // namespace hfk
