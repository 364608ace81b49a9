// libFuzzer target: arbitrary bytes as config.json, then as generation_config.json
// (RELIABILITY.md d.5/d.6). Accepted configs must respect the caps; the raw DOM is copied and
// dumped to prove the depth bound makes both safe.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model/config.h"
#include "model/generation_config.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string_view text(reinterpret_cast<const char *>(data), size);
    try {
        hfk::ModelConfig c = hfk::parse_config(text);
        if (c.hidden_size < 0 || c.hidden_size > hfk::kConfigMaxDim) __builtin_trap();
        if (c.num_layers < 0 || c.num_layers > hfk::kConfigMaxLayers) __builtin_trap();
        if (c.vocab_size < 0 || c.vocab_size > hfk::kConfigMaxVocab) __builtin_trap();
        if (c.num_kv_heads > 0 && c.num_heads % c.num_kv_heads != 0) __builtin_trap();
        nlohmann::json copy = c.raw;
        (void)copy.dump();
        try {
            hfk::check_supported_for_inference(c);
        } catch (const hfk::Error &e) {
            if (e.status() != HFK_E_UNSUPPORTED) __builtin_trap();
        }
    } catch (const hfk::Error &e) {
        if (e.status() != HFK_E_FORMAT) __builtin_trap();
    }
    try {
        (void)hfk::parse_generation_config(text);
    } catch (const hfk::Error &e) {
        if (e.status() != HFK_E_FORMAT) __builtin_trap();
    }
    return 0;
}
