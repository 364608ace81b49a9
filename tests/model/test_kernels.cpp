// Kernels: every instruction set against a double-precision scalar reference, for each weight type
// and for lengths that exercise the vector tails; thread-count independence of linear().
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/simd.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

using namespace hfk;
using namespace hfk::kern;

namespace {

uint16_t to_bf16(float f) {  // truncation is enough for test data
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return uint16_t(u >> 16);
}

// Weights of `type` holding random values, and their exact F32 values.
struct TestMatrix {
    DType type;
    std::vector<float> f32;      // exact values
    std::vector<uint16_t> half;  // storage for F16/BF16
    const void *data() const { return type == DType::F32 ? (const void *)f32.data() : half.data(); }
};

TestMatrix make_matrix(DType type, size_t n, std::mt19937 &rng) {
    std::normal_distribution<float> dist(0, 1);
    TestMatrix m{type, std::vector<float>(n), {}};
    if (type != DType::F32) m.half.resize(n);
    for (size_t i = 0; i < n; ++i) {
        float v = dist(rng);
        if (type == DType::BF16) {
            m.half[i] = to_bf16(v);
            m.f32[i] = bf16_to_f32(m.half[i]);
        } else if (type == DType::F16) {
            // Values exactly representable in F16: multiples of 1/1024 in (-2, 2).
            int q = int(std::lround(v * 1024.0f));
            q = std::max(-2047, std::min(2047, q));  // 11 significant bits: exact in F16
            float e = float(q) / 1024.0f;
            // Encode through a table of every finite F16 value (exact for these values).
            static const std::map<float, uint16_t> table = [] {
                std::map<float, uint16_t> t;
                for (uint32_t c = 0; c < 65536; ++c) {
                    float f = f16_to_f32(uint16_t(c));
                    if (std::isfinite(f)) t.emplace(f, uint16_t(c));
                }
                return t;
            }();
            m.half[i] = table.at(e);
            m.f32[i] = e;
        } else {
            m.f32[i] = v;
        }
    }
    return m;
}

std::vector<const char *> isas() {
    std::vector<const char *> out;
    for (const char *isa : {"scalar", "avx2", "avx512"})
        if (simd_for(isa)) out.push_back(isa);
    return out;
}

}  // namespace

TEST(Kernels, F16DecoderMatchesHardware) {
#if defined(__x86_64__)
    if (!simd_for("avx2")) GTEST_SKIP() << "no F16C";
    std::vector<uint16_t> all(65536);
    for (uint32_t i = 0; i < 65536; ++i) all[i] = uint16_t(i);
    std::vector<float> hw(65536);
    simd_for("avx2")->to_f32(DType::F16, all.data(), 65536, hw.data());
    for (uint32_t i = 0; i < 65536; ++i) {
        float sw = f16_to_f32(uint16_t(i));
        if (std::isnan(sw))
            EXPECT_TRUE(std::isnan(hw[i])) << i;
        else
            EXPECT_EQ(std::memcmp(&sw, &hw[i], 4), 0) << "f16 bits " << i;
    }
#else
    GTEST_SKIP();
#endif
}

// The AVX-512 kernels take a row's elements before its first 64-byte boundary separately (a
// checkpoint's tensors start at any 8-, 4- or 2-byte offset): every offset within a line, with
// rows that are whole lines and rows that are not, shorter and longer than that head.
TEST(Kernels, DotRowsAndAxpyRowsAtEveryOffsetInACacheLine) {
    std::mt19937 rng(7);
    for (DType type : {DType::F32, DType::F16, DType::BF16}) {
        const size_t elem = compute_elem_size(type);
        for (int64_t k : {3, 16, 31, 48, 100, 576}) {
            const int64_t rows = 9;
            const TestMatrix w = make_matrix(type, size_t(rows * k), rng);
            std::vector<float> x(size_t(std::max(k, rows)));
            std::normal_distribution<float> dist(0, 1);
            for (float &v : x) v = dist(rng);
            const size_t bytes = size_t(rows * k) * elem;
            std::vector<uint8_t> buf(bytes + 128);
            const uintptr_t line = (reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63);
            for (size_t off = 0; off < 64; off += elem) {
                uint8_t *at = reinterpret_cast<uint8_t *>(line) + off;
                std::memcpy(at, w.data(), bytes);
                for (const char *isa : isas()) {
                    const SimdOps &ops = *simd_for(isa);
                    std::vector<float> y(static_cast<size_t>(rows)), z(static_cast<size_t>(k));
                    ops.dot_rows(type, at, k, rows, x.data(), k, y.data(), 1);
                    ops.axpy_rows(type, at, k, rows, x.data(), k, z.data(), 1);
                    for (int64_t r = 0; r < rows; ++r) {
                        double ref = 0;
                        for (int64_t i = 0; i < k; ++i)
                            ref += double(w.f32[size_t(r * k + i)]) * x[size_t(i)];
                        ASSERT_NEAR(y[size_t(r)], ref, 1e-4 * (1 + std::fabs(ref)))
                            << isa << " k=" << k << " offset " << off;
                    }
                    for (int64_t j = 0; j < k; ++j) {
                        double ref = 0;
                        for (int64_t r = 0; r < rows; ++r)
                            ref += double(x[size_t(r)]) * w.f32[size_t(r * k + j)];
                        ASSERT_NEAR(z[size_t(j)], ref, 1e-4 * (1 + std::fabs(ref)))
                            << isa << " n=" << k << " offset " << off;
                    }
                }
            }
        }
    }
}

