// Quantized weights (issue 18): the block formats against independent oracles (F16C for the F16
// rounding, dequantized values for the error bounds), and every instruction set's int8 kernel
// against the portable reference, bit for bit, at every alignment and odd sizes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "../support/test_support.h"
#include "kernels/simd.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

using namespace hfk;
using namespace hfk::kern;

using hfk_test::float_bits;
using hfk_test::random_values;

namespace {

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t hardware_f16(float f) {
    return uint16_t(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
#endif

const char *kIsas[] = {"scalar", "avx2", "avxvnni", "avx512vnni"};

}  // namespace

TEST(QuantFormat, F16RoundingMatchesF16C) {
#if defined(__x86_64__)
    if (!cpu_features().avx2_fma_f16c) GTEST_SKIP() << "no F16C";
    for (uint32_t h = 0; h < 65536; ++h) {  // every F16 value round-trips
        const float f = f16_to_f32(uint16_t(h));
        if (std::isnan(f)) continue;
        ASSERT_EQ(f32_to_f16(f), uint16_t(h)) << h;
    }
    std::mt19937 rng(7);
    std::uniform_int_distribution<uint32_t> any;
    for (int i = 0; i < 2000000; ++i) {
        uint32_t u = any(rng);
        float f;
        std::memcpy(&f, &u, 4);
        if (std::isnan(f)) continue;
        ASSERT_EQ(f32_to_f16(f), hardware_f16(f)) << std::hex << u;
    }
#else
    GTEST_SKIP() << "no F16C oracle";
#endif
}

TEST(QuantFormat, SizesAndPadding) {
    EXPECT_EQ(q_block_bytes(QType::Q8_0), 34u);
    EXPECT_EQ(q_block_bytes(QType::Q4_1), 20u);
    EXPECT_EQ(q_block_bytes(QType::Q4_1F), 24u);
    EXPECT_EQ(q_row_bytes(QType::Q8_0, 172), 6u * 34u);
    EXPECT_EQ(q_row_bytes(QType::Q4_1, 33), 2u * 20u);
}

// Dequantized weights are within half a step of the originals (plus the F16 rounding of the
// minimum for Q4_1), for rows that end in a partial block.
TEST(QuantFormat, RoundTripWithinHalfAStep) {
    for (QType t : {QType::Q8_0, QType::Q4_1, QType::Q4_1F}) {
        for (int64_t k : {1, 5, 31, 32, 33, 172, 1000}) {
            const std::vector<float> w = random_values(static_cast<size_t>(k), uint32_t(k), 0.05f);
            std::vector<uint8_t> q(q_row_bytes(t, k));
            quantize_row(t, w.data(), k, q.data());
            std::vector<float> back(static_cast<size_t>(k));
            dequantize_row(t, q.data(), k, back.data());
            for (int64_t b = 0; b < q_blocks(k); ++b) {
                float lo = 1e30f, hi = -1e30f, amax = 0;
                for (int64_t i = b * 32; i < std::min(k, b * 32 + 32); ++i) {
                    lo = std::min(lo, w[size_t(i)]);
                    hi = std::max(hi, w[size_t(i)]);
                    amax = std::max(amax, std::fabs(w[size_t(i)]));
                }
                const float step = t == QType::Q8_0 ? amax / 127 : (hi - lo) / 15;
                const float slack = t == QType::Q8_0
                                        ? 0.5f * step * (1 + 1e-3f)
                                        : 0.5f * step * (1 + 1e-3f) + std::fabs(lo) * 1e-3f;
                for (int64_t i = b * 32; i < std::min(k, b * 32 + 32); ++i)
                    ASSERT_LE(std::fabs(back[size_t(i)] - w[size_t(i)]), slack + 1e-7f)
                        << qtype_name(t) << " k " << k << " i " << i;
            }
        }
    }
}

// The scalar reference computes (up to float rounding) the dot product of the dequantized
// weights and the dequantized activations: an independent oracle in double.
TEST(QuantKernels, ReferenceEqualsDequantizedDot) {
    const QuantOps *ref = quant_ops_for("scalar");
    ASSERT_NE(ref, nullptr);
    for (QType t : {QType::Q8_0, QType::Q4_1, QType::Q4_1F}) {
        for (int64_t k : {7, 32, 64, 172, 576, 1000}) {
            const std::vector<float> w = random_values(static_cast<size_t>(k), 1, 0.05f),
                                     x = random_values(static_cast<size_t>(k), 2);
            std::vector<uint8_t> wq(q_row_bytes(t, k));
            quantize_row(t, w.data(), k, wq.data());
            const int64_t nb = q_blocks(k);
            std::vector<int8_t> xq(static_cast<size_t>(nb * 32));
            std::vector<float> xd(static_cast<size_t>(nb)), xs(static_cast<size_t>(nb)),
                wf(static_cast<size_t>(k));
            quantize_acts(x.data(), k, xq.data(), xd.data(), xs.data());
            dequantize_row(t, wq.data(), k, wf.data());
            double expect = 0, mag = 0;
            for (int64_t i = 0; i < k; ++i) {
                const double xv = double(xd[size_t(i / 32)]) * xq[size_t(i)];
                expect += double(wf[size_t(i)]) * xv;
                mag += std::fabs(double(wf[size_t(i)]) * xv);
            }
            float y = 0;
            ref->dot_rows(t, wq.data(), wq.size(), 1, QActs{xq.data(), xd.data(), xs.data(), nb},
                          &y);
            EXPECT_NEAR(y, expect, 1e-5 * mag + 1e-7) << qtype_name(t) << " k " << k;
        }
    }
}

// Every instruction set this CPU has gives the reference's bits: row lengths with odd block
// counts and partial blocks, odd row counts, weights and activations at every offset in a line.
TEST(QuantKernels, EveryIsaEqualsReferenceBitForBit) {
    const QuantOps *ref = quant_ops_for("scalar");
    int tested = 0;
    for (const char *isa : kIsas) {
        const QuantOps *ops = quant_ops_for(isa);
        if (!ops || ops == ref) continue;
        ++tested;
        for (QType t : {QType::Q8_0, QType::Q4_1, QType::Q4_1F}) {
            for (int64_t k : {1, 31, 32, 33, 64, 96, 172, 320, 2048}) {
                const int64_t rows = 5, nb = q_blocks(k);
                const size_t rb = q_row_bytes(t, k);
                const std::vector<float> w =
                    random_values(static_cast<size_t>(rows * k), uint32_t(k), 0.05f);
                const std::vector<float> x = random_values(static_cast<size_t>(k), uint32_t(k + 1));
                for (size_t woff = 0; woff < 64; woff += (k > 300 ? 7 : 1)) {
                    std::vector<uint8_t> wbuf(rb * rows + 64);
                    for (int64_t r = 0; r < rows; ++r)
                        quantize_row(t, w.data() + r * k, k, wbuf.data() + woff + size_t(r) * rb);
                    const size_t xoff = (woff * 5) % 64;
                    std::vector<int8_t> qbuf(static_cast<size_t>(nb * 32) + 64);
                    std::vector<float> xd(static_cast<size_t>(nb)), xs(static_cast<size_t>(nb));
                    quantize_acts(x.data(), k, qbuf.data() + xoff, xd.data(), xs.data());
                    const QActs a{qbuf.data() + xoff, xd.data(), xs.data(), nb};
                    float want[rows], got[rows];
                    ref->dot_rows(t, wbuf.data() + woff, rb, rows, a, want);
                    ops->dot_rows(t, wbuf.data() + woff, rb, rows, a, got);
                    for (int64_t r = 0; r < rows; ++r) {
                        ASSERT_EQ(float_bits(got[r]), float_bits(want[r]))
                            << isa << " " << qtype_name(t) << " k " << k << " row " << r
                            << " offset " << woff << ": " << got[r] << " vs " << want[r];
                    }
                }
            }
        }
    }
    if (cpu_features().avx2_fma_f16c) {
        EXPECT_GE(tested, 1);
    }
    std::printf("quant kernels tested against the reference: %d (dispatch: %s)\n", tested,
                quant_isa());
}

// Extreme activations and weights: +-127 everywhere (the vpmaddubsw pair sums reach 32258,
// below int16 saturation) still match the reference.
TEST(QuantKernels, ExtremeValuesDoNotSaturate) {
    const QuantOps *ref = quant_ops_for("scalar");
    for (const char *isa : kIsas) {
        const QuantOps *ops = quant_ops_for(isa);
        if (!ops || ops == ref) continue;
        for (QType t : {QType::Q8_0, QType::Q4_1, QType::Q4_1F}) {
            const int64_t k = 128;
            std::vector<float> w(static_cast<size_t>(k)), x(static_cast<size_t>(k));
            for (int64_t i = 0; i < k; ++i) {
                w[size_t(i)] = (i % 3 == 0) ? -1.0f : 1.0f;
                x[size_t(i)] = (i % 5 == 0) ? -2.0f : 2.0f;
            }
            std::vector<uint8_t> wq(q_row_bytes(t, k));
            quantize_row(t, w.data(), k, wq.data());
            std::vector<int8_t> xq(static_cast<size_t>(k));
            std::vector<float> xd(4), xs(4);
            quantize_acts(x.data(), k, xq.data(), xd.data(), xs.data());
            const QActs a{xq.data(), xd.data(), xs.data(), 4};
            float want = 0, got = 0;
            ref->dot_rows(t, wq.data(), wq.size(), 1, a, &want);
            ops->dot_rows(t, wq.data(), wq.size(), 1, a, &got);
            EXPECT_EQ(float_bits(got), float_bits(want)) << isa << " " << qtype_name(t);
            double expect = 0;
            for (int64_t i = 0; i < k; ++i) expect += double(w[size_t(i)]) * x[size_t(i)];
            EXPECT_NEAR(want, expect, 1e-3 * k) << qtype_name(t);
        }
    }
}

// linear() on a quantized matrix: the same bits for every thread count, decode (1 row) and
// prefill (many rows) alike, and each output equals the single-row product; and the
// dequantize-then-F32 reference mode agrees within 1e-4 (relative to the magnitudes).
TEST(QuantLinear, ThreadCountsRowsAndReference) {
    for (QType t : {QType::Q8_0, QType::Q4_1, QType::Q4_1F}) {
        const int64_t n = 200, k = 172;
        const std::vector<float> w = random_values(static_cast<size_t>(n * k), 3, 0.05f);
        std::vector<uint8_t> wq(q_row_bytes(t, k) * n);
        for (int64_t r = 0; r < n; ++r)
            quantize_row(t, w.data() + r * k, k, wq.data() + size_t(r) * q_row_bytes(t, k));
        Mat m;
        m.data = wq.data();
        m.rows = n;
        m.cols = k;
        m.quant = t;
        m.qlayout = Layout::OutIn;
        const std::vector<float> bias = random_values(static_cast<size_t>(n), 4);
        for (int64_t rows : {1, 3, 9, 33}) {
            const std::vector<float> x =
                random_values(static_cast<size_t>(rows * k), uint32_t(5 + rows));
            std::vector<float> y1(static_cast<size_t>(rows * n));
            linear(m, Layout::OutIn, x.data(), rows, bias.data(), y1.data(), 1);
            for (int threads : {2, 3, 4}) {
                std::vector<float> yt(static_cast<size_t>(rows * n));
                linear(m, Layout::OutIn, x.data(), rows, bias.data(), yt.data(), threads);
                ASSERT_EQ(0, std::memcmp(y1.data(), yt.data(), yt.size() * 4))
                    << qtype_name(t) << " rows " << rows << " threads " << threads;
            }
            for (int64_t i = 0; i < rows; ++i) {  // row i alone: the same bits
                std::vector<float> yi(static_cast<size_t>(n));
                linear(m, Layout::OutIn, x.data() + i * k, 1, bias.data(), yi.data(), 2);
                ASSERT_EQ(0, std::memcmp(yi.data(), y1.data() + i * n, size_t(n) * 4));
            }
            set_quantized_reference(true);
            std::vector<float> yr(static_cast<size_t>(rows * n));
            linear(m, Layout::OutIn, x.data(), rows, bias.data(), yr.data(), 2);
            set_quantized_reference(false);
            for (size_t i = 0; i < yr.size(); ++i)
                ASSERT_NEAR(y1[i], yr[i], 1e-4 * std::max(1.0f, std::fabs(yr[i])))
                    << qtype_name(t) << " " << i;
        }
    }
}

namespace {

// quantize_row's values as first written, with a libm nearbyint per weight: the definition the
// faster rounding (quant.cpp, round_clamped) must keep bit for bit.
std::vector<uint8_t> quantize_row_nearbyint(QType t, const std::vector<float> &x) {
    const int64_t k = int64_t(x.size()), nb = q_blocks(k);
    const size_t bb = q_block_bytes(t);
    std::vector<uint8_t> out(size_t(nb) * bb);
    for (int64_t b = 0; b < nb; ++b) {
        uint8_t *o = out.data() + size_t(b) * bb;
        const int64_t n = std::min<int64_t>(kQBlock, k - b * kQBlock);
        float v[kQBlock] = {};
        for (int64_t i = 0; i < n; ++i) v[i] = x[size_t(b * kQBlock + i)];
        if (t == QType::Q8_0) {
            float amax = 0;
            for (float f : v) amax = std::max(amax, std::fabs(f));
            const uint16_t dh = f32_to_f16(amax / 127.0f);
            const float d = f16_to_f32(dh), id = d != 0 ? 1.0f / d : 0.0f;
            std::memcpy(o, &dh, 2);
            for (int i = 0; i < kQBlock; ++i)
                o[2 + i] = uint8_t(int8_t(std::clamp(std::nearbyint(v[i] * id), -127.0f, 127.0f)));
        } else {
            float lo = v[0], hi = v[0];
            for (int64_t i = 1; i < n; ++i) lo = std::min(lo, v[i]), hi = std::max(hi, v[i]);
            const uint16_t dh = f32_to_f16((hi - lo) / 15.0f), mh = f32_to_f16(lo);
            const float d = f16_to_f32(dh), m = f16_to_f32(mh), id = d != 0 ? 1.0f / d : 0.0f;
            std::memcpy(o, &dh, 2);
            std::memcpy(o + 2, &mh, 2);
            uint8_t q[kQBlock];
            for (int64_t i = 0; i < kQBlock; ++i)
                q[i] =
                    i < n ? uint8_t(std::clamp(std::nearbyint((v[i] - m) * id), 0.0f, 15.0f)) : 0;
            for (int j = 0; j < 16; ++j) o[4 + j] = uint8_t(q[j] | (q[j + 16] << 4));
        }
    }
    return out;
}

}  // namespace

// Ties (blocks whose step is exactly 1, so x.5 values round half to even), every scale from tiny
// to large, partial blocks: quantize_row gives the bytes of the nearbyint definition.
TEST(QuantRow, RoundsAsNearbyintOnTiesAndAtEveryScale) {
    std::vector<std::vector<float>> rows;
    // Q8_0: amax 127 makes d = 1 (exact in F16): v * id = v. Q4_1: lo 0, hi 15 makes d = 1, m = 0.
    rows.push_back({127, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 126.5f, -126.5f, 3.4999998f, 63.5f,
                    -63.5f, 0, -0.0f, 100.5f, 101.5f});
    rows.push_back({0, 15, 0.5f, 1.5f, 2.5f, 13.5f, 14.5f, 7.5f, 8.5f, 0.49999997f, 6.5f});
    // Signed zeros as a block's minimum or maximum (the reference keeps the first it meets).
    rows.push_back({-0.0f, 0, 3, 1, 2});
    rows.push_back({0, -0.0f, 3, 1, 2});
    rows.push_back({-0.0f, 0, -3, -1, -2});
    rows.push_back({0, -0.0f, -3, -1, -2});
    rows.push_back(std::vector<float>(40, 0.0f));
    rows.push_back(std::vector<float>(40, -0.0f));
    std::mt19937 rng(5);
    for (float scale : {1e-7f, 1e-4f, 0.02f, 1.0f, 300.0f, 6e4f})
        for (int64_t k : {7, 32, 33, 100, 576}) {
            std::normal_distribution<float> dist(0, scale);
            std::vector<float> row(static_cast<size_t>(k));
            for (float &v : row) v = dist(rng);
            rows.push_back(row);
        }
    for (QType t : {QType::Q8_0, QType::Q4_1})
        for (const std::vector<float> &row : rows) {
            std::vector<uint8_t> got(q_row_bytes(t, int64_t(row.size())));
            quantize_row(t, row.data(), int64_t(row.size()), got.data());
            EXPECT_EQ(got, quantize_row_nearbyint(t, row))
                << (t == QType::Q8_0 ? "Q8_0" : "Q4_1") << ", " << row.size() << " values from "
                << row[0];
            // quantize_row is the AVX-512 version where the kernels are avx512vnni.
            std::vector<uint8_t> ref(got.size());
            quantize_row_reference(t, row.data(), int64_t(row.size()), ref.data());
            EXPECT_EQ(got, ref) << quant_isa() << ", " << row.size() << " values from " << row[0];
        }
}
