// libFuzzer target: arbitrary bytes as a whole safetensors file (RELIABILITY.md d.1/d.2).
// Accepted files must satisfy the validator's promises; we check them here so ASan/UBSan and
// __builtin_trap catch any breach: every tensor's bytes lie inside the input, the byte sum of all
// tensors equals the data section, and first/last bytes are touched.
#include <cstddef>
#include <cstdint>
#include <span>

#include "model/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::span<const std::byte> bytes(reinterpret_cast<const std::byte *>(data), size);
    try {
        auto tensors = hfk::parse_safetensors(bytes, "fuzz.safetensors");
        uint64_t n = hfk::safetensors_header_length(bytes.first(8));
        uint64_t sum = 0;
        volatile unsigned char sink = 0;
        for (const auto &t : tensors) {
            sum += t.nbytes;
            if (t.nbytes == 0) continue;
            if (t.data < bytes.data() + 8 + n || t.data + t.nbytes > bytes.data() + size)
                __builtin_trap();
            sink = sink + static_cast<unsigned char>(t.data[0]) +
                   static_cast<unsigned char>(t.data[t.nbytes - 1]);
            if (uint64_t(t.numel()) * hfk::dtype_bits(t.dtype) != t.nbytes * 8) __builtin_trap();
        }
        if (sum != size - 8 - n) __builtin_trap();
        // The header-only path must agree with the full parse.
        auto again = hfk::parse_safetensors_header_only(
            std::string_view(reinterpret_cast<const char *>(data) + 8, size_t(n)), "fuzz");
        if (again.size() != tensors.size()) __builtin_trap();
    } catch (const hfk::Error &e) {
        if (e.status() != HFK_E_FORMAT) __builtin_trap();
    }
    return 0;
}
