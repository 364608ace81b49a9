// The encoder zoo (tests/model/zoo/make_encoders.py) through the C API: hfk_model_embed with the
// repository's pooling (HFK_POOLING_MODEL, the default) and with each explicit pooling against
// the torch references, the truncation flags, hfk_model_classify_logits, and the bad options.
#include <cmath>
#include <cstdlib>

#include "api_support.h"

namespace {

using namespace hfk_api_test;
namespace fs = std::filesystem;
using nlohmann::json;

void expect_close(const float *got, const json &want, const std::string &what) {
    double dot = 0, ng = 0, nw = 0;
    for (size_t j = 0; j < want.size(); ++j) {
        const double w = want[j].get<double>();
        EXPECT_NEAR(got[j], w, 1e-4) << what << " dimension " << j;
        dot += got[j] * w;
        ng += double(got[j]) * got[j];
        nw += w * w;
    }
    EXPECT_GT(dot / std::sqrt(ng * nw), 0.99999) << what;
}

struct Embedded {
    std::vector<float> vectors;
    std::vector<int32_t> truncated;
};

Embedded embed(hfk_model *m, const json &texts, hfk_pooling pooling, int32_t normalize) {
    std::vector<std::string> owned = texts.get<std::vector<std::string>>();
    std::vector<const char *> ptrs;
    for (const auto &t : owned) ptrs.push_back(t.c_str());
    const size_t dim = size_t(hfk_model_embedding_dim(m));
    Embedded e{std::vector<float>(ptrs.size() * dim), std::vector<int32_t>(ptrs.size(), -7)};
    hfk_embed_params ep;
    HFK_EMBED_PARAMS_INIT(&ep);
    ep.pooling = pooling;
    ep.normalize = normalize;
    ep.truncated_out = e.truncated.data();
    EXPECT_EQ(hfk_model_embed(m, ptrs.data(), ptrs.size(), &ep, e.vectors.data(), e.vectors.size()),
              HFK_OK)
        << hfk_last_error_message();
    return e;
}

class EncoderZoo : public ::testing::TestWithParam<const char *> {};

TEST_P(EncoderZoo, RepositoryPoolingAndEveryExplicitPoolingMatchTorch) {
    ASSERT_FALSE(encoder_zoo().empty()) << "HFK_ENCODER_ZOO_DIR is not set";
    const fs::path dir = encoder_zoo() / GetParam();
    const json ref = read_json(dir / "reference.json");
    auto model = load(dir);
    ASSERT_TRUE(model);
    const size_t dim = size_t(hfk_model_embedding_dim(model.get()));
    const json &texts = ref["texts"];

    const Embedded def = embed(model.get(), texts, HFK_POOLING_MODEL, -1);
    for (size_t i = 0; i < texts.size(); ++i) {
        expect_close(def.vectors.data() + i * dim, ref["default"][i],
                     "default, text " + std::to_string(i));
        EXPECT_EQ(def.truncated[i], ref["truncated"][i].get<bool>() ? 1 : 0) << "text " << i;
    }
    const std::pair<const char *, hfk_pooling> modes[] = {{"mean", HFK_POOLING_MEAN},
                                                          {"cls", HFK_POOLING_CLS},
                                                          {"lasttoken", HFK_POOLING_LAST_TOKEN},
                                                          {"max", HFK_POOLING_MAX}};
    for (const auto &[name, mode] : modes) {
        const Embedded raw = embed(model.get(), texts, mode, 0);
        for (size_t i = 0; i < texts.size(); ++i)
            expect_close(raw.vectors.data() + i * dim, ref["pooled"][name][i],
                         std::string(name) + ", text " + std::to_string(i));
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, EncoderZoo,
                         ::testing::Values("bert-st-cls", "roberta-st-mean",
                                           "xlm-roberta-st-lasttoken", "distilbert-st-max",
                                           "distilbert-sinusoidal", "modernbert-st-cls",
                                           "modernbert-biased"));

TEST(EncoderZooApi, RerankerLogitsAreTheRawOneLabelScore) {
    ASSERT_FALSE(encoder_zoo().empty()) << "HFK_ENCODER_ZOO_DIR is not set";
    const fs::path dir = encoder_zoo() / "roberta-reranker";
    const json ref = read_json(dir / "reference.json");
    auto model = load(dir);
    ASSERT_TRUE(model);
    ASSERT_EQ(hfk_model_num_labels(model.get()), 1);
    for (size_t i = 0; i < 3; ++i) {
        const std::string text = ref["texts"][i].get<std::string>();
        float logit = 0;
        ASSERT_EQ(hfk_model_classify_logits(model.get(), text.c_str(), &logit, 1), HFK_OK)
            << hfk_last_error_message();
        EXPECT_NEAR(logit, ref["logits"][i][0].get<double>(), 1e-4) << "text " << i;
    }
    float none[1];
    EXPECT_EQ(hfk_model_classify_logits(model.get(), "w9", none, 0), HFK_E_BUFFER_TOO_SMALL);
    EXPECT_EQ(hfk_model_classify_logits(model.get(), nullptr, none, 1), HFK_E_INVALID_ARG);
    EXPECT_EQ(hfk_model_classify_logits(nullptr, "w9", none, 1), HFK_E_INVALID_ARG);
}

TEST(EncoderZooApi, LogitsWithoutAHeadAreUnsupported) {
    ASSERT_FALSE(encoder_zoo().empty()) << "HFK_ENCODER_ZOO_DIR is not set";
    auto model = load(encoder_zoo() / "roberta-st-mean");
    ASSERT_TRUE(model);
    float z[4];
    EXPECT_EQ(hfk_model_classify_logits(model.get(), "w9", z, 4), HFK_E_UNSUPPORTED);
}

TEST(EncoderZooApi, BadPoolingAndNormalizeValuesAreRefused) {
    ASSERT_FALSE(encoder_zoo().empty()) << "HFK_ENCODER_ZOO_DIR is not set";
    auto model = load(encoder_zoo() / "bert-st-cls");
    ASSERT_TRUE(model);
    const char *texts[] = {"w9"};
    float out[64];
    hfk_embed_params ep;
    HFK_EMBED_PARAMS_INIT(&ep);
    ep.pooling = 4;
    EXPECT_EQ(hfk_model_embed(model.get(), texts, 1, &ep, out, 64), HFK_E_INVALID_ARG);
    ep.pooling = HFK_POOLING_MODEL;
    ep.normalize = 2;
    EXPECT_EQ(hfk_model_embed(model.get(), texts, 1, &ep, out, 64), HFK_E_INVALID_ARG);
}

// A repository whose sentence-transformers pipeline hfkit cannot reproduce (weighted-mean
// pooling) refuses the default pooling, and still embeds with an explicit one.
TEST(EncoderZooApi, AnUnreproduciblePipelineNeedsAnExplicitPooling) {
    ASSERT_FALSE(encoder_zoo().empty()) << "HFK_ENCODER_ZOO_DIR is not set";
    TempDir tmp;
    const fs::path src = encoder_zoo() / "bert-st-cls";
    for (const char *f : {"config.json", "model.safetensors", "tokenizer.json", "modules.json"})
        fs::create_symlink(src / f, tmp.path / f);
    fs::create_directory(tmp.path / "1_Pooling");
    std::ofstream(tmp.path / "1_Pooling" / "config.json")
        << R"({"pooling_mode_weightedmean_tokens": true, "pooling_mode_cls_token": false})";
    auto model = load(tmp.path);
    ASSERT_TRUE(model);
    const char *texts[] = {"w9"};
    float out[64];
    hfk_embed_params ep;
    HFK_EMBED_PARAMS_INIT(&ep);
    EXPECT_EQ(hfk_model_embed(model.get(), texts, 1, &ep, out, 64), HFK_E_UNSUPPORTED);
    EXPECT_NE(std::string(hfk_last_error_message()).find("weightedmean"), std::string::npos)
        << hfk_last_error_message();
    ep.pooling = HFK_POOLING_MEAN;
    EXPECT_EQ(hfk_model_embed(model.get(), texts, 1, &ep, out, 64), HFK_OK)
        << hfk_last_error_message();
}

}  // namespace
