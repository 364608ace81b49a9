// Q8_0x16 and Q4_1x16 (kernels/quant.h, issues 18/19): Q8_0 and Q4_1 with 16 rows interleaved,
// the layout of the AVX-512 VNNI, AVX-VNNI and AVX2 kernels. The repacking keeps every weight,
// scale and minimum (dequantized rows equal the row-by-row type's, bit for bit); every instruction
// set's product equals this file's own reading of the definition -- per row, one exact int32 sum
// per block from the *row-by-row* bytes, then one fma per block (Q4: the minima in a sum of their
// own) -- bit for bit, for 1 to 70 activation rows (decode, the engine's batches, prefill chunks),
// odd block counts (a last block without a pair), partial blocks and outputs with a stride; a slice
// that would cut a group of 16 rows is refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#include "kernels/matmul.h"
#include "kernels/cpu.h"
#include "kernels/quant.h"
#include "kernels/quant_rows16.h"
#include "kernels/simd.h"
#include "util/error.h"
#include "../support/test_support.h"

using namespace hfk::kern;

using hfk_test::float_bits;
using hfk_test::random_values;

namespace {

struct Matrix {
    QType type, interleaved;
    int64_t rows, k;
    size_t rb;
    std::vector<uint8_t> bytes;    // row by row (Q8_0 or Q4_1)
    std::vector<uint8_t> bytes16;  // the same, interleaved
};

// The weights w (rows x k) quantized as `rowwise`, and interleaved.
Matrix matrix_of(QType rowwise, int64_t rows, int64_t k, const std::vector<float> &w) {
    Matrix m{rowwise,
             rowwise == QType::Q8_0 ? QType::Q8_0x16 : QType::Q4_1x16,
             rows,
             k,
             q_row_bytes(rowwise, k),
             {},
             {}};
    m.bytes.resize(m.rb * size_t(rows));
    for (int64_t r = 0; r < rows; ++r)
        quantize_row(rowwise, w.data() + r * k, k, m.bytes.data() + size_t(r) * m.rb);
    m.bytes16 = m.bytes;
    interleave_rows16(rowwise, m.bytes16.data(), rows, k);
    return m;
}

Matrix make_matrix(QType rowwise, int64_t rows, int64_t k, uint32_t seed) {
    return matrix_of(rowwise, rows, k, random_values(size_t(rows * k), seed, 0.05f));
}

struct Acts {
    std::vector<int8_t> q;
    std::vector<float> d, s;
    std::vector<int32_t> sums;
    std::vector<QActs> rows;
};

// The activations x (m x k), quantized. with_sums: the rows carry their blocks' sums of q
// (QActs::sums, as matmul.cpp quantizes them), checked here to be the exact sums; otherwise the
// kernels sum the blocks themselves.
Acts acts_of(int64_t m, int64_t k, const std::vector<float> &x, bool with_sums) {
    const int64_t nb = q_blocks(k);
    Acts a;
    a.q.resize(size_t(m * nb * kQBlock));
    a.d.resize(size_t(m * nb));
    a.s.resize(size_t(m * nb));
    a.sums.resize(size_t(m * nb));
    for (int64_t i = 0; i < m; ++i) {
        int8_t *q = a.q.data() + i * nb * kQBlock;
        int32_t *sums = a.sums.data() + i * nb;
        quantize_acts(x.data() + i * k, k, q, a.d.data() + i * nb, a.s.data() + i * nb,
                      with_sums ? sums : nullptr);
        for (int64_t b = 0; b < nb && with_sums; ++b) {
            int32_t sum = 0;
            for (int64_t j = 0; j < kQBlock; ++j) sum += q[b * kQBlock + j];
            EXPECT_EQ(sums[b], sum) << "block " << b;
        }
        a.rows.push_back(
            QActs{q, a.d.data() + i * nb, a.s.data() + i * nb, nb, with_sums ? sums : nullptr});
    }
    return a;
}

Acts make_acts(int64_t m, int64_t k, uint32_t seed, bool with_sums = false) {
    return acts_of(m, k, random_values(size_t(m * k), seed, 1.0f), with_sums);
}

float half(const uint8_t *p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return hfk::kern::f16_to_f32(h);
}

// The definition, read from the row-by-row bytes: per block the exact sum, then one fma; Q4_1's
// minima times the activations' block sums in a sum of their own, added last.
float defined_product(const Matrix &m, int64_t r, const QActs &x) {
    const uint8_t *row = m.bytes.data() + size_t(r) * m.rb;
    const bool q4 = m.type == QType::Q4_1;
    float acc = 0.0f, mins = 0.0f;
    for (int64_t b = 0; b < x.nb; ++b) {
        const uint8_t *blk = row + size_t(b) * q_block_bytes(m.type);
        int32_t sum = 0;
        for (int64_t j = 0; j < kQBlock; ++j) {
            const int32_t w = q4 ? (j < 16 ? blk[4 + j] & 15 : blk[4 + j - 16] >> 4)
                                 : int32_t(int8_t(blk[2 + j]));
            sum += w * int32_t(x.q[b * kQBlock + j]);
        }
        acc = std::fma(float(sum), half(blk) * x.d[b], acc);
        if (q4) mins = std::fma(half(blk + 2), x.s[b], mins);
    }
    return q4 ? acc + mins : acc;
}

constexpr QType kRowwise[] = {QType::Q8_0, QType::Q4_1};

}  // namespace

