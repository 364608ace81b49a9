// RoPE scaling (linear, llama3) against torch references written at test time by
// rope_scaling_ref.py (the ctest fixture model.rope_scaling_refs): logits at every one of 100
// positions within 1e-4, from one prefill and again token by token through the KV cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/model.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hfk;

namespace {

constexpr double kTol = 1e-4;

fs::path ref_dir() {
    if (const char *d = std::getenv("HFK_ROPE_REF_DIR")) return d;
    return HFK_ROPE_REF_DIR;
}

struct Reference {
    std::vector<int32_t> ids;
    std::vector<std::vector<double>> logits;
};

Reference read_reference(const fs::path &dir) {
    std::ifstream in(dir / "reference.json");
    const json j = json::parse(in);
    return {j.at("ids").get<std::vector<int32_t>>(),
            j.at("logits").get<std::vector<std::vector<double>>>()};
}

// Largest |got - want| over every position and vocabulary entry.
double worst_difference(const std::vector<float> &got, const Reference &ref, int32_t n_vocab) {
    double worst = 0;
    for (size_t t = 0; t < ref.ids.size(); ++t)
        for (int32_t v = 0; v < n_vocab; ++v)
            worst = std::max(
                worst, std::fabs(got[t * size_t(n_vocab) + size_t(v)] - ref.logits[t][size_t(v)]));
    return worst;
}

class RopeScaling : public testing::TestWithParam<std::string> {};

TEST_P(RopeScaling, EveryPositionMatchesTheTorchReference) {
    const fs::path dir = ref_dir() / GetParam();
    ASSERT_TRUE(fs::exists(dir / "reference.json"))
        << dir << ": run the fixture model.rope_scaling_refs (ctest runs it first)";
    const Reference ref = read_reference(dir);
    auto model = Model::load(dir, LoadOptions{2});
    const int32_t n_vocab = model->vocab_size();
    const size_t T = ref.ids.size();
    ASSERT_EQ(ref.logits.size(), T);
    ASSERT_EQ(ref.logits[0].size(), size_t(n_vocab));

    std::vector<float> prefill(T * size_t(n_vocab));
    auto cache = model->new_cache(0);
    model->forward(*cache, ref.ids, prefill.data(), true, 0);
    EXPECT_LE(worst_difference(prefill, ref, n_vocab), kTol) << "one prefill, every position";

    // Token by token: each step's position comes from the cache, not the batch.
    std::vector<float> stepwise(T * size_t(n_vocab));
    auto cache2 = model->new_cache(0);
    for (size_t t = 0; t < T; ++t)
        model->forward(*cache2, std::span<const int32_t>(&ref.ids[t], 1),
                       stepwise.data() + t * size_t(n_vocab), false, 1);
    EXPECT_LE(worst_difference(stepwise, ref, n_vocab), kTol) << "decode, every position";
}

INSTANTIATE_TEST_SUITE_P(Types, RopeScaling, testing::Values("linear", "llama3"));

}  // namespace
