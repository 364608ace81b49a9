// Test helpers: build safetensors files byte by byte (good and deliberately bad), temp dirs, and
// an expectation that a call fails with a given status and message fragments.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>

#include "../support/test_support.h"
#include "util/error.h"

namespace hfk_test {

namespace fs = std::filesystem;

inline fs::path models_dir() {
    return shared_models_dir();
}

// 8-byte little-endian N.
inline std::string le64(uint64_t n) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[size_t(i)] = char((n >> (8 * i)) & 0xff);
    return s;
}

// A file: N = header.size(), the header, then data_len bytes of `fill`.
inline std::string st_file(const std::string &header, size_t data_len, char fill = '\0') {
    return le64(header.size()) + header + std::string(data_len, fill);
}

inline std::span<const std::byte> as_bytes(const std::string &s) {
    return {reinterpret_cast<const std::byte *>(s.data()), s.size()};
}

// Whole-file reads under the name these tests use.
inline std::string read_file(const fs::path &p) {
    return read_all(p);
}

// Runs fn, expects hfk::Error with `status` whose message contains every fragment.
inline void expect_error(const std::function<void()> &fn, int32_t status,
                         std::initializer_list<std::string> fragments) {
    try {
        fn();
    } catch (const hfk::Error &e) {
        EXPECT_EQ(e.status(), status) << e.what();
        for (const std::string &f : fragments)
            EXPECT_NE(std::string(e.what()).find(f), std::string::npos)
                << "message lacks \"" << f << "\": " << e.what();
        return;
    } catch (const std::exception &e) {
        ADD_FAILURE() << "threw a non-hfk exception: " << e.what();
        return;
    }
    ADD_FAILURE() << "did not throw (expected status " << status << ")";
}

}  // namespace hfk_test
