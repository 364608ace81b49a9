// Every architecture of the model zoo against an independent torch forward (make_zoo.py, run by
// the zoo_reference fixture into the build directory): logits of every position within 1e-4 for
// a prompt longer than every sliding window, by prefill and by token-by-token decode, at 1 and 2
// threads; the greedy continuation decoded with the KV cache equals the reference's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>

#include "inspect/inspect.h"
#include "model/config.h"
#include "model/model.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hfk;

namespace {

constexpr double kTol = 1e-4;

fs::path zoo_dir() {
    const char *d = std::getenv("HFK_ZOO_DIR");
    return d ? fs::path(d) : fs::path("zoo");
}

struct Case {
    std::shared_ptr<const Model> model;
    std::vector<int32_t> ids, greedy;
    std::vector<std::vector<float>> logits;
    // Where the RoPE follows each call's length (longrope beyond the original context, dynamic
    // NTK beyond max_position_embeddings), a token-by-token decode through the cache has its
    // own reference: each key rotated with the frequencies of the call that stored it.
    std::vector<int32_t> decode_greedy;
    std::vector<std::vector<float>> decode_logits;
};

Case load_case(const std::string &name) {
    const fs::path dir = zoo_dir() / name;
    Case c;
    std::ifstream in(dir / "reference.json");
    if (!in) ADD_FAILURE() << "missing " << (dir / "reference.json") << " (zoo_reference fixture)";
    if (!in) return c;
    const json ref = json::parse(in);
    c.ids = ref["ids"].get<std::vector<int32_t>>();
    c.greedy = ref["greedy"].get<std::vector<int32_t>>();
    c.logits = ref["logits"].get<std::vector<std::vector<float>>>();
    c.decode_logits = ref.contains("decode_logits")
                          ? ref["decode_logits"].get<std::vector<std::vector<float>>>()
                          : c.logits;
    c.decode_greedy =
        ref.contains("decode_greedy") ? ref["decode_greedy"].get<std::vector<int32_t>>() : c.greedy;
    c.model = Model::load(dir, LoadOptions{2});
    return c;
}

double max_diff(const float *got, const std::vector<float> &want) {
    double d = 0;
    for (size_t j = 0; j < want.size(); ++j)
        d = std::max(d, std::abs(double(got[j]) - double(want[j])));
    return d;
}

int32_t argmax(const float *v, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i)
        if (v[i] > v[best]) best = i;
    return best;
}

class Zoo : public ::testing::TestWithParam<std::string> {};

void expect_matches_torch(const std::string &name) {
    Case c = load_case(name);
    ASSERT_TRUE(c.model);
    const int32_t V = c.model->vocab_size(), n = int32_t(c.ids.size());
    ASSERT_EQ(c.logits.size(), c.ids.size());
    ASSERT_EQ(c.logits[0].size(), size_t(V));
    double worst = 0;
    for (int threads : {1, 2}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        // Prefill, logits of every position.
        auto cache = c.model->new_cache(64);
        std::vector<float> all(size_t(n) * V);
        c.model->forward(*cache, c.ids, all.data(), true, threads);
        for (int32_t i = 0; i < n; ++i) {
            const double d = max_diff(all.data() + size_t(i) * V, c.logits[size_t(i)]);
            worst = std::max(worst, d);
            EXPECT_LT(d, kTol) << "prefill position " << i;
        }
        // Token by token through the cache.
        auto step_cache = c.model->new_cache(64);
        std::vector<float> one(static_cast<size_t>(V));
        for (int32_t i = 0; i < n; ++i) {
            c.model->forward(*step_cache, std::span(&c.ids[size_t(i)], 1), one.data(), false,
                             threads);
            const double d = max_diff(one.data(), c.decode_logits[size_t(i)]);
            worst = std::max(worst, d);
            EXPECT_LT(d, kTol) << "decode position " << i;
        }
        // Greedy continuation with the cache.
        std::vector<int32_t> got;
        int32_t next = argmax(one.data(), V);
        for (size_t k = 0; k < c.greedy.size(); ++k) {
            got.push_back(next);
            c.model->forward(*step_cache, std::span(&next, 1), one.data(), false, threads);
            next = argmax(one.data(), V);
        }
        EXPECT_EQ(got, c.decode_greedy);
    }
    ::testing::Test::RecordProperty("max_abs_logit_diff", std::to_string(worst));
    std::printf("[ zoo ] %-16s max |logit - torch| = %.3g\n", name.c_str(), worst);
}

