// The RoPE frequencies and attention factor of every rope_scaling type (models/rope.h) against
// the torch transcription of transformers' modeling_rope_utils.py (rope_freqs_ref.py, run by
// the rope_freqs_ref fixture): each case's config goes through hfkit's config parser, then
// make_rope() for the case's rotary dims, for a call ending at the case's sequence length.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/config.h"
#include "models/rope.h"
#include "util/error.h"

using nlohmann::json;
using namespace hfk;

namespace {

json read_cases() {
    const char *path = std::getenv("HFK_ROPE_FREQS");
    std::ifstream in(path ? path : "rope_freqs.json");
    if (!in) {
        ADD_FAILURE() << "missing rope_freqs.json (rope_freqs_ref fixture)";
        return json::array();
    }
    return json::parse(in);
}

TEST(RopeFrequencies, EveryTypeMatchesTransformers) {
    const json cases = read_cases();
    ASSERT_GE(cases.size(), 10u);
    for (const json &c : cases) {
        const std::string name = c.at("name").get<std::string>();
        SCOPED_TRACE(name);
        const ModelConfig cfg = parse_config(c.at("config").dump());
        const models::Rope rope =
            models::make_rope(cfg.rope_scaling, cfg.rope_theta, c.at("rot_dim").get<int64_t>(),
                              cfg.max_position_embeddings);
        const std::vector<double> got = rope.frequencies(c.at("seq_len").get<int64_t>());
        const std::vector<double> want = c.at("inv_freq").get<std::vector<double>>();
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < want.size(); ++i)  // the reference is float32
            EXPECT_NEAR(got[i], want[i], 2e-6 * std::abs(want[i])) << "frequency " << i;
        EXPECT_NEAR(rope.attention_factor, c.at("attention_factor").get<double>(), 1e-6);
    }
}

// Dynamic NTK runs beyond max_position_embeddings: to max_position_embeddings * factor.
TEST(RopeFrequencies, DynamicExtendsTheContextByItsFactor) {
    RopeScaling s;
    s.type = "dynamic";
    s.factor = 4;
    EXPECT_EQ(models::rope_context_length(s, 16), 64);
    s.type = "yarn";
    EXPECT_EQ(models::rope_context_length(s, 16), 16);
}

TEST(RopeFrequencies, AnUnknownTypeIsRefusedByName) {
    RopeScaling s;
    s.type = "ntk-by-parts";
    try {
        models::make_rope(s, 10000, 16, 128);
        ADD_FAILURE() << "an unknown rope type was accepted";
    } catch (const Error &e) {
        EXPECT_EQ(e.status(), HFK_E_UNSUPPORTED);
        EXPECT_NE(std::string(e.what()).find("'ntk-by-parts'"), std::string::npos) << e.what();
    }
}

}  // namespace
