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
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static auto gpt2 = load("tokenizers/gpt2");
    static auto aid = load("models/aidreams260K");
    if (size == 0) return 0;
    const auto &tok = (data[0] & 1) ? aid : gpt2;
    std::string_view text(reinterpret_cast<const char *>(data + 1), size - 1);
    auto ids = tok->encode(text, (data[0] & 2) != 0);
    std::string back = tok->decode(ids, (data[0] & 4) != 0);
    // Byte-level BPE round-trips any valid UTF-8 exactly.
    if (!(data[0] & 1) && !(data[0] & 2) && back.size() > text.size() * 3 + 3) std::abort();
    hfk::DecodeStream stream(tok, (data[0] & 4) != 0);
    std::string streamed;
    for (int32_t id : ids) streamed += stream.step(id);
    streamed += stream.flush();
    if (streamed != back) std::abort();
    return 0;
}