TEST(Kernels, DotRowsAndAxpyRowsEveryIsaAndType) {
    std::mt19937 rng(42);
    for (DType type : {DType::F32, DType::F16, DType::BF16}) {
        for (int64_t k : {1, 7, 16, 33, 64, 100}) {
            const int64_t rows = 11;
            TestMatrix w = make_matrix(type, size_t(rows * k), rng);
            std::vector<float> x(size_t(std::max(k, rows)));
            std::normal_distribution<float> dist(0, 1);
            for (float &v : x) v = dist(rng);
            for (const char *isa : isas()) {
                const SimdOps &ops = *simd_for(isa);
                std::vector<float> y(static_cast<size_t>(rows));
                ops.dot_rows(type, w.data(), k, rows, x.data(), k, y.data(), 1);
                for (int64_t r = 0; r < rows; ++r) {
                    double ref = 0;
                    for (int64_t i = 0; i < k; ++i)
                        ref += double(w.f32[size_t(r * k + i)]) * x[size_t(i)];
                    EXPECT_NEAR(y[size_t(r)], ref, 1e-4 * (1 + std::fabs(ref)))
                        << isa << " k=" << k;
                }
                // The same storage read as [rows, k] = [k_rows, n]: y[j] = sum_r x[r] W[r, j].
                std::vector<float> z(static_cast<size_t>(k));
                ops.axpy_rows(type, w.data(), k, rows, x.data(), k, z.data(), 1);
                for (int64_t j = 0; j < k; ++j) {
                    double ref = 0;
                    for (int64_t r = 0; r < rows; ++r)
                        ref += double(x[size_t(r)]) * w.f32[size_t(r * k + j)];
                    EXPECT_NEAR(z[size_t(j)], ref, 1e-4 * (1 + std::fabs(ref)))
                        << isa << " n=" << k;
                }
                std::vector<float> conv(size_t(rows * k));
                ops.to_f32(type, w.data(), rows * k, conv.data());
                EXPECT_EQ(conv, w.f32) << isa;
            }
        }
    }
}

TEST(Kernels, ExpAccuracyAndLimits) {
    std::vector<float> xs;
    for (float v = -110.0f; v < 90.0f; v += 0.0137f) xs.push_back(v);
    xs.push_back(-INFINITY);
    xs.push_back(INFINITY);
    for (const char *isa : isas()) {
        std::vector<float> y = xs;
        simd_for(isa)->exp(y.data(), int64_t(y.size()));
        for (size_t i = 0; i < xs.size(); ++i) {
            double ref = std::exp(double(xs[i]));
            if (xs[i] < -87.0f) {  // flushed to 0 or clamped near FLT_MIN
                EXPECT_LE(y[i], 2e-38f) << isa << " x=" << xs[i];
            } else if (xs[i] > 88.7f) {
                EXPECT_TRUE(std::isinf(y[i]) || y[i] > 3e38f) << isa << " x=" << xs[i];
            } else {
                EXPECT_NEAR(y[i] / ref, 1.0, 4e-7) << isa << " x=" << xs[i];
            }
        }
        float nan = NAN;
        simd_for(isa)->exp(&nan, 1);
        EXPECT_TRUE(std::isnan(nan)) << isa;
    }
}

