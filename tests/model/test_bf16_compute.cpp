// The BF16 compute mode's products (issue 22): the vdpbf16ps kernel gives the portable
// reference's bits (bf16_compute.h writes the arithmetic out, from Intel's description of
// VDPBF16PS: odd member first, RNE, denormals in as zero, out flushed) at many shapes, both
// layouts, unaligned weights and activations, with and without bias, at 1-3 threads, including
// denormal weights and products that underflow. The hardware is the oracle of the reference:
// where the CPU lacks AVX512_BF16 these cases are SKIPPED. Then linear() under the mode: BF16
// weights with more than four rows take the BF16 product, everything else keeps the exact bits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/bf16_compute.h"
#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "kernels/simd.h"

using namespace hfk;
using namespace hfk::kern;

namespace {

// BF16 weights of every magnitude class that matters: normal values over a wide range, some
// denormals and zeros of both signs, and tiny values whose products underflow F32.
std::vector<uint16_t> random_bf16(size_t n, std::mt19937 &rng) {
    std::vector<uint16_t> w(n);
    std::uniform_int_distribution<uint32_t> mant(0, 0x7f), sign(0, 1), kind(0, 99), expo(118, 134);
    for (auto &u : w) {
        const uint32_t s = sign(rng) << 15, c = kind(rng);
        if (c == 0)
            u = uint16_t(s | mant(rng));  // denormal (or zero)
        else if (c == 1)
            u = uint16_t(s | (1 + mant(rng) % 8) << 7 | mant(rng));  // ~1e-38: products underflow
        else
            u = uint16_t(s | expo(rng) << 7 | mant(rng));
    }
    return w;
}

std::vector<float> random_acts(size_t n, std::mt19937 &rng) {
    std::normal_distribution<float> dist(0, 2);
    std::uniform_int_distribution<int> kind(0, 199);
    std::vector<float> x(n);
    for (auto &v : x) {
        v = dist(rng);
        const int c = kind(rng);
        if (c == 0) v = 1e-39f * v;  // F32 denormal: rounds to a BF16 denormal, read as zero
        if (c == 1) v = 1e-36f * v;
    }
    return x;
}

void expect_same_bits(const std::vector<float> &a, const std::vector<float> &b,
                      const std::string &what) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        uint32_t ua, ub;
        std::memcpy(&ua, &a[i], 4);
        std::memcpy(&ub, &b[i], 4);
        ASSERT_EQ(ua, ub) << what << " element " << i << ": " << a[i] << " vs " << b[i];
    }
}

struct Case {
    int64_t m, n, k;
};

}  // namespace

TEST(Bf16Compute, Avx512KernelEqualsTheReferenceBitForBit) {
    if (!bf16_kernel_available(Bf16Kernel::Avx512Bf16))
        GTEST_SKIP() << "no AVX512_BF16 here (or HFK_KERNELS below avx512): "
                     << bf16_compute_description();
    std::mt19937 rng(22);
    const std::vector<Case> cases = {{5, 1, 1},    {5, 16, 2},     {6, 17, 3},    {7, 31, 16},
                                     {8, 32, 31},  {9, 33, 32},    {13, 47, 33},  {16, 64, 64},
                                     {17, 65, 65}, {5, 100, 127},  {24, 96, 128}, {33, 130, 257},
                                     {8, 300, 96}, {11, 257, 600}, {40, 64, 1000}};
    size_t checked = 0;
    for (const Case &c : cases) {
        for (Layout layout : {Layout::OutIn, Layout::InOut}) {
            for (int64_t woff : {0, 1}) {  // 2-byte offset: pairs straddle dwords
                const auto units = random_bf16(size_t(c.n * c.k + woff), rng);
                Mat w;
                w.dtype = DType::BF16;
                w.data = units.data() + woff;
                w.rows = layout == Layout::OutIn ? c.n : c.k;
                w.cols = layout == Layout::OutIn ? c.k : c.n;
                const int64_t xoff = woff;  // activations misaligned too
                auto xs = random_acts(size_t(c.m * c.k + xoff), rng);
                std::vector<float> bias = random_acts(size_t(c.n), rng);
                for (bool with_bias : {false, true}) {
                    std::vector<float> want(size_t(c.m * c.n)), got(want.size());
                    linear_bf16(w, layout, xs.data() + xoff, c.m, with_bias ? bias.data() : nullptr,
                                want.data(), 1, Bf16Kernel::Reference);
                    for (int threads : {1, 2, 3}) {
                        std::fill(got.begin(), got.end(), -7.0f);
                        linear_bf16(w, layout, xs.data() + xoff, c.m,
                                    with_bias ? bias.data() : nullptr, got.data(), threads,
                                    Bf16Kernel::Avx512Bf16);
                        expect_same_bits(want, got,
                                         "m " + std::to_string(c.m) + " n " + std::to_string(c.n) +
                                             " k " + std::to_string(c.k) + " layout " +
                                             std::to_string(int(layout)) + " offset " +
                                             std::to_string(woff) + " threads " +
                                             std::to_string(threads));
                        if (HasFatalFailure()) return;
                        ++checked;
                    }
                }
            }
        }
    }
    EXPECT_EQ(checked, cases.size() * 2 * 2 * 2 * 3);
}

