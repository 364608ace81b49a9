// Rows per pass of the decode kernels (issue 22): reading 1, 2 or 4 weight rows side by side
// changes the order the memory is read in, never the order of any output's sums. So every choice
// must give the bits of one row per pass, at every instruction set, every alignment of the rows
// in a cache line (rows of odd length start at different offsets), odd row counts (passes of
// fewer rows at the end), and through linear() at 1 and 2 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/rows_per_pass.h"
#include "kernels/simd.h"

using namespace hfk;
using namespace hfk::kern;

namespace {

// Random weights of `type` (any bit pattern of a normal value, so sums in another order would
// round differently), stored in 16-bit units, with their exact F32 values.
struct Weights {
    std::vector<uint16_t> units;
    std::vector<float> f32;
};

Weights random_weights(DType type, size_t n, std::mt19937 &rng) {
    std::normal_distribution<float> dist(0, 1);
    Weights w;
    w.f32.resize(n);
    if (type == DType::F32) {
        w.units.resize(2 * n);
        for (size_t i = 0; i < n; ++i) w.f32[i] = dist(rng);
        std::memcpy(w.units.data(), w.f32.data(), 4 * n);
        return w;
    }
    w.units.resize(n);
    std::uniform_int_distribution<uint32_t> mant(0, type == DType::BF16 ? 0x7f : 0x3ff);
    std::uniform_int_distribution<uint32_t> expo(0, 7), sign(0, 1);
    for (size_t i = 0; i < n; ++i) {
        uint16_t u;
        if (type == DType::BF16)  // |x| in [2^-4, 2^4)
            u = uint16_t(sign(rng) << 15 | (123 + expo(rng)) << 7 | mant(rng));
        else  // F16, |x| in [2^-4, 2^4)
            u = uint16_t(sign(rng) << 15 | (11 + expo(rng)) << 10 | mant(rng));
        w.units[i] = u;
        w.f32[i] = type == DType::BF16 ? bf16_to_f32(u) : f16_to_f32(u);
    }
    return w;
}

std::vector<const char *> isas() {
    std::vector<const char *> out;
    for (const char *isa : {"scalar", "avx2", "avx512"})
        if (simd_for(isa)) out.push_back(isa);
    return out;
}

const char *name(DType t) {
    return t == DType::F32 ? "F32" : t == DType::F16 ? "F16" : "BF16";
}

}  // namespace

// dot_rows ([out, in]) and axpy_rows ([in, out]) straight: per_pass 2 and 4 give the bits of
// per_pass 1, which is itself checked against a double-precision reference. Rows have a stride of
// k or k + 1 elements (with k + 1 each row of a 16-bit matrix starts at another offset in its
// line, so the rows of one pass have heads of different lengths), the matrix starts at every
// offset in a line, and the row counts (3, 11, 37) leave rows over after the blocks of 2 and 4.
TEST(DecodeRows, KernelsGiveTheBitsOfOneRowPerPass) {
    std::mt19937 rng(22);
    std::normal_distribution<float> dist(0, 1);
    for (DType type : {DType::BF16, DType::F16, DType::F32}) {
        const size_t elem = compute_elem_size(type);
        for (int64_t k : {1, 15, 17, 64, 65, 100, 131, 576}) {
            for (int64_t ld : {k, k + 1}) {
                for (const int64_t rows : {int64_t(3), int64_t(11), int64_t(37)}) {
                    const Weights w = random_weights(type, size_t(rows * ld), rng);
                    std::vector<float> x(size_t(std::max(k, rows)));
                    for (float &v : x) v = dist(rng);
                    const size_t bytes = size_t(rows * ld) * elem;
                    std::vector<uint8_t> buf(bytes + 128);
                    const uintptr_t line =
                        (reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63);
                    for (size_t off = 0; off < 64; off += elem) {
                        uint8_t *at = reinterpret_cast<uint8_t *>(line) + off;
                        std::memcpy(at, w.units.data(), bytes);
                        for (const char *isa : isas()) {
                            const SimdOps &ops = *simd_for(isa);
                            const std::string where =
                                std::string(isa) + " " + name(type) + " k=" + std::to_string(k) +
                                " ld=" + std::to_string(ld) + " offset=" + std::to_string(off);
                            std::vector<float> y1(static_cast<size_t>(rows)),
                                z1(static_cast<size_t>(k));
                            ops.dot_rows(type, at, ld, rows, x.data(), k, y1.data(), 1);
                            ops.axpy_rows(type, at, ld, rows, x.data(), k, z1.data(), 1);
                            for (int64_t r = 0; r < rows; ++r) {
                                double ref = 0;
                                for (int64_t i = 0; i < k; ++i)
                                    ref += double(w.f32[size_t(r * ld + i)]) * x[size_t(i)];
                                ASSERT_NEAR(y1[size_t(r)], ref, 1e-4 * (1 + std::fabs(ref)))
                                    << where;
                            }
                            for (int64_t j = 0; j < k; ++j) {
                                double ref = 0;
                                for (int64_t r = 0; r < rows; ++r)
                                    ref += double(x[size_t(r)]) * w.f32[size_t(r * ld + j)];
                                ASSERT_NEAR(z1[size_t(j)], ref, 1e-4 * (1 + std::fabs(ref)))
                                    << where;
                            }
                            for (int per_pass : {2, 4}) {
                                std::vector<float> y(static_cast<size_t>(rows)),
                                    z(static_cast<size_t>(k));
                                ops.dot_rows(type, at, ld, rows, x.data(), k, y.data(), per_pass);
                                ops.axpy_rows(type, at, ld, rows, x.data(), k, z.data(), per_pass);
                                ASSERT_EQ(std::memcmp(y.data(), y1.data(), y.size() * 4), 0)
                                    << "dot_rows, " << per_pass << " rows per pass, " << where;
                                ASSERT_EQ(std::memcmp(z.data(), z1.data(), z.size() * 4), 0)
                                    << "axpy_rows, " << per_pass << " rows per pass, " << where;
                            }
                        }
                    }
                }
            }
        }
    }
}

