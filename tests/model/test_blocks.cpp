// The shared decoder blocks against direct scalar definitions: attention with a masked sliding
// window and a score soft-cap (prefill in blocks of 64 rows and one row at a time), partial
// rotary, gated activations.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "models/decoder.h"

using namespace hfk;

namespace {

// softmax over the keys row p may see: (p - window, p] (all of [0, p] when window is 0).
std::vector<float> naive_attention(const std::vector<float> &q, int64_t m, int64_t p0,
                                   const std::vector<float> &k, const std::vector<float> &v,
                                   const kern::AttentionShape &s, float scale, int64_t window,
                                   float cap) {
    const int64_t hd = s.head_dim, qs = s.n_heads * hd, ks = s.n_kv_heads * hd;
    std::vector<float> out(size_t(m * qs), 0.0f);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t h = 0; h < s.n_heads; ++h) {
            const int64_t g = h / (s.n_heads / s.n_kv_heads), pos = p0 + i;
            const int64_t lo = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
            std::vector<double> w;
            double mx = -1e300;
            for (int64_t t = lo; t <= pos; ++t) {
                double d = 0;
                for (int64_t j = 0; j < hd; ++j)
                    d += double(q[size_t(i * qs + h * hd + j)]) * k[size_t(t * ks + g * hd + j)];
                d *= scale;
                if (cap > 0) d = cap * std::tanh(d / cap);
                w.push_back(d);
                mx = std::max(mx, d);
            }
            double sum = 0;
            for (double &x : w) sum += (x = std::exp(x - mx));
            for (int64_t t = lo; t <= pos; ++t)
                for (int64_t j = 0; j < hd; ++j)
                    out[size_t(i * qs + h * hd + j)] +=
                        float(w[size_t(t - lo)] / sum * v[size_t(t * ks + g * hd + j)]);
        }
    return out;
}

TEST(Blocks, WindowedSoftCappedAttentionMatchesTheDefinition) {
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.5f);
    const kern::AttentionShape s{4, 2, 8};
    const int64_t p0 = 5, m = 70, n = p0 + m;  // more rows than one 64-row block
    std::vector<float> q(size_t(m * 32)), k(size_t(n * 16)), v(size_t(n * 16));
    for (float &x : q) x = nd(rng);
    for (float &x : k) x = nd(rng);
    for (float &x : v) x = nd(rng);
    for (int64_t window : {0, 1, 3, 64})
        for (float cap : {0.0f, 0.7f}) {
            SCOPED_TRACE("window " + std::to_string(window) + " cap " + std::to_string(cap));
            const std::vector<float> want = naive_attention(q, m, p0, k, v, s, 0.3f, window, cap);
            std::vector<float> got(want.size());
            kern::attention(q.data(), m, p0, k.data(), v.data(), 16, n, s, true, 0.3f,
                            kern::AttentionOptions{window, cap}, got.data(), 2);
            for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4) << i;
            for (int64_t i = 0; i < m; ++i) {  // decode: one row at a time
                kern::attention(q.data() + i * 32, 1, p0 + i, k.data(), v.data(), 16, p0 + i + 1, s,
                                true, 0.3f, kern::AttentionOptions{window, cap},
                                got.data() + i * 32, 1);
            }
            for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-4) << i;
        }
}

TEST(Blocks, PartialRotaryLeavesTheTailAlone) {
    models::Rope r = models::make_rope(RopeScaling{}, 10000.0, 6);
    std::vector<float> cs, sn;
    r.tables(7, 1, cs, sn);
    std::vector<float> head{1, 2, 3, 4, 5, 6, 7, 8};  // head_dim 8, rotary over 6
    r.apply(head.data(), 1, 8, cs.data(), sn.data());
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    for (int j = 0; j < 3; ++j) {  // rotate_half over the first 6: pairs (j, j + 3)
        const double a = 7.0 / std::pow(10000.0, 2.0 * j / 6.0);
        EXPECT_NEAR(head[j], x[j] * std::cos(a) - x[j + 3] * std::sin(a), 1e-5);
        EXPECT_NEAR(head[j + 3], x[j + 3] * std::cos(a) + x[j] * std::sin(a), 1e-5);
    }
    EXPECT_EQ(head[6], 7.0f);
    EXPECT_EQ(head[7], 8.0f);
}

TEST(Blocks, GatedActivations) {
    const float g0[3] = {-1.5f, 0.25f, 2.0f}, up[3] = {2.0f, -1.0f, 0.5f};
    auto ref = [](models::Act a, float x) -> double {
        switch (a) {
            case models::Act::Silu:
                return x / (1 + std::exp(-double(x)));
            case models::Act::GeluErf:
                return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
            case models::Act::GeluTanh:
                return 0.5 * x *
                       (1 + std::tanh(std::sqrt(2 / M_PI) * (x + 0.044715 * double(x) * x * x)));
            case models::Act::Relu:
                return x > 0 ? x : 0;
        }
        return 0;
    };
    for (auto a :
         {models::Act::Silu, models::Act::GeluErf, models::Act::GeluTanh, models::Act::Relu}) {
        float g[3] = {g0[0], g0[1], g0[2]};
        models::gated_act(g, up, 3, a);
        for (int i = 0; i < 3; ++i) EXPECT_NEAR(g[i], ref(a, g0[i]) * up[i], 1e-6);
    }
    EXPECT_EQ(models::activation_from_config("gelu_pytorch_tanh"), models::Act::GeluTanh);
    EXPECT_EQ(models::activation_from_config(""), models::Act::Silu);
}

}  // namespace
