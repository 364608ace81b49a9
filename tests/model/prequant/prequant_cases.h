// The pre-quantized checkpoints make_prequant.py writes at test time (CTest fixture
// prequant_reference), shared by the suites that load them.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace hfk_test {

// One checkpoint per format and layout variant (make_prequant.py names them).
inline const std::vector<std::string> kPrequantCases = {
    "mlx-4bit-g64-f16", "mlx-4bit-g32-bf16-mixed", "mlx-8bit-g64-bf16",
    "gptq-4bit-g32",    "gptq-4bit-g16-actorder",  "awq-4bit-g32"};

// Where a case was written: HFK_PREQUANT_DIR (set by CTest), else ./prequant.
inline std::filesystem::path prequant_case_dir(const std::string &name) {
    const char *d = std::getenv("HFK_PREQUANT_DIR");
    return std::filesystem::path(d ? d : "prequant") / name;
}

// A case's name as a GoogleTest parameter name ('-' is not allowed there).
inline std::string prequant_case_test_name(const testing::TestParamInfo<std::string> &i) {
    std::string s = i.param;
    for (char &c : s)
        if (c == '-') c = '_';
    return s;
}

}  // namespace hfk_test