// linear() on the matrix-vector path (1 and 3 rows of x), both layouts, 16-bit weights of odd
// shapes at an odd offset from a line: the same bits for every rows-per-pass choice and for 1 and
// 2 threads. It runs at the instruction set the process chose; CTest runs it again with
// HFK_KERNELS=avx2 and =scalar (tests/model/compute.cmake), and it checks the level it got.
TEST(DecodeRows, LinearSameBitsForEveryChoiceAndThreadCount) {
    if (const char *forced = std::getenv("HFK_KERNELS")) {
        if (!simd_for(forced)) GTEST_SKIP() << "this CPU lacks " << forced;
        ASSERT_STREQ(kernel_isa(), forced);
    }
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0, 1);
    const int64_t n_out = 301, n_in = 197;
    for (DType type : {DType::BF16, DType::F16}) {
        const Weights w = random_weights(type, size_t(n_out * n_in), rng);
        std::vector<uint16_t> buf(w.units.size() + 64);
        const uintptr_t line = (reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63);
        uint16_t *at = reinterpret_cast<uint16_t *>(line + 6);
        std::memcpy(at, w.units.data(), w.units.size() * 2);
        std::vector<float> bias(static_cast<size_t>(n_out));
        for (float &b : bias) b = dist(rng);
        for (Layout layout : {Layout::OutIn, Layout::InOut}) {
            const Mat mat =
                layout == Layout::OutIn ? Mat{type, at, n_out, n_in} : Mat{type, at, n_in, n_out};
            for (int64_t m : {1, 3}) {
                std::vector<float> x(size_t(m * n_in));
                for (float &v : x) v = dist(rng);
                std::vector<float> first;
                for (int rows : {1, 2, 4}) {
                    set_decode_rows(rows);
                    ASSERT_EQ(decode_rows(), rows);
                    // Software prefetch off, and as far ahead as the Intel default and past it.
                    for (int prefetch : {0, 6144, 65536}) {
                        set_decode_prefetch(prefetch);
                        ASSERT_EQ(decode_prefetch_bytes(), prefetch);
                        for (int threads : {1, 2}) {
                            std::vector<float> y(size_t(m * n_out));
                            linear(mat, layout, x.data(), m, bias.data(), y.data(), threads);
                            if (first.empty()) {
                                first = y;
                                // A sanity check of the first result: the rest must equal it.
                                for (int64_t j = 0; j < n_out; ++j) {
                                    double ref = bias[size_t(j)];
                                    for (int64_t i = 0; i < n_in; ++i)
                                        ref +=
                                            double(x[size_t(i)]) *
                                            w.f32[size_t(layout == Layout::OutIn ? j * n_in + i
                                                                                 : i * n_out + j)];
                                    ASSERT_NEAR(y[size_t(j)], ref, 2e-4 * (1 + std::fabs(ref)));
                                }
                            }
                            EXPECT_EQ(std::memcmp(y.data(), first.data(), y.size() * 4), 0)
                                << kernel_isa() << " " << name(type)
                                << (layout == Layout::OutIn ? " [out, in]" : " [in, out]")
                                << " m=" << m << ": " << rows << " rows per pass, prefetch "
                                << prefetch << ", " << threads << " threads";
                        }
                    }
                }
            }
        }
    }
    set_decode_rows(0);
    set_decode_prefetch(-1);
}

