// The sparse MoE architectures of the zoo (make_zoo.py's mixtral, mixtral-tok, qwen3-moe,
// qwen3-moe-step; their logits against torch are test_zoo_forward's): what MoE promises beyond
// the logits. A decode step reads the dense weights and the top-k experts of each layer, no
// other (bytes per token = the inspector's active parameters); the inspector's active count
// equals the checkpoint's tensors with top-k of each sparse layer's experts; prefill and decode
// are bit-identical at 1 and 2 threads; and the routing rule itself on hand-worked numbers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "inspect/inspect.h"
#include "model/config.h"
#include "model/model.h"
#include "models/moe.h"
#include "util/error.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hfk;

namespace {

fs::path zoo_dir() {
    const char *d = std::getenv("HFK_ZOO_DIR");
    return d ? fs::path(d) : fs::path("zoo");
}

json header_of(const fs::path &file) {
    std::ifstream in(file, std::ios::binary);
    uint64_t len = 0;
    in.read(reinterpret_cast<char *>(&len), 8);
    std::string header(len, '\0');
    in.read(header.data(), std::streamsize(len));
    return json::parse(header);
}

uint64_t elements(const json &t) {
    uint64_t n = 1;
    for (const json &d : t.at("shape")) n *= d.get<uint64_t>();
    return n;
}

// The parameters one token reads, from the checkpoint's tensor names alone: everything outside
// the experts, plus top_k experts of every layer that has experts (expert 0's size, all equal).
uint64_t active_from_header(const json &h, int64_t top_k) {
    uint64_t shared = 0;
    std::map<std::string, uint64_t> expert0;  // layer prefix -> elements of its expert 0
    for (auto it = h.begin(); it != h.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        const std::string &name = it.key();
        const size_t at = name.find(".experts.");
        if (at == std::string::npos) {
            shared += elements(it.value());
            continue;
        }
        const size_t dot = name.find('.', at + 9);
        if (name.substr(at + 9, dot - at - 9) == "0")
            expert0[name.substr(0, at)] += elements(it.value());
    }
    for (const auto &[layer, n] : expert0) shared += uint64_t(top_k) * n;
    return shared;
}

class ZooMoe : public ::testing::TestWithParam<std::string> {};

TEST_P(ZooMoe, InspectorActiveCountIsTheTopKShareOfTheCheckpoint) {
    const fs::path dir = zoo_dir() / GetParam();
    const ModelConfig cfg = load_config(dir);
    const json h = header_of(dir / "model.safetensors");
    uint64_t total = 0, active = 0;
    for (auto it = h.begin(); it != h.end(); ++it)
        if (it.key() != "__metadata__") total += elements(it.value());
    EXPECT_EQ(count_parameters_from_config(cfg, &active), total);
    EXPECT_EQ(active, active_from_header(h, cfg.num_experts_per_tok));
    EXPECT_LT(active, total);
}

TEST_P(ZooMoe, DecodeReadsTheActiveParametersOnly) {
    const fs::path dir = zoo_dir() / GetParam();
    const ModelConfig cfg = load_config(dir);
    uint64_t active = 0;
    const uint64_t total = count_parameters_from_config(cfg, &active);
    auto model = Model::load(dir, LoadOptions{1});
    ASSERT_EQ(model->weight_bytes(), 4 * total);  // F32 checkpoints
    auto cache = model->new_cache(64);
    std::vector<float> logits(size_t(model->vocab_size()));
    int32_t tok = 5;
    for (int i = 0; i < 12; ++i) {
        const uint64_t before = cache->weight_bytes_read();
        model->forward(*cache, std::span(&tok, 1), logits.data(), false, 1);
        EXPECT_EQ(cache->weight_bytes_read() - before, 4 * active) << "token " << i;
        tok = int32_t(3 + (tok * 7 + i) % (model->vocab_size() - 3));
    }
    // A prefill reads each expert that any of its tokens chose, once: between the two.
    std::vector<int32_t> prompt(20);
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = int32_t(3 + (i * 11) % 90);
    auto c2 = model->new_cache(64);
    model->forward(*c2, prompt, logits.data(), false, 1);
    EXPECT_GE(c2->weight_bytes_read(), 4 * active);
    EXPECT_LE(c2->weight_bytes_read(), 4 * total);
}

TEST_P(ZooMoe, BitIdenticalAtOneAndTwoThreads) {
    auto model = Model::load(zoo_dir() / GetParam(), LoadOptions{1});
    const size_t V = size_t(model->vocab_size());
    std::vector<int32_t> prompt(23);
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = int32_t(3 + (i * 13) % 90);
    std::vector<std::vector<float>> prefill, decode;
    for (int threads : {1, 2}) {
        auto cache = model->new_cache(64);
        prefill.emplace_back(prompt.size() * V);
        model->forward(*cache, prompt, prefill.back().data(), true, threads);
        auto step = model->new_cache(64);
        decode.emplace_back(prompt.size() * V);
        for (size_t i = 0; i < prompt.size(); ++i)
            model->forward(*step, std::span(&prompt[i], 1), decode.back().data() + i * V, false,
                           threads);
    }
    EXPECT_EQ(0, std::memcmp(prefill[0].data(), prefill[1].data(), prefill[0].size() * 4));
    EXPECT_EQ(0, std::memcmp(decode[0].data(), decode[1].data(), decode[0].size() * 4));
}

INSTANTIATE_TEST_SUITE_P(Architectures, ZooMoe,
                         ::testing::Values("mixtral", "mixtral-tok", "qwen3-moe", "qwen3-moe-step"),
                         [](const auto &info) {
                             std::string s = info.param;
                             for (char &ch : s)
                                 if (ch == '-') ch = '_';
                             return s;
                         });

// softmax([0, ln 3, ln 2, 0]) = [1, 3, 2, 1] / 7: top-2 is experts 1 and 2 with 3/7 and 2/7,
// renormalized 0.6 and 0.4.
TEST(MoeRoute, SoftmaxTopKAndRenormalization) {
    const float logits[4] = {0, std::log(3.0f), std::log(2.0f), 0};
    int32_t e[2];
    float w[2];
    models::route(logits, 4, 2, /*renormalize=*/false, e, w);
    EXPECT_EQ(e[0], 1);
    EXPECT_EQ(e[1], 2);
    EXPECT_NEAR(w[0], 3.0 / 7, 1e-6);
    EXPECT_NEAR(w[1], 2.0 / 7, 1e-6);
    models::route(logits, 4, 2, /*renormalize=*/true, e, w);
    EXPECT_NEAR(w[0], 0.6, 1e-6);
    EXPECT_NEAR(w[1], 0.4, 1e-6);
}

ModelConfig qwen3_moe_with(const std::string &extra) {
    return parse_config(
        R"({"model_type":"qwen3_moe","vocab_size":100,"hidden_size":16,"num_hidden_layers":6,
            "num_attention_heads":2,"num_key_value_heads":1,"intermediate_size":40,
            "moe_intermediate_size":8,"num_experts":4,"num_experts_per_tok":2)" +
        extra + "}");
}

