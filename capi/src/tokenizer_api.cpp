// C ABI: tokenizers.
#include <cstring>
#include <string>

#include "guard.h"
#include "handles.h"

using hfk::capi::guard;
using hfk::capi::set_error;

extern "C" {

HFK_API hfk_status hfk_tokenizer_load(hfk_tokenizer **out, const char *path) noexcept {
    HFK_REQUIRE_ARG(out);
    *out = nullptr;
    HFK_REQUIRE_ARG(path);
    return guard([&]() -> hfk_status {
        auto handle = std::make_unique<hfk_tokenizer>();
        handle->tok = hfk::Tokenizer::load(path);
        *out = handle.release();
        return HFK_OK;
    });
}

HFK_API void hfk_tokenizer_free(hfk_tokenizer *tok) noexcept { delete tok; }

HFK_API hfk_status hfk_tokenize(const hfk_tokenizer *tok, const char *text, size_t text_len,
                                int32_t add_special, int32_t *ids, int64_t n_max,
                                int64_t *n_out) noexcept {
    HFK_REQUIRE_ARG(n_out);
    *n_out = 0;
    HFK_REQUIRE_ARG(tok);
    if (text == nullptr && text_len > 0) return set_error(HFK_E_INVALID_ARG, "text is NULL");
    if (n_max < 0) return set_error(HFK_E_INVALID_ARG, "n_max is negative");
    if (ids == nullptr && n_max > 0) return set_error(HFK_E_INVALID_ARG, "ids is NULL");
    return guard([&]() -> hfk_status {
        const auto encoded =
            tok->tok->encode(std::string_view(text ? text : "", text_len), add_special != 0);
        const auto n = static_cast<int64_t>(encoded.size());
        if (n > n_max) {
            *n_out = -n;
            return set_error(HFK_E_BUFFER_TOO_SMALL, "the text needs " + std::to_string(n) +
                                                         " ids but the buffer holds " +
                                                         std::to_string(n_max));
        }
        if (n > 0) std::memcpy(ids, encoded.data(), encoded.size() * sizeof(int32_t));
        *n_out = n;
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_detokenize(const hfk_tokenizer *tok, const int32_t *ids, size_t n_ids,
                                  int32_t skip_special, char **text_out,
                                  size_t *text_len_out) noexcept {
    HFK_REQUIRE_ARG(text_out);
    *text_out = nullptr;
    if (text_len_out) *text_len_out = 0;
    HFK_REQUIRE_ARG(tok);
    if (ids == nullptr && n_ids > 0) return set_error(HFK_E_INVALID_ARG, "ids is NULL");
    return guard([&]() -> hfk_status {
        const std::string text =
            tok->tok->decode(std::span<const int32_t>(ids, n_ids), skip_special != 0);
        *text_out = hfk::capi::dup_string(text);
        if (text_len_out) *text_len_out = text.size();
        return HFK_OK;
    });
}

HFK_API int32_t hfk_tokenizer_vocab_size(const hfk_tokenizer *tok) noexcept {
    return tok ? tok->tok->vocab_size() : 0;
}

HFK_API int32_t hfk_tokenizer_special_id(const hfk_tokenizer *tok,
                                         hfk_special_token which) noexcept {
    if (tok == nullptr) return -1;
    switch (which) {
        case HFK_SPECIAL_BOS:
            return tok->tok->bos_id();
        case HFK_SPECIAL_EOS:
            return tok->tok->eos_id();
        case HFK_SPECIAL_PAD:
            return tok->tok->pad_id();
        case HFK_SPECIAL_UNK:
            return tok->tok->unk_id();
        default:
            return -1;
    }
}

HFK_API hfk_status hfk_tokenizer_id_to_token(const hfk_tokenizer *tok, int32_t id, char *buf,
                                             size_t buf_size, size_t *len_out) noexcept {
    HFK_REQUIRE_ARG(len_out);
    *len_out = 0;
    HFK_REQUIRE_ARG(tok);
    if (buf == nullptr && buf_size > 0) return set_error(HFK_E_INVALID_ARG, "buf is NULL");
    return guard([&]() -> hfk_status {
        if (id < 0 || id >= tok->tok->vocab_size())
            return set_error(HFK_E_INVALID_ARG, "id " + std::to_string(id) +
                                                    " is outside the vocabulary of " +
                                                    std::to_string(tok->tok->vocab_size()));
        const std::string s = tok->tok->id_to_token(id);
        *len_out = s.size();
        if (buf_size <= s.size())
            return set_error(HFK_E_BUFFER_TOO_SMALL,
                             "the token needs " + std::to_string(s.size() + 1) + " bytes");
        std::memcpy(buf, s.data(), s.size());
        buf[s.size()] = '\0';
        return HFK_OK;
    });
}

}  // extern "C"