// The reference against an independent sum: the exact dot product (in long double) of the
// BF16-rounded activations and the weights; F32 accumulation of k terms stays within k ulps of
// the sum of magnitudes. This catches a wrong pairing of activations with weights or a wrong
// rounding of the activations, which the bit comparison above (kernel vs reference) cannot.
TEST(Bf16Compute, ReferenceIsTheDotProductOfTheRoundedActivations) {
    std::mt19937 rng(7);
    for (Layout layout : {Layout::OutIn, Layout::InOut}) {
        const int64_t m = 6, n = 20, k = 75;
        std::vector<uint16_t> units(size_t(n * k));
        std::normal_distribution<float> dist(0, 1);
        for (auto &u : units) u = f32_to_bf16(dist(rng));
        Mat w;
        w.dtype = DType::BF16;
        w.data = units.data();
        w.rows = layout == Layout::OutIn ? n : k;
        w.cols = layout == Layout::OutIn ? k : n;
        std::vector<float> x(size_t(m * k)), y(size_t(m * n));
        for (auto &v : x) v = dist(rng);
        linear_bf16(w, layout, x.data(), m, nullptr, y.data(), 1, Bf16Kernel::Reference);
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
                long double exact = 0, mag = 0;
                for (int64_t kk = 0; kk < k; ++kk) {
                    const uint16_t wu = layout == Layout::OutIn ? units[size_t(j * k + kk)]
                                                                : units[size_t(kk * n + j)];
                    const long double t =
                        (long double)bf16_to_f32(f32_to_bf16(x[size_t(i * k + kk)])) *
                        bf16_to_f32(wu);
                    exact += t;
                    mag += std::fabs(t);
                }
                const double tol = double(mag) * double(k) * 0x1p-24;
                EXPECT_NEAR(y[size_t(i * n + j)], double(exact), tol) << i << " " << j;
                // and it is not the F32 activations' product (the rounding happened)
            }
    }
}

// linear() under ComputeScope(BF16): BF16 weights with more than four rows run the BF16
// product (the available kernel's bits); decode-sized calls (<= 4 rows), F32 and F16 weights
// and the default mode keep the exact path's bits. Without a BF16 kernel the mode changes
// nothing.
TEST(Bf16Compute, LinearTakesTheBf16ProductOnlyWhereTheModeApplies) {
    std::mt19937 rng(3);
    const int64_t n = 70, k = 90;
    std::normal_distribution<float> dist(0, 1);
    std::vector<uint16_t> bf(size_t(n * k)), f16(size_t(n * k));
    std::vector<float> f32(size_t(n * k));
    for (size_t i = 0; i < bf.size(); ++i) {
        f32[i] = dist(rng);
        bf[i] = f32_to_bf16(f32[i]);
        f16[i] = f32_to_f16(f32[i]);
    }
    std::vector<float> x(size_t(16 * k));
    for (auto &v : x) v = dist(rng);
    auto run = [&](DType t, int64_t m, bool bf16_mode) {
        Mat w;
        w.dtype = t;
        w.data = t == DType::BF16  ? static_cast<const void *>(bf.data())
                 : t == DType::F16 ? static_cast<const void *>(f16.data())
                                   : static_cast<const void *>(f32.data());
        w.rows = n;
        w.cols = k;
        std::vector<float> y(size_t(m * n));
        ComputeScope scope(bf16_mode ? Compute::BF16 : Compute::F32);
        linear(w, Layout::OutIn, x.data(), m, nullptr, y.data(), 2);
        return y;
    };
    EXPECT_EQ(compute_mode(), Compute::F32);
    {
        ComputeScope outer(Compute::BF16);
        EXPECT_EQ(compute_mode(), Compute::BF16);
        {
            ComputeScope inner(Compute::F32);
            EXPECT_EQ(compute_mode(), Compute::F32);
        }
        EXPECT_EQ(compute_mode(), Compute::BF16);
    }
    EXPECT_EQ(compute_mode(), Compute::F32);
    for (DType t : {DType::F32, DType::F16})
        for (int64_t m : {1, 4, 16})
            expect_same_bits(run(t, m, false), run(t, m, true), "exact types");
    for (int64_t m : {1, 3, 4})
        expect_same_bits(run(DType::BF16, m, false), run(DType::BF16, m, true), "decode");
    const std::vector<float> exact = run(DType::BF16, 16, false), mode = run(DType::BF16, 16, true);
    if (!bf16_compute_kernel()) {
        expect_same_bits(exact, mode, "fallback");
        return;
    }
    Mat w;
    w.dtype = DType::BF16;
    w.data = bf.data();
    w.rows = n;
    w.cols = k;
    std::vector<float> ref(size_t(16 * n));
    linear_bf16(w, Layout::OutIn, x.data(), 16, nullptr, ref.data(), 1, Bf16Kernel::Reference);
    expect_same_bits(ref, mode, "bf16 mode");
    EXPECT_NE(0, std::memcmp(exact.data(), mode.data(), exact.size() * 4))
        << "the mode rounded nothing";
}

// Which kernel the mode runs follows the CPU and HFK_KERNELS (run again with HFK_KERNELS=avx2 by
// CTest: the mode then falls back and says so).
TEST(Bf16Compute, KernelChoiceFollowsTheCpuAndHfkKernels) {
    const bool usable = bf16_kernel_available(Bf16Kernel::Avx512Bf16);
    EXPECT_EQ(usable, bf16_compute_kernel() != nullptr);
    EXPECT_TRUE(bf16_kernel_available(Bf16Kernel::Reference));
    const std::string d = bf16_compute_description();
    std::printf("%s\n", d.c_str());
    EXPECT_NE(d.find(usable ? "vdpbf16ps" : "exact F32 path"), std::string::npos) << d;
    if (std::strcmp(kernel_isa(), "avx512") != 0) {
        EXPECT_FALSE(usable);
    }
}
