// hfk_model_rerank on the encoder zoo's cross-encoders (tests/model/zoo/make_encoders.py: BERT
// with token types, XLM-RoBERTa with a TemplateProcessing pair, RoBERTa, a two-label BERT and a
// three-label DistilBERT, ModernBERT) against the torch references of each (query, document)
// pair: sigmoid scores, raw logits, the truncation flags, at 1 and 2 threads; and the bad
// arguments (buffer too small, NULL documents, an activation out of range, a model without a
// classifier head).
#include <cmath>
#include <cstdlib>

#include "api_support.h"

namespace {

using namespace hfk_api_test;
namespace fs = std::filesystem;
using nlohmann::json;

struct Ranked {
    hfk_status status;
    std::vector<float> scores;
    std::vector<int32_t> truncated;
};

Ranked rerank(hfk_model *m, const std::string &query, const std::vector<std::string> &docs,
              int32_t activation, int32_t n_threads) {
    std::vector<const char *> ptrs;
    for (const auto &d : docs) ptrs.push_back(d.c_str());
    const size_t labels = size_t(hfk_model_num_labels(m));
    Ranked r{HFK_OK, std::vector<float>(docs.size() * labels, NAN),
             std::vector<int32_t>(docs.size(), -7)};
    hfk_rerank_params rp;
    HFK_RERANK_PARAMS_INIT(&rp);
    rp.activation = activation;
    rp.n_threads = n_threads;
    rp.truncated_out = r.truncated.data();
    r.status = hfk_model_rerank(m, query.c_str(), ptrs.data(), ptrs.size(), &rp, r.scores.data(),
                                r.scores.size());
    return r;
}

class RerankZoo : public ::testing::TestWithParam<const char *> {};

TEST_P(RerankZoo, PairScoresAndLogitsMatchTorch) {
    ASSERT_FALSE(encoder_zoo().empty()) << "HFK_ENCODER_ZOO_DIR is not set";
    const fs::path dir = encoder_zoo() / GetParam();
    const json ref = read_json(dir / "reference.json");
    ASSERT_TRUE(ref.contains("pairs")) << dir;
    auto model = load(dir);
    ASSERT_TRUE(model) << hfk_last_error_message();
    const size_t labels = size_t(hfk_model_num_labels(model.get()));
    ASSERT_GT(labels, 0u);
    size_t cut = 0;
    for (int32_t threads : {1, 2}) {
        for (const json &g : ref["pairs"]) {
            const auto docs = g["documents"].get<std::vector<std::string>>();
            const std::string query = g["query"].get<std::string>();
            const Ranked scores = rerank(model.get(), query, docs, -1, threads);
            const Ranked logits = rerank(model.get(), query, docs, 0, threads);
            ASSERT_EQ(scores.status, HFK_OK) << hfk_last_error_message();
            ASSERT_EQ(logits.status, HFK_OK) << hfk_last_error_message();
            for (size_t i = 0; i < docs.size(); ++i) {
                EXPECT_EQ(scores.truncated[i], g["truncated"][i].get<bool>() ? 1 : 0)
                    << GetParam() << " document " << i;
                cut += size_t(scores.truncated[i]);
                for (size_t j = 0; j < labels; ++j) {
                    EXPECT_NEAR(scores.scores[i * labels + j], g["scores"][i][j].get<double>(),
                                1e-4)
                        << GetParam() << " document " << i << " label " << j;
                    EXPECT_NEAR(logits.scores[i * labels + j], g["logits"][i][j].get<double>(),
                                1e-4)
                        << GetParam() << " document " << i << " label " << j;
                }
            }
        }
    }
    EXPECT_EQ(cut, 2u * 3u) << "each thread count cuts three pairs (see make_encoders.py)";
}

INSTANTIATE_TEST_SUITE_P(CrossEncoders, RerankZoo,
                         ::testing::Values("bert-reranker", "xlm-roberta-reranker",
                                           "roberta-reranker", "bert-classifier",
                                           "distilbert-st-max", "modernbert-biased",
                                           "modernbert-st-cls"),
                         [](const auto &info) {
                             std::string n = info.param;
                             for (char &c : n)
                                 if (c == '-') c = '_';
                             return n;
                         });

TEST(RerankApi, SigmoidOfEveryLogitWhenAsked) {
    ASSERT_FALSE(encoder_zoo().empty()) << "HFK_ENCODER_ZOO_DIR is not set";
    const fs::path dir = encoder_zoo() / "bert-classifier";
    const json ref = read_json(dir / "reference.json");
    auto model = load(dir);
    ASSERT_TRUE(model) << hfk_last_error_message();
    const json &g = ref["pairs"][0];
    const Ranked r = rerank(model.get(), g["query"].get<std::string>(),
                            g["documents"].get<std::vector<std::string>>(), 1, 1);
    ASSERT_EQ(r.status, HFK_OK) << hfk_last_error_message();
    for (size_t i = 0; i < r.truncated.size(); ++i)
        for (size_t j = 0; j < 2; ++j)
            EXPECT_NEAR(r.scores[i * 2 + j],
                        1.0 / (1.0 + std::exp(-g["logits"][i][j].get<double>())), 1e-5);
}

TEST(RerankApi, BadArgumentsAreRefusedWithAStatus) {
    ASSERT_FALSE(encoder_zoo().empty()) << "HFK_ENCODER_ZOO_DIR is not set";
    auto model = load(encoder_zoo() / "bert-reranker");
    ASSERT_TRUE(model) << hfk_last_error_message();
    const char *docs[] = {"w7 w8", "w9"};
    float scores[2] = {0, 0};
    EXPECT_EQ(hfk_model_rerank(model.get(), "w10", docs, 2, nullptr, scores, 1),
              HFK_E_BUFFER_TOO_SMALL);
    EXPECT_EQ(hfk_model_rerank(model.get(), "w10", nullptr, 2, nullptr, scores, 2),
              HFK_E_INVALID_ARG);
    EXPECT_EQ(hfk_model_rerank(model.get(), nullptr, docs, 2, nullptr, scores, 2),
              HFK_E_INVALID_ARG);
    EXPECT_EQ(hfk_model_rerank(nullptr, "w10", docs, 2, nullptr, scores, 2), HFK_E_INVALID_ARG);
    const char *with_null[] = {"w7", nullptr};
    EXPECT_EQ(hfk_model_rerank(model.get(), "w10", with_null, 2, nullptr, scores, 2),
              HFK_E_INVALID_ARG);
    hfk_rerank_params rp;
    HFK_RERANK_PARAMS_INIT(&rp);
    rp.activation = 2;
    EXPECT_EQ(hfk_model_rerank(model.get(), "w10", docs, 2, &rp, scores, 2), HFK_E_INVALID_ARG);
    // No documents: nothing to write, nothing needed.
    EXPECT_EQ(hfk_model_rerank(model.get(), "w10", docs, 0, nullptr, nullptr, 0), HFK_OK)
        << hfk_last_error_message();
    // The defaults (NULL params) are the sigmoid of the one logit: a probability.
    ASSERT_EQ(hfk_model_rerank(model.get(), "w10", docs, 2, nullptr, scores, 2), HFK_OK)
        << hfk_last_error_message();
    for (float s : scores) EXPECT_TRUE(s > 0 && s < 1) << s;

    auto plain = load(encoder_zoo() / "xlm-roberta-st-lasttoken");  // an embedding model, no head
    ASSERT_TRUE(plain) << hfk_last_error_message();
    EXPECT_EQ(hfk_model_rerank(plain.get(), "w10", docs, 2, nullptr, scores, 2), HFK_E_UNSUPPORTED);
}

}  // namespace
