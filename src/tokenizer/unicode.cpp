#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <cstdlib>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace hfk::tok::uni {

namespace {
utf8proc_category_t cat(char32_t c) {
    return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}
}  // namespace

bool is_whitespace(char32_t c) {
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

bool is_numeric(char32_t c) {
    auto k = cat(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

bool is_alphanumeric(char32_t c) {
    auto k = cat(c);
    return (k >= UTF8PROC_CATEGORY_LU && k <= UTF8PROC_CATEGORY_LO) || is_numeric(c);
}

bool is_punctuation(char32_t c) {
    auto k = cat(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

bool is_bert_punctuation(char32_t c) {
    bool ascii = (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
                 (c >= 123 && c <= 126);
    return ascii || is_punctuation(c);
}

bool is_mark_nonspacing(char32_t c) {
    return cat(c) == UTF8PROC_CATEGORY_MN;
}

bool is_cjk(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

void append_lowercase(std::string &out, char32_t c) {
    if (c < 0x80) {
        out.push_back(c >= 'A' && c <= 'Z' ? char(c + 32) : char(c));
        return;
    }
    // The one unconditional multi-character lowercase mapping in SpecialCasing.txt.
    if (c == 0x130) {
        out += "i\xCC\x87";
        return;
    }
    utf8::append(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
}

std::string normalize(std::string_view s, Form form) {
    // Fast path: ASCII is invariant under every normalization form.
    bool ascii = true;
    for (unsigned char b : s)
        if (b >= 0x80) {
            ascii = false;
            break;
        }
    if (ascii) return std::string(s);
    int opt = UTF8PROC_STABLE;
    switch (form) {
        case Form::NFC:
            opt |= UTF8PROC_COMPOSE;
            break;
        case Form::NFD:
            opt |= UTF8PROC_DECOMPOSE;
            break;
        case Form::NFKC:
            opt |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
            break;
        case Form::NFKD:
            opt |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
            break;
    }
    utf8proc_uint8_t *dst = nullptr;
    utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t *>(s.data()),
                                      static_cast<utf8proc_ssize_t>(s.size()), &dst,
                                      static_cast<utf8proc_option_t>(opt));
    if (n < 0) {
        std::free(dst);
        if (n == UTF8PROC_ERROR_NOMEM) fail(HFK_E_NOMEM, "unicode normalization: out of memory");
        return std::string(s);  // input is valid UTF-8 by construction; keep it unchanged
    }
    std::string out(reinterpret_cast<char *>(dst), static_cast<size_t>(n));
    std::free(dst);
    return out;
}

}  // namespace hfk::tok::uni
