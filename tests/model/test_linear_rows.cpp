// The batched product of the engine (issue 19): kern::linear_rows and its kernel
// SimdOps::dot_rows_batch compute several rows of x against several rows of W in register blocks,
// yet every output must be the bits the decode matrix-vector kernel (dot_rows) gives for its row
// of x alone, at every rows-per-pass choice: that is what makes a request's output independent of
// the batch it runs in. Checked at every instruction set, for 1..17 rows of x (every size of the
// kernels' groups of rows of x: 1 to 8 with AVX-512, 1 to 3 with AVX2), odd lengths (masked
// tails), rows of W starting at every offset in a cache line (rows of odd length: a group of rows
// with different heads goes row by row), and F32, F16 and BF16 weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "kernels/rows_per_pass.h"
#include "kernels/simd.h"

using namespace hfk;
using namespace hfk::kern;

namespace {

// Random weights of `type` in 16-bit units: any normal value of the type (sums in another order
// would round differently).
std::vector<uint16_t> random_units(DType type, size_t n, std::mt19937 &rng) {
    std::vector<uint16_t> units(type == DType::F32 ? 2 * n : n);
    if (type == DType::F32) {
        std::normal_distribution<float> dist(0, 1);
        std::vector<float> f(n);
        for (float &v : f) v = dist(rng);
        std::memcpy(units.data(), f.data(), 4 * n);
        return units;
    }
    std::uniform_int_distribution<uint32_t> mant(0, type == DType::BF16 ? 0x7f : 0x3ff);
    std::uniform_int_distribution<uint32_t> expo(0, 7), sign(0, 1);
    for (uint16_t &u : units)  // |w| in [2^-4, 2^4)
        u = type == DType::BF16 ? uint16_t(sign(rng) << 15 | (123 + expo(rng)) << 7 | mant(rng))
                                : uint16_t(sign(rng) << 15 | (11 + expo(rng)) << 10 | mant(rng));
    return units;
}

const char *name(DType t) {
    return t == DType::F32 ? "F32" : t == DType::F16 ? "F16" : "BF16";
}

// n_out rows of k random normal values quantized as q (Q8_0 or Q4_1), row by row.
std::vector<uint8_t> random_quantized(QType q, int64_t n_out, int64_t k, std::mt19937 &rng) {
    std::normal_distribution<float> dist(0, 1);
    const size_t rb = q_row_bytes(q, k);
    std::vector<uint8_t> out(rb * size_t(n_out));
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t r = 0; r < n_out; ++r) {
        for (float &v : row) v = dist(rng);
        quantize_row(q, row.data(), k, out.data() + size_t(r) * rb);
    }
    return out;
}

std::vector<const char *> isas() {
    std::vector<const char *> out;
    for (const char *isa : {"scalar", "avx2", "avx512"})
        if (simd_for(isa)) out.push_back(isa);
    return out;
}

constexpr int64_t kMaxRows = 17;