TEST(MoeConfig, Qwen3MoeSparseLayersFollowStepAndMlpOnlyLayers) {
    ModelConfig c = qwen3_moe_with(R"(,"decoder_sparse_step":2,"mlp_only_layers":[3])");
    // (i + 1) % 2 == 0 -> 1, 3, 5; minus mlp_only 3.
    EXPECT_EQ(c.layer_sparse, (std::vector<bool>{false, true, false, false, false, true}));
    EXPECT_EQ(c.moe_intermediate_size, 8);
    EXPECT_FALSE(c.norm_topk_prob);  // Qwen3MoeConfig's default
    c = qwen3_moe_with(R"(,"norm_topk_prob":true)");
    EXPECT_EQ(c.layer_sparse, std::vector<bool>(6, true));
    EXPECT_TRUE(c.norm_topk_prob);
    check_supported_for_inference(c);
}

TEST(MoeConfig, BadMoeFieldsAreRefused) {
    auto status_of = [](const std::function<void()> &f) -> int {
        try {
            f();
        } catch (const Error &e) {
            return e.status();
        }
        return HFK_OK;
    };
    EXPECT_EQ(status_of([] { qwen3_moe_with(R"(,"mlp_only_layers":[6])"); }), HFK_E_FORMAT);
    EXPECT_EQ(status_of([] { qwen3_moe_with(R"(,"mlp_only_layers":"1")"); }), HFK_E_FORMAT);
    EXPECT_EQ(status_of([] { qwen3_moe_with(R"(,"decoder_sparse_step":0)"); }), HFK_E_FORMAT);
    EXPECT_EQ(status_of([] { qwen3_moe_with(R"(,"num_experts_per_tok":5)"); }), HFK_E_FORMAT);
    // A sliding window whose layers the versions of transformers disagree on: refused.
    const ModelConfig c = qwen3_moe_with(R"(,"use_sliding_window":true,"sliding_window":8)");
    EXPECT_EQ(status_of([&] { check_supported_for_inference(c); }), HFK_E_UNSUPPORTED);
}

}  // namespace
