// What every C++ test shares: where the shared data and the source tree are, a scratch directory,
// and whole-file reads and writes. No GoogleTest here (bench_hub uses it through hub_server.h).
//
// The lookup, in order (tests/README.md):
//   shared data: $HFK_SHARED_DIR, else the directory CMake compiled in (HFK_TEST_SHARED_DIR, set
//                from -DHFK_SHARED_DIR), else <source>/../shared;
//   source tree: $HFK_SOURCE_DIR, else the directory CMake compiled in (HFK_TEST_SOURCE_DIR), else
//                found from this header's own path.
// CTest sets both variables for every test; the fallbacks serve a binary run by hand.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

// 1 when built with AddressSanitizer, under g++ (__SANITIZE_ADDRESS__) or clang (which, in
// version 14, says so only through __has_feature).
#if defined(__SANITIZE_ADDRESS__)
#define HFK_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HFK_TEST_ASAN 1
#endif
#endif
#ifndef HFK_TEST_ASAN
#define HFK_TEST_ASAN 0
#endif

namespace hfk_test {

namespace fs = std::filesystem;

// sqrt(sum (a - b)^2 / sum b^2): how far a is from the reference b, relative to b's size.
inline double relative_rms(const std::vector<float> &a, const std::vector<float> &b) {
    double num = 0, den = 0;
    for (size_t i = 0; i < b.size(); ++i) {
        num += double(a[i] - b[i]) * double(a[i] - b[i]);
        den += double(b[i]) * double(b[i]);
    }
    return std::sqrt(num / std::max(den, 1e-30));
}

// n values drawn from N(0, scale^2) by a fixed seed.
inline std::vector<float> random_values(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(n);
    for (float &x : v) x = dist(rng);
    return v;
}

// The bits of a float, for comparisons that must be exact (and say which bits differ).
inline uint32_t float_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

inline fs::path source_dir() {
    if (const char *s = std::getenv("HFK_SOURCE_DIR"); s && *s) return s;
#ifdef HFK_TEST_SOURCE_DIR
    if (*HFK_TEST_SOURCE_DIR) return HFK_TEST_SOURCE_DIR;
#endif
    return fs::weakly_canonical(fs::path(__FILE__)).parent_path().parent_path().parent_path();
}

inline fs::path shared_dir() {
    if (const char *s = std::getenv("HFK_SHARED_DIR"); s && *s) return s;
#ifdef HFK_TEST_SHARED_DIR
    if (*HFK_TEST_SHARED_DIR) return HFK_TEST_SHARED_DIR;
#endif
    return source_dir().parent_path() / "shared";
}

inline fs::path shared_models_dir() {
    return shared_dir() / "models";
}

// The whole file as bytes ("" when it cannot be read: the comparison that follows says so).
inline std::string read_all(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_all(const fs::path &p, const std::string &bytes) {
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

// A fresh directory under $TMPDIR, removed with everything in it at destruction.
class TempDir {
  public:
    explicit TempDir(const std::string &prefix = "hfk-test") {
        std::string tmpl = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;

    // Writes `bytes` to path/name and returns that path.
    fs::path write(const std::string &name, const std::string &bytes) const {
        write_all(path / name, bytes);
        return path / name;
    }

    fs::path path;
};

}  // namespace hfk_test