// dot_rows_batch against dot_rows (1, 2 and 4 rows per pass) for each row of x alone, for
// 1..kMaxRows rows of x, the matrix (rows x k, rows ld apart) starting at each of `offsets` bytes
// past a cache line. The rows of x are k + 3 floats apart (every alignment of x too) and the
// outputs rows + 2 apart: the floats between them must stay untouched.
void check_batch_kernel(DType type, int64_t k, int64_t ld, int64_t rows,
                        const std::vector<size_t> &offsets, std::mt19937 &rng) {
    std::normal_distribution<float> dist(0, 1);
    const size_t elem = compute_elem_size(type);
    const std::vector<uint16_t> units = random_units(type, size_t(rows * ld), rng);
    const int64_t ldx = k + 3, ldy = rows + 2;
    std::vector<float> x(size_t(kMaxRows * ldx));
    for (float &v : x) v = dist(rng);
    const size_t bytes = size_t(rows * ld) * elem;
    std::vector<uint8_t> buf(bytes + 128);
    const uintptr_t line = (reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63);
    for (const char *isa : isas()) {
        const SimdOps &ops = *simd_for(isa);
        for (size_t off : offsets) {
            if (off % elem) continue;
            // The portable loops never look at alignment: one offset is enough.
            if (off != offsets[0] && std::strcmp(isa, "scalar") == 0) break;
            uint8_t *at = reinterpret_cast<uint8_t *>(line) + off;
            std::memcpy(at, units.data(), bytes);
            const std::string where = std::string(isa) + " " + name(type) +
                                      " k=" + std::to_string(k) + " ld=" + std::to_string(ld) +
                                      " rows=" + std::to_string(rows) +
                                      " offset=" + std::to_string(off);
            // Each row of x alone, as a decode step computes it.
            std::vector<float> alone(size_t(kMaxRows * rows));
            for (int64_t i = 0; i < kMaxRows; ++i) {
                ops.dot_rows(type, at, ld, rows, x.data() + i * ldx, k, alone.data() + i * rows, 1);
                for (int per_pass : {2, 4}) {
                    std::vector<float> y(static_cast<size_t>(rows));
                    ops.dot_rows(type, at, ld, rows, x.data() + i * ldx, k, y.data(), per_pass);
                    ASSERT_EQ(std::memcmp(y.data(), alone.data() + i * rows, y.size() * 4), 0)
                        << where << " per_pass=" << per_pass;
                }
            }
            for (int64_t m = 1; m <= kMaxRows; ++m) {
                std::vector<float> y(size_t(m * ldy), -7.0f);
                ops.dot_rows_batch(type, at, ld, rows, x.data(), ldx, m, k, y.data(), ldy);
                for (int64_t i = 0; i < m; ++i) {
                    ASSERT_EQ(
                        std::memcmp(y.data() + i * ldy, alone.data() + i * rows, size_t(rows) * 4),
                        0)
                        << where << " m=" << m << ": row " << i;
                    ASSERT_EQ(y[size_t(i * ldy + rows)], -7.0f) << where;
                    ASSERT_EQ(y[size_t(i * ldy + rows + 1)], -7.0f) << where;
                }
            }
        }
    }
}

}  // namespace

// Odd lengths (masked heads and tails, blocks of 16 and 64 left over), 1, 5 and 16 rows of W
// (whole groups of 3 to 6 rows of W and rows left over), the matrix at every offset in a line.
TEST(LinearRows, BatchKernelGivesTheBitsOfDotRows) {
    std::mt19937 rng(19);
    std::vector<size_t> every;
    for (size_t off = 0; off < 64; off += 2) every.push_back(off);
    for (DType type : {DType::BF16, DType::F16, DType::F32})
        for (int64_t k : {1, 15, 17, 31, 64, 65, 100, 131, 200})
            for (int64_t ld : {k, k + 1})
                for (int64_t rows : {1, 5, 16}) {
                    check_batch_kernel(type, k, ld, rows, every, rng);
                    if (HasFatalFailure()) return;
                }
}

// Rows of x long enough that the kernel takes them in several blocks (a block's rows stay in L1,
// but a block takes at least 8 rows: 17 rows of 2900 floats go as 8, 8 and 1).
TEST(LinearRows, BatchKernelGivesTheBitsOfDotRowsInBlocksOfRowsOfX) {
    std::mt19937 rng(23);
    for (DType type : {DType::BF16, DType::F16, DType::F32})
        for (int64_t k : {2900, 2901})
            for (int64_t ld : {k, k + 1}) {
                check_batch_kernel(type, k, ld, 5, {0, 2, 6, 36, 62}, rng);
                if (HasFatalFailure()) return;
            }
}

