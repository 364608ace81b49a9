// The blocks models/common.h shares between architecture files (GPT-2 and Phi; the BERT-family
// encoders and ModernBERT) against direct scalar definitions: the activations, row-wise LayerNorm
// at 1 and 2 threads, the final LayerNorm + biased LM head of the last row or of every row, and
// the encoders' input checks with their statuses.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "models/common.h"
#include "util/error.h"

using namespace hfk;

namespace {

std::vector<float> random_vector(size_t n, unsigned seed, float lo = -3, float hi = 3) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> d(lo, hi);
    std::vector<float> v(n);
    for (float &x : v) x = d(gen);
    return v;
}

std::vector<double> naive_layernorm(const float *x, int64_t n, const std::vector<float> &w,
                                    const std::vector<float> &b, double eps) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[i];
    mean /= double(n);
    for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
    var /= double(n);
    std::vector<double> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        out[size_t(i)] = (x[i] - mean) / std::sqrt(var + eps) * w[size_t(i)] + b[size_t(i)];
    return out;
}

TEST(SharedBlocks, ActivationsAreTheirDefinitions) {
    const std::vector<float> x = random_vector(100, 1);
    auto check = [&](models::Act act, double (*f)(double)) {
        std::vector<float> y = x;
        models::activate(act, y.data(), int64_t(y.size()));
        for (size_t i = 0; i < x.size(); ++i) EXPECT_NEAR(y[i], f(x[i]), 2e-6) << i;
    };
    check(models::Act::Silu, [](double v) { return v / (1 + std::exp(-v)); });
    check(models::Act::GeluErf,
          [](double v) { return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); });
    check(models::Act::Relu, [](double v) { return v > 0 ? v : 0.0; });
    check(models::Act::GeluTanh, [](double v) {
        return 0.5 * v * (1 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    });
}

TEST(SharedBlocks, LayerNormRowsIsEachRowsLayerNormForAnyThreadCount) {
    const int64_t m = 40, dim = 24;  // >= 16 rows: for_rows really splits them
    const std::vector<float> x = random_vector(size_t(m * dim), 2), w = random_vector(dim, 3),
                             b = random_vector(dim, 4);
    std::vector<float> one(x.size()), two(x.size());
    models::layernorm_rows(one.data(), x.data(), m, dim, w, b, 1e-5f, 1);
    models::layernorm_rows(two.data(), x.data(), m, dim, w, b, 1e-5f, 2);
    EXPECT_EQ(one, two);
    for (int64_t i = 0; i < m; ++i) {
        const auto want = naive_layernorm(x.data() + i * dim, dim, w, b, 1e-5);
        for (int64_t j = 0; j < dim; ++j)
            EXPECT_NEAR(one[size_t(i * dim + j)], want[size_t(j)], 1e-4) << i << "," << j;
    }
}

TEST(SharedBlocks, FinalLayerNormLogitsOfTheLastRowOrOfEveryRow) {
    const int64_t m = 3, dim = 8, vocab = 5;
    const std::vector<float> x = random_vector(size_t(m * dim), 5), w = random_vector(dim, 6),
                             b = random_vector(dim, 7),
                             head = random_vector(size_t(vocab * dim), 8),
                             bias = random_vector(vocab, 9);
    const kern::Mat mat{DType::F32, head.data(), vocab, dim};
    auto want_row = [&](int64_t r, bool with_bias) {
        const auto n = naive_layernorm(x.data() + r * dim, dim, w, b, 1e-5);
        std::vector<double> out(static_cast<size_t>(vocab));
        for (int64_t v = 0; v < vocab; ++v) {
            double s = with_bias ? bias[size_t(v)] : 0;
            for (int64_t j = 0; j < dim; ++j) s += n[size_t(j)] * head[size_t(v * dim + j)];
            out[size_t(v)] = s;
        }
        return out;
    };
    for (bool with_bias : {false, true}) {
        std::vector<float> xb(static_cast<size_t>(m * dim)), last(static_cast<size_t>(vocab)),
            all(static_cast<size_t>(m * vocab));
        const std::vector<float> none;
        models::final_layernorm_logits(x.data(), m, false, dim, w, b, 1e-5f, mat,
                                       with_bias ? bias : none, xb.data(), last.data(), 1);
        models::final_layernorm_logits(x.data(), m, true, dim, w, b, 1e-5f, mat,
                                       with_bias ? bias : none, xb.data(), all.data(), 2);
        for (int64_t r = 0; r < m; ++r) {
            const auto want = want_row(r, with_bias);
            for (int64_t v = 0; v < vocab; ++v) {
                EXPECT_NEAR(all[size_t(r * vocab + v)], want[size_t(v)], 1e-4) << r << "," << v;
                if (r == m - 1) {
                    EXPECT_NEAR(last[size_t(v)], want[size_t(v)], 1e-4) << v;
                }
            }
        }
    }
}

int32_t status_of(std::vector<int32_t> ids, int64_t vocab, int64_t max_tokens) {
    try {
        models::check_encoder_ids(ids, vocab, max_tokens);
        return HFK_OK;
    } catch (const Error &e) {
        return e.status();
    }
}

TEST(SharedBlocks, EncoderIdChecksGiveTheirStatuses) {
    EXPECT_EQ(status_of({1, 2, 3}, 10, 3), HFK_OK);
    EXPECT_EQ(status_of({}, 10, 3), HFK_E_INVALID_ARG);
    EXPECT_EQ(status_of({1, 2, 3, 4}, 10, 3), HFK_E_CONTEXT_FULL);
    EXPECT_EQ(status_of({1, 10}, 10, 3), HFK_E_INVALID_ARG);
    EXPECT_EQ(status_of({-1}, 10, 3), HFK_E_INVALID_ARG);
}

}  // namespace

namespace {

int32_t sizes_status(int64_t hidden, int64_t heads, bool even) {
    ModelConfig c;
    c.hidden_size = hidden;
    c.num_heads = heads;
    c.intermediate_size = 12;
    c.max_position_embeddings = 20;
    c.vocab_size = 30;
    c.norm_eps = 1e-6;
    try {
        const auto [dim, n_heads, head_dim, ffn, vocab, n_pos, eps] =
            models::encoder_sizes(c, "test", even);
        EXPECT_EQ(dim, hidden);
        EXPECT_EQ(n_heads, heads);
        EXPECT_EQ(head_dim * heads, hidden);
        EXPECT_EQ(ffn, 12);
        EXPECT_EQ(vocab, 30);
        EXPECT_EQ(n_pos, 20);
        EXPECT_FLOAT_EQ(eps, 1e-6f);
        return HFK_OK;
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find("config.json: test sizes"), std::string::npos);
        return e.status();
    }
}

TEST(SharedBlocks, EncoderSizesAreCheckedTogether) {
    EXPECT_EQ(sizes_status(32, 4, true), HFK_OK);
    EXPECT_EQ(sizes_status(30, 4, false), HFK_E_FORMAT);  // not a multiple
    EXPECT_EQ(sizes_status(32, 0, false), HFK_E_FORMAT);
    EXPECT_EQ(sizes_status(12, 4, false), HFK_OK);       // head size 3
    EXPECT_EQ(sizes_status(12, 4, true), HFK_E_FORMAT);  // odd for RoPE
}

}  // namespace
