// Helpers for the inspector tests: paths, temp dirs, expected errors, and a safetensors splitter
// that turns a single-file checkpoint into shards plus model.safetensors.index.json.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../support/test_support.h"
#include "util/error.h"

namespace inspect_test {

namespace fs = std::filesystem;

using hfk_test::read_all;
using hfk_test::TempDir;
using hfk_test::write_all;

inline fs::path shared_models() {
    return hfk_test::shared_models_dir();
}
inline fs::path source_root() {
    return hfk_test::source_dir();
}
inline fs::path fixtures() {
    return source_root() / "tests" / "inspect" / "fixtures";
}

inline std::string le64(uint64_t n) {
    std::string s(8, '\0');
    for (int i = 0; i < 8; ++i) s[size_t(i)] = char((n >> (8 * i)) & 0xff);
    return s;
}

// Runs fn, expects hfk::Error with `status` whose message contains every fragment.
inline void expect_error(const std::function<void()> &fn, int32_t status,
                         std::initializer_list<std::string> fragments) {
    try {
        fn();
        ADD_FAILURE() << "expected status " << status << ", got success";
    } catch (const hfk::Error &e) {
        EXPECT_EQ(e.status(), status) << e.what();
        for (const std::string &f : fragments)
            EXPECT_NE(std::string(e.what()).find(f), std::string::npos)
                << "message '" << e.what() << "' lacks '" << f << "'";
    }
}

// Splits `src` (a valid single-file safetensors) into n shards "model-0000i-of-0000n.safetensors"
// in `dst` with an index, tensors dealt round-robin. Returns the shard names.
inline std::vector<std::string> split_into_shards(const fs::path &src, const fs::path &dst, int n) {
    const std::string bytes = read_all(src);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | uint8_t(bytes[size_t(i)]);
    nlohmann::json header = nlohmann::json::parse(bytes.substr(8, hlen));
    header.erase("__metadata__");
    const std::string data = bytes.substr(8 + hlen);
    std::vector<nlohmann::json> heads(static_cast<size_t>(n), nlohmann::json::object());
    std::vector<std::string> datas(static_cast<size_t>(n));
    nlohmann::json index = {{"metadata", {{"total_size", data.size()}}},
                            {"weight_map", nlohmann::json::object()}};
    std::vector<std::string> names;
    for (int i = 0; i < n; ++i)
        names.push_back("model-0000" + std::to_string(i + 1) + "-of-0000" + std::to_string(n) +
                        ".safetensors");
    int k = 0;
    for (auto it = header.begin(); it != header.end(); ++it, ++k) {
        const size_t s = size_t(k % n);
        const uint64_t b = it.value()["data_offsets"][0], e = it.value()["data_offsets"][1];
        nlohmann::json t = it.value();
        t["data_offsets"] = {datas[s].size(), datas[s].size() + (e - b)};
        datas[s] += data.substr(b, e - b);
        heads[s][it.key()] = t;
        index["weight_map"][it.key()] = names[s];
    }
    for (int i = 0; i < n; ++i) {
        std::string h = heads[size_t(i)].dump();
        while (h.size() % 8) h += ' ';
        write_all(dst / names[size_t(i)], le64(h.size()) + h + datas[size_t(i)]);
    }
    write_all(dst / "model.safetensors.index.json", index.dump(2));
    return names;
}

}  // namespace inspect_test
