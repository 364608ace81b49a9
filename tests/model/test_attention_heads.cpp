// The decode attention's heads kernels (kernels/attention_heads.h) against the calls they replace:
// for every query head of a group, dot_rows over the keys and axpy_rows over the values, bit for
// bit, for the AVX-512 and the AVX2 kernels, at every head width up to kHeadsMaxDim (whole vectors,
// masked tails, AVX2's scalar tails), every key count around the blocks of 16 and 8 (the
// reductions of several rows and the rows left over), groups of 1 to 14 heads (the blocks of at
// most 6 or 3), F32/F16/BF16 rows at every offset in a line, and values given in several calls (a
// paged cache's blocks) continuing one chain.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/attention_heads.h"
#include "kernels/rows_per_pass.h"
#include "kernels/simd.h"

using namespace hfk;
using namespace hfk::kern;

namespace {

// Rows of `type` (16-bit units or floats) with random normal values of several magnitudes, so
// that a sum in another order would round differently.
std::vector<uint16_t> random_rows(DType type, size_t n, std::mt19937 &rng) {
    std::normal_distribution<float> dist(0, 1);
    std::uniform_int_distribution<int> scale(-6, 6);
    std::vector<uint16_t> units(type == DType::F32 ? 2 * n : n);
    for (size_t i = 0; i < n; ++i) {
        const float x = std::ldexp(dist(rng), scale(rng));
        if (type == DType::F32)
            std::memcpy(units.data() + 2 * i, &x, 4);
        else if (type == DType::BF16)
            units[i] = f32_to_bf16(x);
        else {
            // F16 through the SIMD table's own conversion (exact and the same on every ISA).
            simd().from_f32(DType::F16, &x, 1, &units[i]);
        }
    }
    return units;
}

const char *name(DType t) {
    return t == DType::F32 ? "F32" : t == DType::F16 ? "F16" : "BF16";
}

std::vector<float> randoms(size_t n, std::mt19937 &rng) {
    std::normal_distribution<float> dist(0, 1);
    std::vector<float> v(n);
    for (float &x : v) x = dist(rng);
    return v;
}

}  // namespace

class AttentionHeadsIsa : public ::testing::TestWithParam<const char *> {};

TEST_P(AttentionHeadsIsa, SameBitsAsOneDotRowsAndAxpyRowsCallPerHead) {
    const SimdOps *ops = simd_for(GetParam());
    if (!ops) GTEST_SKIP() << "this CPU lacks " << GetParam();
    ASSERT_NE(ops->dot_rows_heads, nullptr);
    ASSERT_NE(ops->axpy_rows_heads, nullptr);
    std::mt19937 rng(7);
    int checked = 0;
    for (DType type : {DType::F32, DType::F16, DType::BF16}) {
        const size_t elem = compute_elem_size(type);
        for (int64_t hd : {16, 20, 40, 64, 80, 96, 128, 164, 200, 256}) {
            for (int64_t rows : {1, 5, 8, 9, 15, 16, 17, 33, 64, 100}) {
                for (int64_t n_q : {1, 3, 6, 7, 14}) {
                    // Rows ld elements apart (several kv heads side by side), starting `skew`
                    // elements into a buffer: every offset in a line across the cases.
                    const int64_t ld = hd * 3 + 1, skew = (hd + rows + n_q) % 16;
                    const auto kbuf = random_rows(type, size_t(skew + rows * ld), rng);
                    const auto vbuf = random_rows(type, size_t(skew + rows * ld), rng);
                    const auto *k = reinterpret_cast<const char *>(kbuf.data()) + skew * elem;
                    const auto *v = reinterpret_cast<const char *>(vbuf.data()) + skew * elem;
                    const std::vector<float> q = randoms(size_t(n_q * hd), rng);
                    const std::vector<float> p = randoms(size_t(n_q * rows), rng);
                    SCOPED_TRACE(std::string(name(type)) + " hd " + std::to_string(hd) + " rows " +
                                 std::to_string(rows) + " heads " + std::to_string(n_q));

                    std::vector<float> want_s(size_t(n_q * rows)), got_s(want_s.size(), -1.0f);
                    std::vector<float> want_o(size_t(n_q * hd)), got_o(want_o.size(), -1.0f);
                    for (int64_t g = 0; g < n_q; ++g) {
                        ops->dot_rows(type, k, ld, rows, q.data() + g * hd, hd,
                                      want_s.data() + g * rows, dot_rows_per_pass(type));
                        ops->axpy_rows(type, v, ld, rows, p.data() + g * rows, hd,
                                       want_o.data() + g * hd, axpy_rows_per_pass(type));
                    }
                    ops->dot_rows_heads(type, k, ld, rows, q.data(), hd, n_q, hd, got_s.data(),
                                        rows);
                    ops->axpy_rows_heads(type, v, ld, rows, p.data(), rows, n_q, hd, got_o.data(),
                                         hd, false);
                    ASSERT_EQ(0, std::memcmp(want_s.data(), got_s.data(), 4 * want_s.size()));
                    ASSERT_EQ(0, std::memcmp(want_o.data(), got_o.data(), 4 * want_o.size()));

                    // The values in three calls, the later ones accumulating: the same chain.
                    std::vector<float> split(want_o.size(), -1.0f);
                    const int64_t a = rows / 3, b = 2 * rows / 3;
                    const int64_t cuts[4] = {0, a, b, rows};
                    for (int c = 0; c < 3; ++c)
                        ops->axpy_rows_heads(type, v + cuts[c] * ld * int64_t(elem), ld,
                                             cuts[c + 1] - cuts[c], p.data() + cuts[c], rows, n_q,
                                             hd, split.data(), hd, c > 0);
                    ASSERT_EQ(0, std::memcmp(want_o.data(), split.data(), 4 * want_o.size()));
                    ++checked;
                }
            }
        }
    }
    EXPECT_EQ(checked, 3 * 10 * 10 * 5);
}

INSTANTIATE_TEST_SUITE_P(Isa, AttentionHeadsIsa, ::testing::Values("avx512", "avx2"));

TEST(AttentionHeads, PortableTableLeavesThemOut) {
    // attention.cpp then calls dot_rows and axpy_rows per head (the same bits, tested through the
    // attention tests at every ISA).
    const SimdOps *ops = simd_for("scalar");
    ASSERT_NE(ops, nullptr);
    EXPECT_EQ(ops->dot_rows_heads, nullptr);
    EXPECT_EQ(ops->axpy_rows_heads, nullptr);
}