// kern::linear_rows (tiles, threads, bias) against linear() on one row of x -- the product of a
// session's decode step -- at every rows-per-pass choice, 1 and 2 threads: the same bits for 1..17
// rows. Shapes: odd (301 x 197, several tiles, rows at different offsets in a line),
// SmolLM-135M's 576 inputs (rows of whole lines: the kernel's groups of rows of W) and 2900 inputs
// (rows of x in several blocks). It runs at the instruction set the process chose; CTest runs it
// again with HFK_KERNELS=avx2 and =scalar.
TEST(LinearRows, SameBitsAsOneRowDecodeForEveryChoice) {
    if (const char *forced = std::getenv("HFK_KERNELS")) {
        if (!simd_for(forced)) GTEST_SKIP() << "this CPU lacks " << forced;
        ASSERT_STREQ(kernel_isa(), forced);
    }
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0, 1);
    struct Shape {
        int64_t n_out, n_in;
    };
    for (DType type : {DType::BF16, DType::F16, DType::F32}) {
        for (const Shape s : {Shape{301, 197}, Shape{200, 576}, Shape{37, 2900}}) {
            const std::vector<uint16_t> units = random_units(type, size_t(s.n_out * s.n_in), rng);
            std::vector<uint8_t> buf(units.size() * 2 + 64);
            // Two bytes past a line: no row starts on one.
            uint8_t *at = reinterpret_cast<uint8_t *>(
                              (reinterpret_cast<uintptr_t>(buf.data()) + 63) & ~uintptr_t(63)) +
                          compute_elem_size(type);
            std::memcpy(at, units.data(), units.size() * 2);
            Mat w;
            w.dtype = type;
            w.data = at;
            w.rows = s.n_out;
            w.cols = s.n_in;
            std::vector<float> x(size_t(kMaxRows * s.n_in)), bias(size_t(s.n_out));
            for (float &v : x) v = dist(rng);
            for (float &v : bias) v = dist(rng);
            for (int rows_per_pass : {1, 2, 4}) {
                set_decode_rows(rows_per_pass);
                std::vector<float> alone(size_t(kMaxRows * s.n_out));
                for (int64_t i = 0; i < kMaxRows; ++i)
                    linear(w, Layout::OutIn, x.data() + i * s.n_in, 1, bias.data(),
                           alone.data() + i * s.n_out, 1);
                for (int threads : {1, 2}) {
                    for (int64_t m = 1; m <= kMaxRows; ++m) {
                        std::vector<float> y(size_t(m * s.n_out));
                        linear_rows(w, x.data(), m, bias.data(), y.data(), threads);
                        ASSERT_EQ(std::memcmp(y.data(), alone.data(), y.size() * 4), 0)
                            << name(type) << " " << s.n_out << " x " << s.n_in << ", " << m
                            << " rows, " << threads << " threads, " << rows_per_pass
                            << " rows per pass";
                    }
                }
            }
            set_decode_rows(0);
        }
    }
}

// Several products over one x in one call (a layer's q, k and v; gate and up), matrices of
// different types, shapes and offsets in a line: each output the bits of its own linear_rows
// call, at any thread count.
TEST(LinearRows, SeveralProductsInOneCallHaveEachProductsBits) {
    std::mt19937 rng(11);
    std::normal_distribution<float> dist(0, 1);
    struct Spec {
        DType type;
        int64_t n_out;
        size_t offset;
    };
    const int64_t k = 576;
    // The last shares the first's line head: the call copies x once for both.
    const std::vector<Spec> specs{
        {DType::BF16, 200, 2}, {DType::F16, 64, 38}, {DType::F32, 37, 0}, {DType::BF16, 96, 2}};
    std::vector<std::vector<uint8_t>> bufs;
    std::vector<Mat> mats;
    std::vector<std::vector<float>> biases;
    for (const Spec &s : specs) {
        const std::vector<uint16_t> units = random_units(s.type, size_t(s.n_out * k), rng);
        bufs.emplace_back(units.size() * 2 + 128);
        uint8_t *at = reinterpret_cast<uint8_t *>(
                          (reinterpret_cast<uintptr_t>(bufs.back().data()) + 63) & ~uintptr_t(63)) +
                      s.offset;
        std::memcpy(at, units.data(), units.size() * 2);
        Mat w;
        w.dtype = s.type;
        w.data = at;
        w.rows = s.n_out;
        w.cols = k;
        mats.push_back(w);
        biases.emplace_back(size_t(s.n_out));
        for (float &v : biases.back()) v = dist(rng);
    }
    std::vector<float> x(size_t(9 * k));
    for (float &v : x) v = dist(rng);
    for (int threads : {1, 2, 3})
        for (int64_t m : {1, 2, 8, 9}) {
            std::vector<std::vector<float>> want, got;
            std::vector<RowsProduct> products;
            for (size_t p = 0; p < mats.size(); ++p) {
                want.emplace_back(size_t(m * mats[p].rows));
                got.emplace_back(size_t(m * mats[p].rows), -1.0f);
                linear_rows(mats[p], x.data(), m, p == 1 ? nullptr : biases[p].data(),
                            want.back().data(), 1);
            }
            for (size_t p = 0; p < mats.size(); ++p)
                products.push_back({&mats[p], p == 1 ? nullptr : biases[p].data(), got[p].data()});
            linear_rows(products.data(), products.size(), x.data(), m, threads);
            for (size_t p = 0; p < mats.size(); ++p)
                EXPECT_EQ(std::memcmp(want[p].data(), got[p].data(), want[p].size() * 4), 0)
                    << name(specs[p].type) << ", " << m << " rows, " << threads << " threads";
        }
}

