#include "model/dtype.h"

#include <array>

namespace hfk {

namespace {

struct DTypeRow {
    DType dtype;
    const char *name;
    uint32_t bits;
};

// Same set and sizes as the reference crate's Dtype enum (safetensors/src/tensor.rs).
constexpr std::array<DTypeRow, 22> kDTypes = {{
    {DType::BOOL, "BOOL", 8},
    {DType::F4, "F4", 4},
    {DType::F6_E2M3, "F6_E2M3", 6},
    {DType::F6_E3M2, "F6_E3M2", 6},
    {DType::U8, "U8", 8},
    {DType::I8, "I8", 8},
    {DType::F8_E5M2, "F8_E5M2", 8},
    {DType::F8_E4M3, "F8_E4M3", 8},
    {DType::F8_E8M0, "F8_E8M0", 8},
    {DType::F8_E4M3FNUZ, "F8_E4M3FNUZ", 8},
    {DType::F8_E5M2FNUZ, "F8_E5M2FNUZ", 8},
    {DType::I16, "I16", 16},
    {DType::U16, "U16", 16},
    {DType::F16, "F16", 16},
    {DType::BF16, "BF16", 16},
    {DType::I32, "I32", 32},
    {DType::U32, "U32", 32},
    {DType::F32, "F32", 32},
    {DType::C64, "C64", 64},
    {DType::F64, "F64", 64},
    {DType::I64, "I64", 64},
    {DType::U64, "U64", 64},
}};

}  // namespace

const char *dtype_name(DType t) {
    for (const auto &row : kDTypes)
        if (row.dtype == t) return row.name;
    return "?";
}

uint32_t dtype_bits(DType t) {
    for (const auto &row : kDTypes)
        if (row.dtype == t) return row.bits;
    return 0;
}

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const auto &row : kDTypes)
        if (name == row.name) return row.dtype;
    return std::nullopt;
}

}  // namespace hfk
