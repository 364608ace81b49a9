// Shared helpers for the tokenizer tests: where the shared data is, and reading files.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace hfk_test {

inline std::filesystem::path shared_dir() {
    const char *env = std::getenv("HFK_SHARED_DIR");
    return env && *env ? std::filesystem::path(env) : std::filesystem::path("../shared");
}

inline std::string read_text(const std::filesystem::path &p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace hfk_test
