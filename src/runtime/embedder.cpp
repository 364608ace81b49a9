#include "runtime/embedder.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace hfk {
namespace {

EncoderOutput run_encoder(const LoadedModel &lm, std::string_view text, int32_t n_threads) {
    const Model &net = *lm.model;
    if (net.is_causal())
        fail(HFK_E_UNSUPPORTED, std::string("a '") + net.architecture() +
                                    "' model generates text; embeddings and classification need "
                                    "an encoder model such as BERT");
    const std::vector<int32_t> ids = lm.tokenizer->encode(text, /*add_special_tokens=*/true);
    if (ids.empty()) fail(HFK_E_INVALID_ARG, "the text encodes to no tokens");
    if (static_cast<int64_t>(ids.size()) > net.context_length())
        fail(HFK_E_CONTEXT_FULL, "the text is " + std::to_string(ids.size()) +
                                     " tokens but the model takes at most " +
                                     std::to_string(net.context_length()));
    lm.check_weights_intact();
    EncoderOutput out = net.encode(ids, {}, n_threads > 0 ? n_threads : lm.n_threads);
    // The same rule as generation (Session): NaN or infinity is a fault of the weights, reported,
    // never passed on as a vector (or printed as "nan" into JSON).
    auto finite = [](const std::vector<float> &v) {
        return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
    };
    if (!finite(out.last_hidden_state) || !finite(out.pooled) || !finite(out.logits))
        fail(HFK_E_NUMERIC,
             "the encoder produced NaN or infinite values (the weights may "
             "contain NaN/Inf)");
    return out;
}

}  // namespace

void embed_texts(const LoadedModel &lm, std::span<const std::string_view> texts, Pooling pooling,
                 bool normalize, int32_t n_threads, std::span<float> out) {
    const int32_t dim = static_cast<int32_t>(lm.model->config().hidden_size);
    for (size_t i = 0; i < texts.size(); ++i) {
        const EncoderOutput enc = run_encoder(lm, texts[i], n_threads);
        float *row = out.data() + i * static_cast<size_t>(dim);
        if (pooling == Pooling::Mean)
            mean_pool(enc, row);
        else
            std::copy_n(enc.last_hidden_state.begin(), dim, row);  // the [CLS] position
        if (normalize) l2_normalize(row, dim);
    }
}

std::vector<float> classify_text(const LoadedModel &lm, std::string_view text, int32_t n_threads) {
    EncoderOutput enc = run_encoder(lm, text, n_threads);
    if (enc.logits.empty())
        fail(HFK_E_UNSUPPORTED, "this checkpoint has no sequence-classification head");
    std::vector<float> p = std::move(enc.logits);
    const float m = *std::max_element(p.begin(), p.end());
    double sum = 0;
    for (float &x : p) sum += (x = std::exp(x - m));
    for (float &x : p) x = static_cast<float>(x / sum);
    return p;
}

}  // namespace hfk