// softmax's two passes: max over any length (tails of every size), and exp(x - shift) written
// back with its sum, against double references, for every instruction set.
TEST(Kernels, MaxExpSumAndScaleEveryLength) {
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-30.0f, 10.0f);
    for (const char *isa : isas()) {
        const SimdOps &ops = *simd_for(isa);
        for (int64_t n = 1; n <= 70; ++n) {
            std::vector<float> x(static_cast<size_t>(n));
            for (float &v : x) v = u(rng);
            x[size_t(rng() % n)] = 12.5f;  // the max, anywhere including the tail
            EXPECT_EQ(ops.max(x.data(), n), 12.5f) << isa << " n=" << n;
            std::vector<float> y = x;
            const double sum = ops.exp_sum(y.data(), n, 12.5f);
            double ref_sum = 0;
            for (int64_t i = 0; i < n; ++i) {
                const double ref = std::exp(double(x[size_t(i)] - 12.5f));  // float subtraction
                ref_sum += ref;
                EXPECT_NEAR(y[size_t(i)], ref, 4e-7 * ref + 1e-30) << isa << " n=" << n;
            }
            EXPECT_NEAR(sum, ref_sum, 1e-6 * ref_sum) << isa << " n=" << n;
            // scale: one rounded product each, every element (the tails too), nothing past n.
            std::vector<float> z = x;
            z.push_back(7.0f);
            ops.scale(z.data(), n, 0.3f);
            for (int64_t i = 0; i < n; ++i)
                EXPECT_EQ(z[size_t(i)], x[size_t(i)] * 0.3f) << isa << " n=" << n << " i=" << i;
            EXPECT_EQ(z[size_t(n)], 7.0f) << isa << " n=" << n;
        }
    }
}

// linear(): the matrix-vector path (<= 4 rows) and the sgemm path agree with a double reference,
// for both layouts and every type, and the result does not depend on the thread count.
TEST(Kernels, LinearBothPathsBothLayoutsThreadIndependent) {
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0, 1);
    const int64_t n_out = 300, n_in = 70;
    for (DType type : {DType::F32, DType::F16, DType::BF16}) {
        TestMatrix w = make_matrix(type, size_t(n_out * n_in), rng);
        std::vector<float> bias(static_cast<size_t>(n_out));
        for (float &b : bias) b = dist(rng);
        for (Layout layout : {Layout::OutIn, Layout::InOut}) {
            Mat mat = layout == Layout::OutIn ? Mat{type, w.data(), n_out, n_in}
                                              : Mat{type, w.data(), n_in, n_out};
            for (int64_t m : {1, 3, 9}) {
                std::vector<float> x(size_t(m * n_in));
                for (float &v : x) v = dist(rng);
                std::vector<float> y1(size_t(m * n_out)), y3(y1.size());
                linear(mat, layout, x.data(), m, bias.data(), y1.data(), 1);
                linear(mat, layout, x.data(), m, bias.data(), y3.data(), 3);
                EXPECT_EQ(std::memcmp(y1.data(), y3.data(), y1.size() * 4), 0)
                    << "thread count changed bits";
                for (int64_t i = 0; i < m; ++i)
                    for (int64_t j = 0; j < n_out; ++j) {
                        double ref = bias[size_t(j)];
                        for (int64_t k = 0; k < n_in; ++k) {
                            float wv = layout == Layout::OutIn ? w.f32[size_t(j * n_in + k)]
                                                               : w.f32[size_t(k * n_out + j)];
                            ref += double(x[size_t(i * n_in + k)]) * wv;
                        }
                        ASSERT_NEAR(y1[size_t(i * n_out + j)], ref, 2e-4 * (1 + std::fabs(ref)));
                    }
            }
        }
    }
}