// A decode step's products in one dispatch (linear() of several, and linear_rows for one row):
// every output has the bits linear() gives each matrix alone, for matrices of every type side by
// side (16-bit, F32, Q8_0 and Q4_1 sharing one quantized x), with and without biases, at 1-3
// threads. Then a prefill's rows: through the quantized matrices (one pass, x quantized once) and
// through all of them (each alone), the bits of linear() of each.
TEST(LinearDecode, ProductsOfEveryTypeHaveLinearsBits) {
    std::mt19937 rng(23);
    std::normal_distribution<float> dist(0, 1);
    const int64_t k = 576;
    struct Spec {
        DType type;
        QType quant;
        int64_t n_out;
    };
    const std::vector<Spec> specs{{DType::BF16, QType::None, 200},
                                  {DType::F32, QType::Q8_0, 96},
                                  {DType::F32, QType::Q4_1, 70},
                                  {DType::F32, QType::None, 37}};
    std::vector<std::vector<uint8_t>> bufs;
    std::vector<Mat> mats;
    std::vector<std::vector<float>> biases;
    for (const Spec &s : specs) {
        Mat w;
        w.dtype = s.type;
        w.rows = s.n_out;
        w.cols = k;
        w.quant = s.quant;
        if (s.quant != QType::None) {
            bufs.push_back(random_quantized(s.quant, s.n_out, k, rng));
        } else if (s.type == DType::F32) {
            bufs.emplace_back(size_t(s.n_out * k) * 4);
            for (size_t i = 0; i < size_t(s.n_out * k); ++i) {
                const float v = dist(rng);
                std::memcpy(bufs.back().data() + i * 4, &v, 4);
            }
        } else {
            const std::vector<uint16_t> units = random_units(s.type, size_t(s.n_out * k), rng);
            bufs.emplace_back(units.size() * 2);
            std::memcpy(bufs.back().data(), units.data(), units.size() * 2);
        }
        w.data = bufs.back().data();
        mats.push_back(w);
        biases.emplace_back(size_t(s.n_out));
        for (float &v : biases.back()) v = dist(rng);
    }
    std::vector<float> x(static_cast<size_t>(k));
    for (float &v : x) v = dist(rng);
    for (int threads : {1, 2, 3})
        for (bool through_rows : {false, true}) {
            std::vector<std::vector<float>> want, got;
            std::vector<RowsProduct> products;
            for (size_t p = 0; p < mats.size(); ++p) {
                const float *b = p == 2 ? nullptr : biases[p].data();
                want.emplace_back(size_t(mats[p].rows));
                got.emplace_back(size_t(mats[p].rows), -1.0f);
                linear(mats[p], Layout::OutIn, x.data(), 1, b, want.back().data(), 1);
            }
            for (size_t p = 0; p < mats.size(); ++p)
                products.push_back({&mats[p], p == 2 ? nullptr : biases[p].data(), got[p].data()});
            if (through_rows)
                linear_rows(products.data(), products.size(), x.data(), 1, threads);
            else
                linear(products.data(), products.size(), x.data(), 1, threads);
            for (size_t p = 0; p < mats.size(); ++p)
                EXPECT_EQ(std::memcmp(want[p].data(), got[p].data(), want[p].size() * 4), 0)
                    << "product " << p << ", " << threads << " threads"
                    << (through_rows ? ", through linear_rows" : "");
        }
    const int64_t m = 6;  // more than linear()'s matrix-vector rows
    std::vector<float> xs(static_cast<size_t>(m * k));
    for (float &v : xs) v = dist(rng);
    for (int threads : {1, 2, 3})
        for (size_t first : {size_t(1), size_t(0)}) {  // the quantized pair, then all four
            const size_t last = first == 1 ? 3 : mats.size();
            std::vector<std::vector<float>> want, got;
            std::vector<RowsProduct> products;
            for (size_t p = first; p < last; ++p) {
                want.emplace_back(size_t(m * mats[p].rows));
                got.emplace_back(size_t(m * mats[p].rows), -1.0f);
                linear(mats[p], Layout::OutIn, xs.data(), m, biases[p].data(), want.back().data(),
                       threads);
                products.push_back({&mats[p], biases[p].data(), got.back().data()});
            }
            linear(products.data(), products.size(), xs.data(), m, threads);
            for (size_t p = 0; p < products.size(); ++p)
                EXPECT_EQ(std::memcmp(want[p].data(), got[p].data(), want[p].size() * 4), 0)
                    << "product " << first + p << " of " << m << " rows, " << threads << " threads";
        }
}