TEST(QuantRows16, InterleavingKeepsEveryWeightAndScale) {
    for (QType t : kRowwise)
        for (int64_t k : {32, 33, 96, 100, 576})
            for (int64_t rows : {16, 48}) {
                const Matrix m = make_matrix(t, rows, k, uint32_t(k * 7 + rows));
                ASSERT_EQ(m.bytes16.size(), m.bytes.size());
                ASSERT_NE(m.bytes16, m.bytes);  // the layout did change
                std::vector<float> want(static_cast<size_t>(k)), got(static_cast<size_t>(k));
                for (int64_t r = 0; r < rows; ++r) {
                    dequantize_row(t, m.bytes.data() + size_t(r) * m.rb, k, want.data());
                    dequantize_matrix_row(m.interleaved, m.bytes16.data(), m.rb, r, k, got.data());
                    ASSERT_EQ(std::memcmp(want.data(), got.data(), size_t(k) * 4), 0)
                        << qtype_name(t) << " k " << k << " row " << r;
                }
            }
}

namespace {

using Gemm = void (*)(QType, const uint8_t *, size_t, int64_t, const QActs *, int64_t, float *,
                      int64_t);
using DotRows = void (*)(QType, const uint8_t *, size_t, int64_t, const QActs &, float *);

// gemm's product of w and all of a's rows, written with a stride, against the definition.
void expect_definitions_bits(const char *isa, Gemm gemm, const Matrix &w, const Acts &a) {
    const int64_t m = int64_t(a.rows.size()), rows = w.rows, ldy = rows + 3;
    std::vector<float> got(size_t(m * ldy), -1.0f);
    gemm(w.interleaved, w.bytes16.data(), w.rb, rows, a.rows.data(), m, got.data(), ldy);
    for (int64_t i = 0; i < m; ++i) {
        for (int64_t r = 0; r < rows; ++r)
            ASSERT_EQ(float_bits(got[size_t(i * ldy + r)]),
                      float_bits(defined_product(w, r, a.rows[size_t(i)])))
                << isa << " " << qtype_name(w.type) << " k " << w.k << " rows " << rows << " m "
                << m << " at " << i << "," << r;
        for (int64_t r = rows; r < ldy; ++r)  // the stride's gap untouched
            ASSERT_EQ(got[size_t(i * ldy + r)], -1.0f);
    }
}

// One kernel set's product (and its dot_rows, when given) against the definition.
void check_against_definition(const char *isa, Gemm gemm, DotRows dot_rows) {
    for (QType t : kRowwise)
        for (int64_t k : {32, 33, 96, 100, 576}) {
            for (int64_t rows : {16, 48}) {
                const Matrix w = make_matrix(t, rows, k, uint32_t(k + rows));
                // Odd batches carry their blocks' sums (as matmul.cpp's), even ones not.
                for (int64_t m : {1, 2, 3, 7, 8, 9, 17, 70}) {
                    const Acts a = make_acts(m, k, uint32_t(m * 31 + k), m % 2 == 1);
                    expect_definitions_bits(isa, gemm, w, a);
                    if (::testing::Test::HasFatalFailure()) return;
                    if (!dot_rows) continue;
                    // One activation row through dot_rows, from the second group on (a task's
                    // share of the rows starts at a group).
                    std::vector<float> one(static_cast<size_t>(rows - 16));
                    dot_rows(w.interleaved, w.bytes16.data() + 16 * w.rb, w.rb, rows - 16,
                             a.rows[0], one.data());
                    for (int64_t r = 16; r < rows; ++r)
                        ASSERT_EQ(float_bits(one[size_t(r - 16)]),
                                  float_bits(defined_product(w, r, a.rows[0])))
                            << isa << " " << qtype_name(t) << " dot_rows k " << k << " row " << r;
                }
            }
        }
}

}  // namespace

TEST(QuantRows16, EveryIsaGivesTheDefinitionsBits) {
    int tested = 0;
    for (const char *isa : {"scalar", "avx2", "avxvnni", "avx512vnni"}) {
        const QuantOps *ops = quant_ops_for(isa);
        if (!ops) continue;
        ++tested;
        check_against_definition(isa, ops->gemm, ops->dot_rows);
        if (HasFatalFailure()) return;
    }
    EXPECT_GE(tested, 1);
}