TEST_P(Zoo, PrefillDecodeAndGreedyMatchTorch) {
    expect_matches_torch(GetParam());
}

// A multimodal Gemma 3 checkpoint runs its language model alone (language_model.* weights,
// text_config), leaves the vision tensors unloaded, and says so in its load note.
TEST(Zoo, Gemma3MultimodalRunsItsLanguageModelAlone) {
    expect_matches_torch("gemma3-mm-tok");
    const Case c = load_case("gemma3-mm-tok");
    ASSERT_TRUE(c.model);
    EXPECT_EQ(c.model->architecture(), "gemma3_text");
    EXPECT_TRUE(c.model->config().text_part_only);
    EXPECT_NE(c.model->config().load_note.find("vision tower"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Architectures, Zoo,
                         ::testing::Values("llama-gelu", "llama-relu", "llama-gelu-tanh",
                                           "mistral-window", "qwen2-window", "qwen3", "qwen3-tok",
                                           "gemma", "gemma2", "gemma3", "smollm3", "phi3",
                                           "phi3-long", "phi2", "phi-qkln-yarn", "qwen3-yarn",
                                           "llama-dynamic-long", "mixtral", "mixtral-tok",
                                           "qwen3-moe", "qwen3-moe-step"),
                         [](const auto &info) {
                             std::string s = info.param;
                             for (char &ch : s)
                                 if (ch == '-') ch = '_';
                             return s;
                         });

TEST(Zoo, ArchitectureNamesComeFromModelType) {
    const std::pair<const char *, const char *> cases[] = {
        {"qwen3", "qwen3"},     {"gemma2", "gemma2"}, {"gemma3", "gemma3_text"},
        {"smollm3", "smollm3"}, {"phi3", "phi3"},     {"phi2", "phi"}};
    for (const auto &[name, architecture] : cases) {
        const Case c = load_case(name);
        // Without the fixture's reference there is no model: load_case has said so.
        if (c.model) {
            EXPECT_EQ(c.model->architecture(), architecture) << name;
        }
    }
}

}  // namespace

namespace {

// Elements of every tensor in a safetensors file, read from its header alone.
uint64_t tensor_elements(const fs::path &file) {
    std::ifstream in(file, std::ios::binary);
    uint64_t len = 0;
    in.read(reinterpret_cast<char *>(&len), 8);
    std::string header(len, '\0');
    in.read(header.data(), std::streamsize(len));
    uint64_t total = 0;
    const json h = json::parse(header);
    for (auto it = h.begin(); it != h.end(); ++it) {
        if (it.key() == "__metadata__") continue;
        uint64_t n = 1;
        for (const json &d : it.value().at("shape")) n *= d.get<uint64_t>();
        total += n;
    }
    return total;
}

// hfkit inspect's count from config.json alone equals the checkpoint's tensors (the torch
// generator writes exactly the modules the transformers classes have).
TEST_P(Zoo, InspectorCountsTheParametersExactly) {
    const fs::path dir = zoo_dir() / GetParam();
    const ModelConfig cfg = load_config(dir);
    uint64_t active = 0;
    EXPECT_EQ(count_parameters_from_config(cfg, &active),
              tensor_elements(dir / "model.safetensors"));
    if (cfg.num_experts <= 1) {  // dense: all active (MoE: test_zoo_moe.cpp)
        EXPECT_EQ(active, tensor_elements(dir / "model.safetensors"));
    }
    EXPECT_EQ(parameter_count_method(cfg), "config");
}

}  // namespace