// Quantized products over several rows of x in one call (an engine step's q, k and v; gate and
// up: x quantized once, one dispatch): every output has the bits linear() gives its row of x
// alone through its matrix alone, for Q8_0, Q4_1 and the interleaved Q8_0x16 and Q4_1x16 side by
// side, with and without biases, for batch sizes on both sides of the kernels' chunks of 8 rows,
// at 1-3 threads.
TEST(LinearRows, QuantizedProductsInOneCallHaveEachRowsBits) {
    std::mt19937 rng(29);
    std::normal_distribution<float> dist(0, 1);
    const int64_t k = 576;
    struct Spec {
        QType quant;
        int64_t n_out;
        bool interleave;
    };
    const bool rows16 = quant_ops().rows16;
    const std::vector<Spec> specs{{QType::Q8_0, 96, rows16},
                                  {QType::Q4_1, 64, rows16},
                                  {QType::Q8_0, 70, false},
                                  {QType::Q4_1, 48, false}};
    std::vector<std::vector<uint8_t>> bufs;
    std::vector<Mat> mats;
    std::vector<std::vector<float>> biases;
    for (const Spec &s : specs) {
        bufs.push_back(random_quantized(s.quant, s.n_out, k, rng));
        Mat w;
        w.rows = s.n_out;
        w.cols = k;
        w.quant = s.quant;
        if (s.interleave) {
            interleave_rows16(s.quant, bufs.back().data(), s.n_out, k);
            w.quant = s.quant == QType::Q8_0 ? QType::Q8_0x16 : QType::Q4_1x16;
        }
        w.data = bufs.back().data();
        mats.push_back(w);
        biases.emplace_back(size_t(s.n_out));
        for (float &v : biases.back()) v = dist(rng);
    }
    const int64_t max_m = 20;
    std::vector<float> x(size_t(max_m * k));
    for (float &v : x) v = dist(rng);
    for (int threads : {1, 2, 3})
        for (int64_t m : {2, 5, 8, 9, 20}) {
            std::vector<std::vector<float>> want, got;
            std::vector<RowsProduct> products;
            for (size_t p = 0; p < mats.size(); ++p) {
                const float *b = p == 1 ? nullptr : biases[p].data();
                const int64_t n = mats[p].rows;
                want.emplace_back(size_t(m * n));
                got.emplace_back(size_t(m * n), -1.0f);
                for (int64_t i = 0; i < m; ++i)
                    linear(mats[p], Layout::OutIn, x.data() + i * k, 1, b,
                           want.back().data() + i * n, 1);
                products.push_back({&mats[p], b, got.back().data()});
            }
            linear_rows(products.data(), products.size(), x.data(), m, threads);
            for (size_t p = 0; p < mats.size(); ++p)
                EXPECT_EQ(std::memcmp(want[p].data(), got[p].data(), want[p].size() * 4), 0)
                    << qtype_name(mats[p].quant) << ", " << m << " rows, " << threads << " threads";
        }
}