// The AVX-VNNI set's arithmetic (-128 x sum(x) offsets, vpdpbusd on 256 bits) on a CPU that
// reports AVX-512 VNNI but not AVX-VNNI (the set itself is then never chosen, and the case above
// leaves it out): the same code through the EVEX form of the instruction.
TEST(QuantRows16, AvxVnniArithmeticThroughEvexGivesTheDefinitionsBits) {
#if defined(__x86_64__)
    const hfk::kern::CpuFeatures &f = hfk::kern::cpu_features();
    if (!f.avx512 || !f.avx512_vnni) GTEST_SKIP() << "no AVX-512 VNNI here";
    check_against_definition("avxvnni (EVEX)", gemm_rows16_vnni256_evex, nullptr);
#else
    GTEST_SKIP() << "x86-64 only";
#endif
}

// Products at the ends of the ranges: Q8_0 weights and activations all +-127, of the same signs
// and then of opposite signs; Q4_1 nibbles of 15 against activations of +127 and then -127. The
// 256-bit kernels sum pairs of products in int16 lanes (AVX2: a Q4_1 block's 16 products to a
// lane), where longer sums, or u8 x s8 products of the stored weight + 128, could saturate.
TEST(QuantRows16, ProductsAtTheEndsOfTheRangesSumExactly) {
    const int64_t rows = 16, k = 96, m = 5;
    std::vector<std::pair<const char *, Gemm>> gemms;
    for (const char *isa : {"scalar", "avx2", "avxvnni", "avx512vnni"})
        if (const QuantOps *ops = quant_ops_for(isa)) gemms.emplace_back(isa, ops->gemm);
#if defined(__x86_64__)
    if (cpu_features().avx512 && cpu_features().avx512_vnni)
        gemms.emplace_back("avxvnni (EVEX)", gemm_rows16_vnni256_evex);
#endif
    for (QType t : kRowwise)
        for (float sign : {1.0f, -1.0f}) {
            std::vector<float> w(size_t(rows * k)), x(size_t(m * k));
            for (int64_t j = 0; j < k; ++j) {
                const float s = (j * 7 + j / 3) % 2 ? 1.0f : -1.0f;  // a mixed sign pattern
                for (int64_t r = 0; r < rows; ++r)  // Q4_1: 0 (the block's minimum), then 15s
                    w[size_t(r * k + j)] = t == QType::Q8_0 ? s : float(j % kQBlock != 0);
                for (int64_t i = 0; i < m; ++i)
                    x[size_t(i * k + j)] = t == QType::Q8_0 ? sign * s : sign;
            }
            const Matrix mw = matrix_of(t, rows, k, w);
            const Acts a = acts_of(m, k, x, false);
            // The bytes are the ends of the ranges.
            ASSERT_EQ(a.rows[0].q[1], int8_t(sign > 0 ? 127 : -127));
            if (t == QType::Q8_0)
                ASSERT_EQ(std::abs(int8_t(mw.bytes[3])), 127);
            else
                ASSERT_EQ(mw.bytes[4] >> 4, 15);
            for (const auto &[isa, gemm] : gemms) {
                expect_definitions_bits(isa, gemm, mw, a);
                if (HasFatalFailure()) return;
            }
        }
}

// The same quantized weights as the row-by-row type: the two float sequences differ only in
// their roundings.
TEST(QuantRows16, CloseToTheRowByRowProduct) {
    for (QType t : kRowwise) {
        const int64_t k = 576, rows = 64, m = 4;
        const Matrix w = make_matrix(t, rows, k, 5);
        const Acts a = make_acts(m, k, 6);
        const QuantOps &ops = quant_ops();
        std::vector<float> rowwise(size_t(m * rows)), interleaved(size_t(m * rows));
        ops.gemm(t, w.bytes.data(), w.rb, rows, a.rows.data(), m, rowwise.data(), rows);
        ops.gemm(w.interleaved, w.bytes16.data(), w.rb, rows, a.rows.data(), m, interleaved.data(),
                 rows);
        double scale = 0;
        for (float v : rowwise) scale = std::max(scale, double(std::fabs(v)));
        for (size_t i = 0; i < rowwise.size(); ++i)
            EXPECT_NEAR(interleaved[i], rowwise[i], 1e-5 * scale) << qtype_name(t) << " " << i;
    }
}

TEST(QuantRows16, SlicesCutOnlyWholeGroups) {
    const Matrix w = make_matrix(QType::Q4_1, 48, 64, 9);
    Mat m;
    m.dtype = hfk::DType::F32;
    m.data = w.bytes16.data();
    m.rows = 48;
    m.cols = 64;
    m.quant = QType::Q4_1x16;
    const Mat tail = row_slice(m, 16, 32);
    EXPECT_EQ(tail.data, w.bytes16.data() + 16 * w.rb);
    EXPECT_EQ(tail.rows, 32);
    EXPECT_THROW(row_slice(m, 8, 16), hfk::Error);
    EXPECT_THROW(row_slice(m, 16, 24), hfk::Error);
    // get_row reads a row out of its group.
    std::vector<float> want(64), got(64);
    dequantize_row(QType::Q4_1, w.bytes.data() + 37 * w.rb, 64, want.data());
    get_row(m, 37, got.data());
    EXPECT_EQ(std::memcmp(want.data(), got.data(), 64 * 4), 0);
}