// Where the choice comes from: HFK_DECODE_ROWS=1|2|4 when set (CTest runs this with =2 and with
// an invalid =3), else the CPU family; set_decode_rows() overrides both and 0 undoes it. 16-bit
// [in, out] products (axpy_rows) read one row unless a choice is asked for. F32 keeps its fixed
// choice (one row for dot_rows, four for axpy_rows) whatever is chosen.
TEST(DecodeRows, ChoiceFromEnvironmentOrCpuFamily) {
    const char *env = std::getenv("HFK_DECODE_ROWS");
    if (env && std::string(env) == "2") {
        EXPECT_EQ(decode_rows(), 2);
        EXPECT_STREQ(decode_rows_source(), "HFK_DECODE_ROWS");
        EXPECT_EQ(axpy_rows_per_pass(DType::BF16), 2);
    } else {  // unset, or not 1, 2 or 4: ignored
        EXPECT_EQ(std::string(decode_rows_source()).rfind("CPU family ", 0), 0u)
            << decode_rows_source();
        const int r = decode_rows();
        EXPECT_TRUE(r == 1 || r == 2 || r == 4) << r;
        EXPECT_EQ(dot_rows_per_pass(DType::BF16), r);
        EXPECT_EQ(axpy_rows_per_pass(DType::BF16), 1);
    }
    const int before = decode_rows();
    const std::string before_source = decode_rows_source();
    for (int rows : {4, 1, 2}) {
        set_decode_rows(rows);
        EXPECT_EQ(decode_rows(), rows);
        EXPECT_EQ(dot_rows_per_pass(DType::BF16), rows);
        EXPECT_EQ(axpy_rows_per_pass(DType::F16), rows);
        EXPECT_EQ(dot_rows_per_pass(DType::F32), 1);
        EXPECT_EQ(axpy_rows_per_pass(DType::F32), 4);
        EXPECT_STREQ(decode_rows_source(), "set_decode_rows");
    }
    set_decode_rows(3);  // not a choice: back to the default
    EXPECT_EQ(decode_rows(), before);
    set_decode_rows(0);
    EXPECT_EQ(decode_rows(), before);
    EXPECT_EQ(decode_rows_source(), before_source);
    EXPECT_EQ(axpy_rows_per_pass(DType::BF16), env && std::string(env) == "2" ? 2 : 1);
}

// The software prefetch distance of the 16-bit kernels: HFK_DECODE_PREFETCH=BYTES when set to a
// multiple of 64 in 0..65536 (CTest runs this with =4096 and with an invalid =100), else the CPU
// family's (6 KiB on Intel, none on AMD); set_decode_prefetch() overrides both, a negative value
// or one out of range undoes it.
TEST(DecodePrefetch, ChoiceFromEnvironmentOrCpuFamily) {
    const char *env = std::getenv("HFK_DECODE_PREFETCH");
    if (env && std::string(env) == "4096") {
        EXPECT_EQ(decode_prefetch_bytes(), 4096);
        EXPECT_STREQ(decode_prefetch_source(), "HFK_DECODE_PREFETCH");
    } else {
        const std::string source = decode_prefetch_source();
        EXPECT_EQ(source.rfind("CPU family ", 0), 0u) << source;
        EXPECT_EQ(decode_prefetch_bytes(), source == "CPU family Intel" ? 6144 : 0) << source;
    }
    const int before = decode_prefetch_bytes();
    const std::string before_source = decode_prefetch_source();
    for (int bytes : {0, 128, 65536}) {
        set_decode_prefetch(bytes);
        EXPECT_EQ(decode_prefetch_bytes(), bytes);
        EXPECT_STREQ(decode_prefetch_source(), "set_decode_prefetch");
    }
    for (int invalid : {100, 65600, -1}) {  // not a multiple of 64, too far, the reset value
        set_decode_prefetch(invalid);
        EXPECT_EQ(decode_prefetch_bytes(), before) << invalid;
        EXPECT_EQ(decode_prefetch_source(), before_source) << invalid;
    }
}