TEST(Kernels, AttentionCausalMatchesNaive) {
    std::mt19937 rng(3);
    std::normal_distribution<float> dist(0, 1);
    const AttentionShape s{4, 2, 8};
    const int64_t p0 = 5, m = 70, n_keys = p0 + m, kv = s.n_kv_heads * s.head_dim,
                  qd = s.n_heads * s.head_dim;
    std::vector<float> q(size_t(m * qd)), k(size_t(n_keys * kv)), v(k.size());
    for (float *p : {q.data(), k.data(), v.data()})
        for (size_t i = 0; i < (p == q.data() ? q.size() : k.size()); ++i) p[i] = dist(rng);
    for (bool causal : {true, false}) {
        std::vector<float> out(size_t(m * qd)), out1(out.size());
        attention(q.data(), m, p0, k.data(), v.data(), kv, n_keys, s, causal, 0.3f, out.data(), 2);
        // Row by row (the decode path) must agree too.
        for (int64_t i = 0; i < m; ++i)
            attention(q.data() + i * qd, 1, p0 + i, k.data(), v.data(), kv,
                      causal ? p0 + i + 1 : n_keys, s, causal, 0.3f, out1.data() + i * qd, 1);
        for (int64_t i = 0; i < m; ++i)
            for (int64_t h = 0; h < s.n_heads; ++h) {
                const int64_t g = h / 2, len = causal ? p0 + i + 1 : n_keys;
                std::vector<double> sc(static_cast<size_t>(len));
                double mx = -1e300, sum = 0;
                for (int64_t t = 0; t < len; ++t) {
                    double d = 0;
                    for (int64_t e = 0; e < s.head_dim; ++e)
                        d += double(q[size_t(i * qd + h * s.head_dim + e)]) *
                             k[size_t(t * kv + g * s.head_dim + e)];
                    sc[size_t(t)] = d * 0.3;
                    mx = std::max(mx, sc[size_t(t)]);
                }
                for (double &x : sc) sum += (x = std::exp(x - mx));
                for (int64_t e = 0; e < s.head_dim; ++e) {
                    double ref = 0;
                    for (int64_t t = 0; t < len; ++t)
                        ref += sc[size_t(t)] / sum * v[size_t(t * kv + g * s.head_dim + e)];
                    ASSERT_NEAR(out[size_t(i * qd + h * s.head_dim + e)], ref, 1e-5);
                    ASSERT_NEAR(out1[size_t(i * qd + h * s.head_dim + e)], ref, 1e-5);
                }
            }
    }
}

// silu and silu_mul (four lanes at a time, then a scalar tail) give each element the bits of
// the one-element formula x / (1 + exp(-x)) (* up), exp being the table's, at every length
// around the lanes and the chunks of 256.
TEST(Kernels, SiluEveryLengthHasTheScalarFormulasBits) {
    std::mt19937 rng(17);
    std::normal_distribution<float> dist(0, 3);
    for (int64_t n : {1, 3, 4, 5, 255, 256, 257, 600}) {
        std::vector<float> x(static_cast<size_t>(n)), up(x.size());
        for (float &v : x) v = dist(rng);
        for (float &v : up) v = dist(rng);
        std::vector<float> want(x.size()), want_mul(x.size());
        for (size_t i = 0; i < x.size(); ++i) {
            float e = -x[i];
            hfk::kern::simd().exp(&e, 1);
            want[i] = x[i] / (1.0f + e);
            want_mul[i] = x[i] / (1.0f + e) * up[i];
        }
        std::vector<float> got = x, got_mul = x;
        hfk::kern::silu(got.data(), n);
        hfk::kern::silu_mul(got_mul.data(), up.data(), n);
        EXPECT_EQ(std::memcmp(got.data(), want.data(), 4 * x.size()), 0) << "silu, n " << n;
        EXPECT_EQ(std::memcmp(got_mul.data(), want_mul.data(), 4 * x.size()), 0)
            << "silu_mul, n " << n;
    }
}

TEST(Kernels, ArgmaxTakesTheFirstLargestAndSkipsNaN) {
    const float nan = std::numeric_limits<float>::quiet_NaN(),
                inf = std::numeric_limits<float>::infinity();
    auto at = [](std::vector<float> v) { return argmax(v.data(), int64_t(v.size())); };
    EXPECT_EQ(at({3.0f}), 0);
    EXPECT_EQ(at({1.0f, 2.0f, 0.5f, 2.0f}), 1);      // ties: the lower index
    EXPECT_EQ(at({1.0f, nan, 0.5f, 1.5f, nan}), 3);  // a NaN never wins...
    EXPECT_EQ(at({nan, 1.0f, 2.0f}), 0);             // ...unless it comes first
    EXPECT_EQ(at({-inf, -inf, -1e30f}), 2);
    EXPECT_EQ(at({-1.0f, -0.0f, 0.0f, -2.0f}), 1);  // -0 == +0: the first zero
    EXPECT_EQ(at({-inf, -inf}), 0);
    // Against the definition, over vocabulary-sized rows with the maximum anywhere.
    std::mt19937 rng(11);
    std::normal_distribution<float> dist(0, 3);
    for (int trial = 0; trial < 50; ++trial) {
        std::vector<float> v(size_t(49152 + trial));
        for (float &x : v) x = dist(rng);
        v[rng() % v.size()] = 20.0f + float(trial % 3);
        if (trial % 2) v[rng() % v.size()] = 20.0f + float(trial % 3);  // a tie somewhere
        size_t ref = 0;
        for (size_t i = 1; i < v.size(); ++i)
            if (v[i] > v[ref]) ref = i;
        ASSERT_EQ(at(v), int64_t(ref)) << "trial " << trial;
    }
}
