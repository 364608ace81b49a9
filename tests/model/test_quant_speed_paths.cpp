// The fast paths of quantized products (issue 18, speed): the AVX-512 activation quantization
// against the portable definition, and every instruction set's many-row product (gemm: the
// prefill tiles and the decode stream) against the portable reference's dot products, row by
// row, bit for bit: odd block counts (a tail block), partial blocks, row and activation counts
// that leave every kind of tile remainder, outputs with a stride.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/quant.h"
#include "../support/test_support.h"

using namespace hfk::kern;

using hfk_test::float_bits;
using hfk_test::random_values;

TEST(QuantSpeedPaths, ActivationQuantizationEqualsReference) {
    if (std::strcmp(quant_isa(), "avx512vnni") != 0)
        GTEST_SKIP() << "quantize_acts is the reference itself on " << quant_isa();
    int checked = 0;
    for (int64_t k : {1, 5, 16, 17, 31, 32, 33, 100, 576, 1000, 1536}) {
        for (int variant = 0; variant < 4; ++variant) {
            std::vector<float> x = random_values(size_t(k), uint32_t(k * 4 + variant),
                                                 variant == 1   ? 1e-6f
                                                 : variant == 2 ? 300.0f
                                                                : 1.0f);
            if (variant == 3) {  // a zero block, exact halves (ties), the largest magnitudes
                for (int64_t i = 0; i < std::min<int64_t>(k, 32); ++i) x[size_t(i)] = 0.0f;
                for (int64_t i = 32; i < k; i += 3) x[size_t(i)] = float(i % 255 - 127) * 0.5f;
                if (k > 40) x[40] = std::numeric_limits<float>::max();
                if (k > 41) x[41] = -std::numeric_limits<float>::denorm_min();
            }
            const int64_t nb = q_blocks(k);
            std::vector<int8_t> q1(size_t(nb * 32), 99), q2(size_t(nb * 32), -99);
            std::vector<float> d1(static_cast<size_t>(nb)), d2(d1), s1(d1), s2(d1);
            quantize_acts_reference(x.data(), k, q1.data(), d1.data(), s1.data());
            quantize_acts(x.data(), k, q2.data(), d2.data(), s2.data());
            ASSERT_EQ(q1, q2) << "k " << k << " variant " << variant;
            for (int64_t b = 0; b < nb; ++b) {
                ASSERT_EQ(float_bits(d1[size_t(b)]), float_bits(d2[size_t(b)]))
                    << k << " block " << b;
                ASSERT_EQ(float_bits(s1[size_t(b)]), float_bits(s2[size_t(b)]))
                    << k << " block " << b;
            }
            ++checked;
        }
    }
    EXPECT_EQ(checked, 44);
}

TEST(QuantSpeedPaths, GemmEqualsReferenceDotRowsOnEveryIsa) {
    const QuantOps *ref = quant_ops_for("scalar");
    ASSERT_NE(ref, nullptr);
    int tested = 0;
    for (const char *isa : {"scalar", "avx2", "avxvnni", "avx512vnni"}) {
        const QuantOps *ops = quant_ops_for(isa);
        if (!ops) continue;
        ++tested;
        for (QType t : {QType::Q8_0, QType::Q4_1, QType::Q4_1F}) {
            for (int64_t k : {32, 33, 96, 172, 576}) {
                const int64_t nb = q_blocks(k);
                const size_t rb = q_row_bytes(t, k);
                for (int64_t rows : {1, 3, 4, 5, 17, 37}) {
                    const std::vector<float> w =
                        random_values(size_t(rows * k), uint32_t(k + rows), 0.05f);
                    std::vector<uint8_t> wq(rb * size_t(rows));
                    for (int64_t r = 0; r < rows; ++r)
                        quantize_row(t, w.data() + r * k, k, wq.data() + size_t(r) * rb);
                    for (int64_t m : {1, 2, 3, 4, 5, 8, 9, 70}) {
                        const std::vector<float> x =
                            random_values(size_t(m * k), uint32_t(m * 31 + k), 1.0f);
                        std::vector<int8_t> q(size_t(m * nb * 32));
                        std::vector<float> d(static_cast<size_t>(m * nb)), s(d);
                        std::vector<QActs> acts;
                        for (int64_t i = 0; i < m; ++i) {
                            quantize_acts(x.data() + i * k, k, q.data() + i * nb * 32,
                                          d.data() + i * nb, s.data() + i * nb);
                            acts.push_back(QActs{q.data() + i * nb * 32, d.data() + i * nb,
                                                 s.data() + i * nb, nb});
                        }
                        const int64_t ldy = rows + 3;
                        std::vector<float> got(size_t(m * ldy), -1.0f);
                        ops->gemm(t, wq.data(), rb, rows, acts.data(), m, got.data(), ldy);
                        for (int64_t i = 0; i < m; ++i) {
                            std::vector<float> want(static_cast<size_t>(rows));
                            ref->dot_rows(t, wq.data(), rb, rows, acts[size_t(i)], want.data());
                            for (int64_t r = 0; r < rows; ++r)
                                ASSERT_EQ(float_bits(got[size_t(i * ldy + r)]),
                                          float_bits(want[size_t(r)]))
                                    << isa << " " << qtype_name(t) << " k " << k << " rows " << rows
                                    << " m " << m << " at " << i << "," << r;
                            for (int64_t r = rows; r < ldy; ++r)  // the stride's gap untouched
                                ASSERT_EQ(got[size_t(i * ldy + r)], -1.0f);
                        }
                    }
                }
            }
        }
    }
    EXPECT_GE(tested, 1);
    std::printf("gemm tested on %d instruction sets (dispatch: %s)\n", tested, quant_isa());
}
