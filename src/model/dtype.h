// Element types of safetensors tensors. Every dtype the reference crate accepts (RELIABILITY.md
// ST6) is listed so that a valid file parses; compute supports only F32/F16/BF16 (WeightBinder).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace hfk {

enum class DType : uint8_t {
    BOOL,
    F4,
    F6_E2M3,
    F6_E3M2,
    U8,
    I8,
    F8_E5M2,
    F8_E4M3,
    F8_E8M0,
    F8_E4M3FNUZ,
    F8_E5M2FNUZ,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    C64,
    F64,
    I64,
    U64,
};

// The safetensors spelling ("F32", "BF16", ...).
const char *dtype_name(DType);
// Bits per element (4 for F4, 6 for F6_*, 8 for BOOL).
uint32_t dtype_bits(DType);
// Parses the safetensors spelling; nullopt for anything else (case-sensitive, like the reference).
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes per element of the compute types: 4 for F32, 2 for F16 and BF16, the types of
// activations, of a forward's weights and of the KV cache. Only for those three.
constexpr size_t compute_elem_size(DType t) {
    return t == DType::F32 ? 4 : 2;
}

}  // namespace hfk
