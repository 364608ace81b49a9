// Shared helpers for the tokenizer tests (paths and files come from tests/support).
#pragma once

#include <filesystem>
#include <string>

#include "../support/test_support.h"

namespace hfk_test {

// Whole-file reads under the name these tests use.
inline std::string read_text(const std::filesystem::path &p) {
    return read_all(p);
}

}  // namespace hfk_test
