#include "token_logprobs.h"

#include <string>

namespace server {
namespace {

// One id's text as it reads after `prev` in the output: decode(prev, id) minus decode(prev),
// which keeps a SentencePiece word's leading space (prev < 0: the id alone).
std::string token_text(const hfk_tokenizer *tok, int32_t prev, int32_t id) {
    auto decode = [&](const int32_t *ids, size_t n) {
        char *text = nullptr;
        size_t len = 0;
        std::string out;
        if (hfk_detokenize(tok, ids, n, 0, &text, &len) == HFK_OK) out.assign(text, len);
        hfk_free(text);
        return out;
    };
    if (prev < 0) return decode(&id, 1);
    const std::string head = decode(&prev, 1);
    const int32_t both_ids[2] = {prev, id};
    const std::string both = decode(both_ids, 2);
    if (both.compare(0, head.size(), head) == 0) return both.substr(head.size());
    return decode(&id, 1);
}

}  // namespace

std::vector<TokenLogprob> token_logprobs(const hfk_tokenizer *tok, int32_t prev, const int32_t *ids,
                                         const float *logprobs, int64_t n, const int32_t *top_ids,
                                         const float *top_logprobs, int32_t n_top) {
    std::vector<TokenLogprob> out(static_cast<size_t>(n));
    for (size_t i = 0; i < out.size(); ++i) {
        out[i].token = token_text(tok, prev, ids[i]);
        out[i].logprob = logprobs[i];
        for (int32_t k = 0; k < n_top; ++k) {
            const size_t at = i * static_cast<size_t>(n_top) + static_cast<size_t>(k);
            out[i].top.push_back({token_text(tok, prev, top_ids[at]), top_logprobs[at]});
        }
        prev = ids[i];
    }
    return out;
}

}  // namespace server
