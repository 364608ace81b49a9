#include "runtime/embedder.h"

#include <algorithm>
#include <cmath>

#include "util/error.h"

namespace hfk {
namespace {

void require_encoder(const LoadedModel &lm) {
    if (lm.model->is_causal())
        fail(HFK_E_UNSUPPORTED, std::string("a '") + lm.model->architecture() +
                                    "' model generates text; embeddings and classification need "
                                    "an encoder model such as BERT");
}

EncoderOutput run_encoder(const LoadedModel &lm, const std::vector<int32_t> &ids, int32_t n_threads,
                          std::span<const int32_t> type_ids = {}) {
    if (ids.empty()) fail(HFK_E_INVALID_ARG, "the text encodes to no tokens");
    if (static_cast<int64_t>(ids.size()) > lm.model->context_length())
        fail(HFK_E_CONTEXT_FULL, "the text is " + std::to_string(ids.size()) +
                                     " tokens but the model takes at most " +
                                     std::to_string(lm.model->context_length()));
    lm.check_weights_intact();
    EncoderOutput out = lm.model->encode(ids, type_ids, n_threads > 0 ? n_threads : lm.n_threads);
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

// The most tokens one text (or pair) may have: the repository's max_seq_length when it sets one,
// else the model's positions.
int64_t max_tokens_of(const LoadedModel &lm) {
    int64_t max_tokens = lm.model->context_length();
    if (lm.embedding.max_seq_length > 0)
        max_tokens = std::min(max_tokens, lm.embedding.max_seq_length);
    return max_tokens;
}

// sentence-transformers' Pooling over one unpadded sequence.
void pool(const EncoderOutput &enc, Pooling pooling, float *row) {
    const size_t dim = size_t(enc.hidden), n = size_t(enc.n_tokens);
    const float *h = enc.last_hidden_state.data();
    switch (pooling) {
        case Pooling::Mean:
            mean_pool(enc, row);
            break;
        case Pooling::Cls:
            std::copy_n(h, dim, row);
            break;
        case Pooling::LastToken:
            std::copy_n(h + (n - 1) * dim, dim, row);
            break;
        case Pooling::Max:
            std::copy_n(h, dim, row);
            for (size_t i = 1; i < n; ++i)
                for (size_t j = 0; j < dim; ++j) row[j] = std::max(row[j], h[i * dim + j]);
            break;
    }
}

}  // namespace

bool truncate_encoding(std::vector<int32_t> &ids, const std::vector<int32_t> &content,
                       int64_t max_tokens) {
    if (static_cast<int64_t>(ids.size()) <= max_tokens) return false;
    // Where the text's tokens sit among the special ones (BERT: [CLS] text [SEP]; RoBERTa:
    // <s> text </s>): the longest run of special ids in front that still leaves content next.
    if (ids.size() < content.size())
        fail(HFK_E_INTERNAL, "the tokenizer's special tokens do not surround the text");
    size_t at = 0;
    const size_t extra = ids.size() - content.size();
    while (at <= extra && !std::equal(content.begin(), content.end(), ids.begin() + long(at))) ++at;
    if (at > extra) fail(HFK_E_INTERNAL, "the tokenizer's special tokens do not surround the text");
    if (static_cast<int64_t>(extra) >= max_tokens)
        fail(HFK_E_CONTEXT_FULL, "the special tokens alone exceed the model's " +
                                     std::to_string(max_tokens) + " tokens");
    const size_t keep = size_t(max_tokens) - extra;
    std::vector<int32_t> out(ids.begin(), ids.begin() + long(at));
    out.insert(out.end(), content.begin(), content.begin() + long(keep));
    out.insert(out.end(), ids.begin() + long(at + content.size()), ids.end());
    ids = std::move(out);
    return true;
}

void embed_texts(const LoadedModel &lm, std::span<const std::string_view> texts,
                 const EmbedOptions &opts, std::span<float> out, std::span<uint8_t> truncated) {
    require_encoder(lm);
    const EmbeddingDefaults &repo = lm.embedding;
    if (!opts.pooling && !repo.unsupported.empty())
        fail(HFK_E_UNSUPPORTED,
             "this repository's sentence-transformers pipeline cannot be reproduced (" +
                 repo.unsupported + "); choose a pooling explicitly");
    const Pooling pooling = opts.pooling.value_or(repo.pooling);
    const bool normalize = opts.normalize.value_or(repo.normalize);
    const int64_t max_tokens = max_tokens_of(lm);
    const int32_t dim = static_cast<int32_t>(lm.model->config().hidden_size);
    for (size_t i = 0; i < texts.size(); ++i) {
        std::vector<int32_t> ids = lm.tokenizer->encode(texts[i], /*add_special_tokens=*/true);
        bool cut = false;
        if (static_cast<int64_t>(ids.size()) > max_tokens)
            cut = truncate_encoding(ids, lm.tokenizer->encode(texts[i], false), max_tokens);
        const EncoderOutput enc = run_encoder(lm, ids, opts.n_threads);
        float *row = out.data() + i * static_cast<size_t>(dim);
        pool(enc, pooling, row);
        if (normalize) l2_normalize(row, dim);
        if (!truncated.empty()) truncated[i] = cut ? 1 : 0;
    }
}

std::vector<float> classify_logits(const LoadedModel &lm, std::string_view text,
                                   int32_t n_threads) {
    require_encoder(lm);
    EncoderOutput enc =
        run_encoder(lm, lm.tokenizer->encode(text, /*add_special_tokens=*/true), n_threads);
    if (enc.logits.empty())
        fail(HFK_E_UNSUPPORTED, "this checkpoint has no sequence-classification head");
    return std::move(enc.logits);
}

void rerank(const LoadedModel &lm, std::string_view query, std::span<const std::string_view> docs,
            const RerankOptions &opts, std::span<float> out, std::span<uint8_t> truncated) {
    require_encoder(lm);
    if (opts.activation < -1 || opts.activation > 1)
        fail(HFK_E_INVALID_ARG,
             "rerank: activation is -1, 0 or 1, got " + std::to_string(opts.activation));
    const bool types = lm.model->n_token_types() > 1;
    size_t at = 0;
    for (size_t i = 0; i < docs.size(); ++i) {
        const Tokenizer::PairEncoding enc =
            lm.tokenizer->encode_pair(query, docs[i], size_t(max_tokens_of(lm)));
        const EncoderOutput r = run_encoder(
            lm, enc.ids, opts.n_threads,
            types ? std::span<const int32_t>(enc.type_ids) : std::span<const int32_t>());
        if (r.logits.empty())
            fail(HFK_E_UNSUPPORTED, "this checkpoint has no sequence-classification head");
        if (at + r.logits.size() > out.size())
            fail(HFK_E_INTERNAL, "rerank: the output holds fewer scores than the head gives");
        const bool sigmoid =
            opts.activation == 1 || (opts.activation == -1 && r.logits.size() == 1);
        for (float z : r.logits)
            out[at++] = sigmoid ? float(1.0 / (1.0 + std::exp(-double(z)))) : z;
        if (!truncated.empty()) truncated[i] = enc.truncated ? 1 : 0;
    }
}

std::vector<float> classify_text(const LoadedModel &lm, std::string_view text, int32_t n_threads) {
    std::vector<float> p = classify_logits(lm, text, n_threads);
    const float m = *std::max_element(p.begin(), p.end());
    double sum = 0;
    for (float &x : p) sum += (x = std::exp(x - m));
    for (float &x : p) x = static_cast<float>(x / sum);
    return p;
}

}  // namespace hfk
