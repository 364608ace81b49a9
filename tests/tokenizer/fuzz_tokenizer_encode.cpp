// libFuzzer target: arbitrary bytes -> encode (with and without special tokens) and decode, on
// the byte-level GPT-2 tokenizer and the byte-fallback aidreams260K tokenizer from shared/.
// The first input byte picks the tokenizer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "../support/test_support.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {
std::shared_ptr<const hfk::Tokenizer> load(const char *rel) {
    return hfk::Tokenizer::load(hfk_test::shared_dir() / rel);
}

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF).
bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n = 0;
        uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;  // truncated sequence
        for (size_t k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        static const uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += n + 1;
    }
    return true;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static auto gpt2 = load("tokenizers/gpt2");
    static auto aid = load("models/aidreams260K");
    if (size == 0) return 0;
    const auto &tok = (data[0] & 1) ? aid : gpt2;
    std::string_view text(reinterpret_cast<const char *>(data + 1), size - 1);
    auto ids = tok->encode(text, (data[0] & 2) != 0);
    std::string back = tok->decode(ids, (data[0] & 4) != 0);
    // Byte-level BPE (GPT-2) round-trips any valid UTF-8 exactly when special tokens are kept in
    // the decode (a "<|endoftext|>" in the text is matched as the special token); any input at all
    // decodes to a bounded size.
    if (!(data[0] & 1) && !(data[0] & 2)) {
        if (!(data[0] & 4) && valid_utf8(text) && back != text) std::abort();
        if (back.size() > text.size() * 3 + 3) std::abort();
    }
    hfk::DecodeStream stream(tok, (data[0] & 4) != 0);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.step(id);
    streamed += stream.flush();
    if (streamed != back) std::abort();
    return 0;
}
