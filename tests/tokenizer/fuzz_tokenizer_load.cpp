// libFuzzer target: tokenizer.json bytes -> Tokenizer::from_json. Any hfk::Error is fine;
// anything else (a crash, another exception, a sanitizer report) is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view in(reinterpret_cast<const char *>(data), size);
    try {
        auto tok = hfk::Tokenizer::from_json(in);
        auto ids = tok->encode("Hello world! \xC3\xA9t\xC3\xA9 123 <s>", true);
        (void)tok->decode(ids, false);
    } catch (const hfk::Error &) {
    }
    return 0;
}
