// See simd.h. Each ISA's functions carry a target attribute rather than being compiled with -m
// flags, so nothing outside them can pick up AVX-512 instructions by accident.
//
// Why not vdpbf16ps for BF16 weights: it multiplies BF16 by BF16, so the activations would have to
// be rounded to BF16 (8 bits of mantissa), and the results would no longer match the float32
// reference within 1e-4. Decode is bound by memory bandwidth, and widening BF16 to F32 is one
// shift, so the exact path costs nothing measurable. (The opt-in BF16 compute mode rounds the
// activations for prefills, where the products are compute-bound: kernels/bf16_compute.h.)
#include "kernels/simd.h"

// GCC 12's AVX-512 headers use _mm512_undefined_* inside intrinsics such as _mm512_cvtph_ps and
// _mm512_reduce_add_ps, which trips -Wuninitialized at -O2 (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>

#include "kernels/cpu.h"
#include "kernels/quant.h"
#include "kernels/rows_per_pass.h"
#include "kernels/simd_avx2.h"
#include "kernels/simd_avx512.h"
#include "kernels/with_dtype.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace hfk::kern {

float f16_to_f32(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);  // inf / NaN
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        int e = -1;
        do {
            mant <<= 1;
            ++e;
        } while (!(mant & 0x400));
        bits = sign | uint32_t(112 - e) << 23 | ((mant & 0x3ff) << 13);
    }
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}

namespace {

// ---------------------------------------------------------------------------------------------
// Portable C
// ---------------------------------------------------------------------------------------------
inline float load_scalar(DType t, const void *p, int64_t i) {
    switch (t) {
        case DType::F16: {
            uint16_t h;
            std::memcpy(&h, static_cast<const uint16_t *>(p) + i, 2);
            return f16_to_f32(h);
        }
        case DType::BF16: {
            uint16_t b;
            std::memcpy(&b, static_cast<const uint16_t *>(p) + i, 2);
            return bf16_to_f32(b);
        }
        default: {
            float f;
            std::memcpy(&f, static_cast<const float *>(p) + i, 4);
            return f;
        }
    }
}

const void *row_ptr(DType t, const void *w, int64_t row, int64_t ld) {
    return static_cast<const char *>(w) + size_t(row) * size_t(ld) * compute_elem_size(t);
}

// The portable loops read one row at a time whatever per_pass asks: they are never the fast path,
// and the order of each output's sums is the same either way.
void dot_rows_scalar(DType t, const void *w, int64_t ld, int64_t rows, const float *x, int64_t k,
                     float *y, int /*per_pass*/) {
    for (int64_t r = 0; r < rows; ++r) {
        const void *row = row_ptr(t, w, r, ld);
        float acc = 0;
        for (int64_t i = 0; i < k; ++i) acc += load_scalar(t, row, i) * x[i];
        y[r] = acc;
    }
}

void dot_rows_batch_scalar(DType t, const void *w, int64_t ld, int64_t rows, const float *x,
                           int64_t ldx, int64_t m, int64_t k, float *y, int64_t ldy) {
    for (int64_t i = 0; i < m; ++i) dot_rows_scalar(t, w, ld, rows, x + i * ldx, k, y + i * ldy, 1);
}

void axpy_rows_scalar(DType t, const void *w, int64_t ld, int64_t k_rows, const float *x, int64_t n,
                      float *y, int /*per_pass*/) {
    for (int64_t j = 0; j < n; ++j) y[j] = 0;
    for (int64_t k = 0; k < k_rows; ++k) {
        const void *row = row_ptr(t, w, k, ld);
        for (int64_t j = 0; j < n; ++j) y[j] += x[k] * load_scalar(t, row, j);
    }
}

void to_f32_scalar(DType t, const void *src, int64_t n, float *dst) {
    for (int64_t i = 0; i < n; ++i) dst[i] = load_scalar(t, src, i);
}

float dot_scalar(const float *a, const float *b, int64_t n) {
    float acc = 0;
    for (int64_t i = 0; i < n; ++i) acc += a[i] * b[i];
    return acc;
}

void axpy_scalar(float a, const float *x, float *y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void scale_scalar(float *x, int64_t n, float a) {
    for (int64_t i = 0; i < n; ++i) x[i] *= a;
}

void exp_scalar(float *x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

float max_scalar(const float *x, int64_t n) {
    float m = x[0];
    for (int64_t i = 1; i < n; ++i) m = std::max(m, x[i]);
    return m;
}

double exp_sum_scalar(float *x, int64_t n, float shift) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += double(x[i] = std::exp(x[i] - shift));
    return sum;
}

// The reference for every ISA's from_f32. f32_to_f16 keeps no NaN payload: a NaN is 0x7e00.
inline uint16_t narrow_scalar(DType t, float f) {
    return t == DType::F16 ? f32_to_f16(f) : f32_to_bf16(f);
}

void from_f32_scalar(DType t, const float *src, int64_t n, void *dst) {
    if (t == DType::F32) {
        std::memcpy(dst, src, size_t(n) * 4);
        return;
    }
    auto *out = static_cast<uint16_t *>(dst);
    for (int64_t i = 0; i < n; ++i) out[i] = narrow_scalar(t, src[i]);
}

constexpr SimdOps kScalar{dot_rows_scalar, dot_rows_batch_scalar, axpy_rows_scalar, to_f32_scalar,
                          dot_scalar,      axpy_scalar,           scale_scalar,     exp_scalar,
                          max_scalar,      exp_sum_scalar,        from_f32_scalar,  nullptr,
                          nullptr};

#if defined(__x86_64__)
// ---------------------------------------------------------------------------------------------
// AVX2 + FMA + F16C (8 floats per register)
// ---------------------------------------------------------------------------------------------
using avx2::dot_block32;
using avx2::dot_finish8;
using avx2::hsum8;
using avx2::load8;
using avx2::Sums8;

// R rows (1, 2 or 4), `step` rows apart, side by side, block by block: R concurrent streams,
// each row's sums in the sequence of one row alone; y[0], y[step], ... are written. (Named rows
// rather than arrays: GCC -O2 keeps arrays indexed in a loop on the stack.)
template <DType T, int R>
HFK_AVX2 inline void dot_pass_avx2(const void *w, int64_t ld, int64_t step, const float *x,
                                   int64_t k, float *y) {
    static_assert(R == 1 || R == 2 || R == 4);
    const void *w0 = row_ptr(T, w, 0, ld), *w1 = row_ptr(T, w, R > 1 ? step : 0, ld),
               *w2 = row_ptr(T, w, R > 2 ? 2 * step : 0, ld),
               *w3 = row_ptr(T, w, R > 2 ? 3 * step : 0, ld);
    const __m256 z = _mm256_setzero_ps();
    Sums8 s0{z, z, z, z}, s1 = s0, s2 = s0, s3 = s0;
    const int64_t k32 = k & ~int64_t(31);
    for (int64_t i = 0; i < k32; i += 32) {
        dot_block32<T>(w0, x, i, s0);
        if constexpr (R > 1) dot_block32<T>(w1, x, i, s1);
        if constexpr (R > 2) {
            dot_block32<T>(w2, x, i, s2);
            dot_block32<T>(w3, x, i, s3);
        }
    }
    y[0] = dot_finish8<T>(w0, x, k32, k, s0);
    if constexpr (R > 1) y[step] = dot_finish8<T>(w1, x, k32, k, s1);
    if constexpr (R > 2) {
        y[2 * step] = dot_finish8<T>(w2, x, k32, k, s2);
        y[3 * step] = dot_finish8<T>(w3, x, k32, k, s3);
    }
}

// y[r] for every row, per_pass rows side by side (rows_per_pass.h chooses).
template <DType T>
HFK_AVX2 void dot_rows_avx2_t(const void *w, int64_t ld, int64_t rows, const float *x, int64_t k,
                              float *y, int per_pass) {
    // per_pass streams: the rows are cut into per_pass blocks read side by side, each block from
    // its first row to its last, so every stream is long and sequential (rows next to each other
    // would make short streams that restart every pass: measured much slower on Zen 5). Rows
    // left over go one at a time.
    int64_t r = 0;
    if (per_pass >= 4 && rows >= 4) {
        const int64_t block = rows / 4;
        for (; r < block; ++r) dot_pass_avx2<T, 4>(row_ptr(T, w, r, ld), ld, block, x, k, y + r);
        r = 4 * block;
    } else if (per_pass >= 2 && rows >= 2) {
        const int64_t block = rows / 2;
        for (; r < block; ++r) dot_pass_avx2<T, 2>(row_ptr(T, w, r, ld), ld, block, x, k, y + r);
        r = 2 * block;
    }
    for (; r < rows; ++r) dot_pass_avx2<T, 1>(row_ptr(T, w, r, ld), ld, 1, x, k, y + r);
}

// dot_rows_batch's register block: R rows of x times C rows of W. Each (x row, W row) pair keeps
// its own four accumulators and takes the sequence dot_pass_avx2 gives it alone -- blocks of 32
// into a0..a3, blocks of 8 into a0, hsum8((a0 + a1) + (a2 + a3)), then the scalar tail: the
// steps of dot_finish8, written out so that all pairs' run side by side -- so the bits are
// dot_rows'. A weight vector is converted once for the R rows, an activation vector loaded once
// for the C outputs. R * C * 4 accumulators: R * C <= 3 fits the 16 registers.
template <DType T, int R, int C>
HFK_AVX2 inline void dot_block_avx2(const void *const *w, const float *const *x, int64_t k,
                                    float *y, int64_t ldy) {
    __m256 a[4][R][C];
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q)
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
            for (int c = 0; c < C; ++c) a[q][r][c] = _mm256_setzero_ps();
    const int64_t k32 = k & ~int64_t(31);
    for (int64_t i = 0; i < k32; i += 32) {
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) {
            __m256 wv[C];
#pragma GCC unroll 4
            for (int c = 0; c < C; ++c) wv[c] = load8<T>(w[c], i + 8 * q);
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) {
                const __m256 xv = _mm256_loadu_ps(x[r] + i + 8 * q);
#pragma GCC unroll 4
                for (int c = 0; c < C; ++c) a[q][r][c] = _mm256_fmadd_ps(wv[c], xv, a[q][r][c]);
            }
        }
    }
    int64_t i = k32;
    for (; i + 8 <= k; i += 8) {
        __m256 wv[C];
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) wv[c] = load8<T>(w[c], i);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            const __m256 xv = _mm256_loadu_ps(x[r] + i);
#pragma GCC unroll 4
            for (int c = 0; c < C; ++c) a[0][r][c] = _mm256_fmadd_ps(wv[c], xv, a[0][r][c]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) {
            float sum = hsum8(_mm256_add_ps(_mm256_add_ps(a[0][r][c], a[1][r][c]),
                                            _mm256_add_ps(a[2][r][c], a[3][r][c])));
            for (int64_t j = i; j < k; ++j) sum += load_scalar(T, w[c], j) * x[r][j];
            y[r * ldy + c] = sum;
        }
}

// dot_rows_batch_avx2 takes the rows of x in groups of three; a row left over would make a group
// of one (a third of the work per weight vector), so the last four go as two and two. The size of
// the group that starts at row i of m.
inline int x_group(int64_t i, int64_t m) {
    return m - i >= 3 && m - i != 4 ? 3 : m - i >= 2 ? 2 : 1;
}

// Rows of x per block of dot_rows_batch: all rows of a block pass over each row of W while it is
// in L1, so a block's rows should stay in L1 too: 32 KiB of them, leaving a third of Zen 4/5's
// 48 KiB to the weights (14 rows of 576 floats). Measured on Zen 5, 8 rows against 576 x 1536
// BF16: 72 GMAC/s with 32 KiB blocks, 60 with 48 KiB; 64 rows against 1536 x 576: 57 and 48.
// But never fewer than 8, the AVX-512 kernel's register block: 8 rows of 1536 in blocks of 5
// went as groups of 5 and 3, 3.10 G FMA/s against 3.38 in one group of 8 (one Zen 5 core, the
// weights from memory; the rows of x the group re-reads come from L2 at one load per 3 FMAs).
// Larger batches (prompt chunks) go block by block over W, which a tile of linear_rows keeps in
// L2. Any split gives the same bits: each output is summed alone.
inline int64_t x_block_rows(int64_t k) {
    return std::max<int64_t>(8, (int64_t(32) << 10) / (4 * std::max<int64_t>(k, 1)));
}

// One row of W against the R rows of x from row i (x rows ldx apart, y rows ldy apart).
template <DType T, int R>
HFK_AVX2 inline void dot_group_avx2(const void *wr, const float *x, int64_t ldx, int64_t k,
                                    float *y, int64_t ldy) {
    const float *xr[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) xr[r] = x + r * ldx;
    dot_block_avx2<T, R, 1>(&wr, xr, k, y, ldy);
}

// Row by row of W, every group of x against it while it is in L1: the weights stream from
// memory once, overlapped with the arithmetic, and the rows of x stay in cache.
template <DType T>
HFK_AVX2 void dot_rows_batch_block_avx2(const void *w, int64_t ld, int64_t rows, const float *x,
                                        int64_t ldx, int64_t m, int64_t k, float *y, int64_t ldy) {
    for (int64_t j = 0; j < rows; ++j) {
        const void *wr = row_ptr(T, w, j, ld);
        for (int64_t i = 0, g; i < m; i += g) {
            g = x_group(i, m);
            if (g == 3)
                dot_group_avx2<T, 3>(wr, x + i * ldx, ldx, k, y + i * ldy + j, ldy);
            else if (g == 2)
                dot_group_avx2<T, 2>(wr, x + i * ldx, ldx, k, y + i * ldy + j, ldy);
            else
                dot_group_avx2<T, 1>(wr, x + i * ldx, ldx, k, y + i * ldy + j, ldy);
        }
    }
}

template <DType T>
HFK_AVX2 void dot_rows_batch_avx2_t(const void *w, int64_t ld, int64_t rows, const float *x,
                                    int64_t ldx, int64_t m, int64_t k, float *y, int64_t ldy) {
    const int64_t block = x_block_rows(k);
    for (int64_t i = 0; i < m; i += block)
        dot_rows_batch_block_avx2<T>(w, ld, rows, x + i * ldx, ldx, std::min(block, m - i), k,
                                     y + i * ldy, ldy);
}

HFK_AVX2 void dot_rows_batch_avx2(DType t, const void *w, int64_t ld, int64_t rows, const float *x,
                                  int64_t ldx, int64_t m, int64_t k, float *y, int64_t ldy) {
    with_dtype(t, [&](auto T) {
        dot_rows_batch_avx2_t<decltype(T)::value>(w, ld, rows, x, ldx, m, k, y, ldy);
    });
}

// y += x0 W0 + x1 W1 (+ x2 W2 + x3 W3): R rows (1, 2 or 4) in one pass over y, each y[j]
// taking the rows in order, one rounded FMA each, exactly as R passes of one row would.
template <DType T, int R>
HFK_AVX2 inline void axpy_pass_avx2(const void *w, int64_t ld, const float *x, int64_t n,
                                    float *y) {
    static_assert(R == 1 || R == 2 || R == 4);
    const void *w0 = row_ptr(T, w, 0, ld), *w1 = row_ptr(T, w, R > 1 ? 1 : 0, ld),
               *w2 = row_ptr(T, w, R > 2 ? 2 : 0, ld), *w3 = row_ptr(T, w, R > 2 ? 3 : 0, ld);
    const __m256 x0 = _mm256_set1_ps(x[0]), x1 = _mm256_set1_ps(x[R > 1 ? 1 : 0]),
                 x2 = _mm256_set1_ps(x[R > 2 ? 2 : 0]), x3 = _mm256_set1_ps(x[R > 2 ? 3 : 0]);
    const int64_t n8 = n & ~int64_t(7);
    for (int64_t j = 0; j < n8; j += 8) {
        __m256 acc = _mm256_fmadd_ps(load8<T>(w0, j), x0, _mm256_loadu_ps(y + j));
        if constexpr (R > 1) acc = _mm256_fmadd_ps(load8<T>(w1, j), x1, acc);
        if constexpr (R > 2) {
            acc = _mm256_fmadd_ps(load8<T>(w2, j), x2, acc);
            acc = _mm256_fmadd_ps(load8<T>(w3, j), x3, acc);
        }
        _mm256_storeu_ps(y + j, acc);
    }
    for (int64_t j = n8; j < n; ++j) {
        float acc = std::fma(load_scalar(T, w0, j), x[0], y[j]);
        for (int r = 1; r < R; ++r)
            acc = std::fma(load_scalar(T, row_ptr(T, w, r, ld), j), x[r], acc);
        y[j] = acc;
    }
}

template <DType T>
HFK_AVX2 void axpy_rows_avx2_t(const void *w, int64_t ld, int64_t k_rows, const float *x, int64_t n,
                               float *y, int per_pass) {
    std::memset(y, 0, size_t(n) * 4);
    int64_t k = 0;
    if (per_pass >= 4)
        for (; k + 4 <= k_rows; k += 4) axpy_pass_avx2<T, 4>(row_ptr(T, w, k, ld), ld, x + k, n, y);
    if (per_pass >= 2)
        for (; k + 2 <= k_rows; k += 2) axpy_pass_avx2<T, 2>(row_ptr(T, w, k, ld), ld, x + k, n, y);
    for (; k < k_rows; ++k) axpy_pass_avx2<T, 1>(row_ptr(T, w, k, ld), ld, x + k, n, y);
}

HFK_AVX2 void dot_rows_avx2(DType t, const void *w, int64_t ld, int64_t rows, const float *x,
                            int64_t k, float *y, int per_pass) {
    with_dtype(
        t, [&](auto T) { dot_rows_avx2_t<decltype(T)::value>(w, ld, rows, x, k, y, per_pass); });
}

HFK_AVX2 void axpy_rows_avx2(DType t, const void *w, int64_t ld, int64_t k_rows, const float *x,
                             int64_t n, float *y, int per_pass) {
    with_dtype(
        t, [&](auto T) { axpy_rows_avx2_t<decltype(T)::value>(w, ld, k_rows, x, n, y, per_pass); });
}

HFK_AVX2 void to_f32_avx2(DType t, const void *src, int64_t n, float *dst) {
    const int64_t n8 = n & ~int64_t(7);
    if (t == DType::F16) {
        for (int64_t i = 0; i < n8; i += 8) _mm256_storeu_ps(dst + i, load8<DType::F16>(src, i));
    } else if (t == DType::BF16) {
        for (int64_t i = 0; i < n8; i += 8) _mm256_storeu_ps(dst + i, load8<DType::BF16>(src, i));
    } else {
        std::memcpy(dst, src, size_t(n) * 4);
        return;
    }
    for (int64_t i = n8; i < n; ++i) dst[i] = load_scalar(t, src, i);
}

HFK_AVX2 float dot_avx2(const float *a, const float *b, int64_t n) {
    const int64_t n8 = n & ~int64_t(7);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n8; i += 8)
        acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
    float s = hsum8(acc);
    for (int64_t i = n8; i < n; ++i) s += a[i] * b[i];
    return s;
}

HFK_AVX2 void axpy_avx2(float a, const float *x, float *y, int64_t n) {
    const int64_t n8 = n & ~int64_t(7);
    __m256 av = _mm256_set1_ps(a);
    for (int64_t i = 0; i < n8; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (int64_t i = n8; i < n; ++i) y[i] += a * x[i];
}

HFK_AVX2 void scale_avx2(float *x, int64_t n, float a) {
    const int64_t n8 = n & ~int64_t(7);
    const __m256 av = _mm256_set1_ps(a);
    for (int64_t i = 0; i < n8; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), av));
    for (int64_t i = n8; i < n; ++i) x[i] *= a;
}

// exp(x) = 2^n * exp(r), r = x - n ln2 in [-ln2/2, ln2/2]; Cephes' degree-6 polynomial.
HFK_AVX2 inline __m256 exp8(__m256 x) {
    // (constant first: min/max return the second operand when one is NaN, so NaN stays NaN)
    x = _mm256_min_ps(_mm256_set1_ps(88.72283f), _mm256_max_ps(_mm256_set1_ps(-87.33654f), x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500E-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    // 2^n by building exponents: n is in [-126, 128] after the clamp, so split it in two halves
    // that are each a normal power of two.
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256 s1 =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

HFK_AVX2 void exp_avx2(float *x, int64_t n) {
    const int64_t n8 = n & ~int64_t(7);
    for (int64_t i = 0; i < n8; i += 8) _mm256_storeu_ps(x + i, exp8(_mm256_loadu_ps(x + i)));
    if (n8 < n) {
        float tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        std::memcpy(tmp, x + n8, size_t(n - n8) * 4);
        _mm256_storeu_ps(tmp, exp8(_mm256_loadu_ps(tmp)));
        std::memcpy(x + n8, tmp, size_t(n - n8) * 4);
    }
}

HFK_AVX2 float max_avx2(const float *x, int64_t n) {
    const int64_t n8 = n & ~int64_t(7);
    __m256 m = _mm256_set1_ps(x[0]);
    for (int64_t i = 0; i < n8; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
    float lanes[8];
    _mm256_storeu_ps(lanes, m);
    float r = lanes[0];
    for (int64_t j = 1; j < 8; ++j) r = std::max(r, lanes[j]);
    for (int64_t i = n8; i < n; ++i) r = std::max(r, x[i]);
    return r;
}

HFK_AVX2 double exp_sum_avx2(float *x, int64_t n, float shift) {
    const int64_t n8 = n & ~int64_t(7);
    const __m256 sh = _mm256_set1_ps(shift);
    __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();
    for (int64_t i = 0; i < n8; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), sh));
        _mm256_storeu_ps(x + i, e);
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(lo, hi));
    double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    if (n8 < n) {
        float tmp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (int64_t i = n8; i < n; ++i) tmp[i - n8] = x[i] - shift;
        _mm256_storeu_ps(tmp, exp8(_mm256_loadu_ps(tmp)));
        for (int64_t i = n8; i < n; ++i) sum += double(x[i] = tmp[i - n8]);
    }
    return sum;
}

// 8 floats to F16 or BF16 (as narrow_scalar). A NaN lane is first replaced by the quiet NaN of
// its sign with no payload, so that the conversion cannot carry payload bits into the result.
template <DType T>
HFK_AVX2 inline __m128i narrow8(__m256 x) {
    const __m256 nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    const __m256 quiet = _mm256_or_ps(_mm256_and_ps(x, _mm256_set1_ps(-0.0f)),
                                      _mm256_castsi256_ps(_mm256_set1_epi32(0x7fc00000)));
    x = _mm256_blendv_ps(x, quiet, nan);
    if constexpr (T == DType::F16) {
        return _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    } else {
        // Round to nearest even on the integer bits: u + 0x7fff + (bit 16 of u), then >> 16
        // (the quiet NaN 0x7fc00000 has nothing below bit 16: it stays 0x7fc0).
        const __m256i u = _mm256_castps_si256(x);
        const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
        const __m256i r = _mm256_srli_epi32(
            _mm256_add_epi32(_mm256_add_epi32(u, _mm256_set1_epi32(0x7fff)), odd), 16);
        // Pack the 32-bit lanes (each < 0x10000) to 16 bits; packus works per 128-bit half.
        const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
        return _mm256_castsi256_si128(p);
    }
}

template <DType T>
HFK_AVX2 void from_f32_avx2_t(const float *src, int64_t n, void *dst) {
    auto *out = static_cast<uint16_t *>(dst);
    const int64_t n8 = n & ~int64_t(7);
    for (int64_t i = 0; i < n8; i += 8)
        _mm_storeu_si128(reinterpret_cast<__m128i *>(out + i),
                         narrow8<T>(_mm256_loadu_ps(src + i)));
    for (int64_t i = n8; i < n; ++i) out[i] = narrow_scalar(T, src[i]);
}

HFK_AVX2 void from_f32_avx2(DType t, const float *src, int64_t n, void *dst) {
    if (t == DType::F16)
        from_f32_avx2_t<DType::F16>(src, n, dst);
    else if (t == DType::BF16)
        from_f32_avx2_t<DType::BF16>(src, n, dst);
    else
        std::memcpy(dst, src, size_t(n) * 4);
}

constexpr SimdOps kAvx2{dot_rows_avx2,
                        dot_rows_batch_avx2,
                        axpy_rows_avx2,
                        to_f32_avx2,
                        dot_avx2,
                        axpy_avx2,
                        scale_avx2,
                        exp_avx2,
                        max_avx2,
                        exp_sum_avx2,
                        from_f32_avx2,
                        dot_rows_heads_avx2,
                        axpy_rows_heads_avx2};

// ---------------------------------------------------------------------------------------------
// AVX-512 F/BW/VL/DQ (16 floats per register, masked tails)
// ---------------------------------------------------------------------------------------------
// load16, load16_mask, tail_mask: kernels/simd_avx512.h
using avx512::dot_masked16;
using avx512::load16;
using avx512::load16_mask;
using avx512::tail_mask;

// Elements of a row of T starting at p before its first 64-byte boundary (at most n).
template <DType T>
HFK_AVX512 inline int64_t elements_before_line(const void *p, int64_t n) {
    constexpr int64_t kElem = compute_elem_size(T);
    return std::min<int64_t>(n, int64_t((64 - (reinterpret_cast<uintptr_t>(p) & 63)) & 63) / kElem);
}

// The head dot_rows reads first, in masked pieces, so that no later load straddles two lines:
// the elements before the row's first 64-byte boundary. Except in rows of at most kNoHeadMax
// elements, read from their first element: with one accumulator the head's lanes mix with the
// blocks', so a row's bits depend on where it starts in a line, and short rows are a KV cache's
// (a paged and a contiguous cache hold a key at different offsets and must give the same scores:
// PagedAttention.*) or a small model's; long rows are weights, which the decode and the batched
// kernel read at the same addresses.
constexpr int64_t kNoHeadMax = 256;
template <DType T>
HFK_AVX512 inline int64_t dot_head(const void *p, int64_t k) {
    return k <= kNoHeadMax ? 0 : elements_before_line<T>(p, k);
}

// One output of dot_rows is one accumulator of 16 lanes: the row's head (dot_head) in masked
// pieces, then every block of 16 in order, then a masked tail, then the sum of the lanes. One chain
// of FMAs a row: a decode pass reads four rows side by side (rows_per_pass.h), four chains, which
// keep pace with memory with room to spare (one FMA of 16 BF16 weights a cycle would read 32 bytes
// a cycle); and a batched product holds one accumulator per (x row, W row) pair, so 24 pairs fit
// the registers (dot_block_avx512). Four accumulators a row, as before, held a batch's register
// block to 6 pairs.

// A row's head (`head` elements), in masked pieces: avx512::dot_masked16.

// 64 elements of a row from i into its sum.
template <DType T>
HFK_AVX512 inline void dot_block64(const void *w, const float *x, int64_t i, __m512 &s) {
    s = _mm512_fmadd_ps(load16<T>(w, i), _mm512_loadu_ps(x + i), s);
    s = _mm512_fmadd_ps(load16<T>(w, i + 16), _mm512_loadu_ps(x + i + 16), s);
    s = _mm512_fmadd_ps(load16<T>(w, i + 32), _mm512_loadu_ps(x + i + 32), s);
    s = _mm512_fmadd_ps(load16<T>(w, i + 48), _mm512_loadu_ps(x + i + 48), s);
}

// The rest of a row from i (past its head), then the output.
template <DType T>
HFK_AVX512 inline float dot_finish16(const void *w, const float *x, int64_t i, int64_t k,
                                     __m512 s) {
    for (; i + 16 <= k; i += 16) s = _mm512_fmadd_ps(load16<T>(w, i), _mm512_loadu_ps(x + i), s);
    if (i < k) {
        const __mmask16 m = tail_mask(k - i);
        s = _mm512_fmadd_ps(load16_mask<T>(w, i, m), _mm512_maskz_loadu_ps(m, x + i), s);
    }
    return _mm512_reduce_add_ps(s);
}

// A software prefetch of the lines `ahead` bytes past element i of a 16-bit row (the two lines
// the block of 64 elements that far ahead will read), into L2.
template <DType T>
HFK_AVX512 inline void prefetch_block64(const void *w, int64_t i, int64_t ahead) {
    static_assert(T != DType::F32);
    const char *p = static_cast<const char *>(w) + 2 * i + ahead;
    _mm_prefetch(p, _MM_HINT_T1);
    _mm_prefetch(p + 64, _MM_HINT_T1);
}

// R rows (1, 2 or 4), `step` rows apart, side by side, 64 elements at a time: R concurrent
// streams, writing y[0], y[step], ... Each row is summed in the sequence it has alone (its head,
// its blocks of 16, its tail, as above), so the bits do not depend on R. Rows may start at
// different offsets in a line (their heads differ): the blocks of 64 all of them have run side by
// side, a block one row has more is finished alone. (Named rows rather than arrays: GCC -O2 keeps
// arrays indexed in a loop on the stack.)
template <DType T, int R>
HFK_AVX512 inline void dot_pass_avx512(const void *w, int64_t ld, int64_t step, const float *x,
                                       int64_t k, float *y, int64_t prefetch) {
    static_assert(R == 1 || R == 2 || R == 4);
    const void *w0 = row_ptr(T, w, 0, ld), *w1 = row_ptr(T, w, R > 1 ? step : 0, ld),
               *w2 = row_ptr(T, w, R > 2 ? 2 * step : 0, ld),
               *w3 = row_ptr(T, w, R > 2 ? 3 * step : 0, ld);
    const int64_t h0 = dot_head<T>(w0, k), h1 = dot_head<T>(w1, k), h2 = dot_head<T>(w2, k),
                  h3 = dot_head<T>(w3, k);
    __m512 s0 = dot_masked16<T>(w0, x, h0), s1 = s0, s2 = s0, s3 = s0;
    int64_t blocks = (k - h0) / 64;
    if constexpr (R > 1) {
        s1 = dot_masked16<T>(w1, x, h1);
        blocks = std::min(blocks, (k - h1) / 64);
    }
    if constexpr (R > 2) {
        s2 = dot_masked16<T>(w2, x, h2);
        s3 = dot_masked16<T>(w3, x, h3);
        blocks = std::min(blocks, std::min((k - h2) / 64, (k - h3) / 64));
    }
    const int64_t done = 64 * blocks;
    for (int64_t b = 0; b < done; b += 64) {
        if constexpr (T != DType::F32) {
            if (prefetch) {
                prefetch_block64<T>(w0, h0 + b, prefetch);
                if constexpr (R > 1) prefetch_block64<T>(w1, h1 + b, prefetch);
                if constexpr (R > 2) {
                    prefetch_block64<T>(w2, h2 + b, prefetch);
                    prefetch_block64<T>(w3, h3 + b, prefetch);
                }
            }
        }
        dot_block64<T>(w0, x, h0 + b, s0);
        if constexpr (R > 1) dot_block64<T>(w1, x, h1 + b, s1);
        if constexpr (R > 2) {
            dot_block64<T>(w2, x, h2 + b, s2);
            dot_block64<T>(w3, x, h3 + b, s3);
        }
    }
    y[0] = dot_finish16<T>(w0, x, h0 + done, k, s0);
    if constexpr (R > 1) y[step] = dot_finish16<T>(w1, x, h1 + done, k, s1);
    if constexpr (R > 2) {
        y[2 * step] = dot_finish16<T>(w2, x, h2 + done, k, s2);
        y[3 * step] = dot_finish16<T>(w3, x, h3 + done, k, s3);
    }
}

// dot_rows_batch's register block: R rows of x times C rows of W, which all start at the same
// offset in a cache line (the same head h). Each (x row, W row) pair keeps one accumulator and
// takes the sequence dot_pass_avx512 gives it alone -- the head in masked pieces, the blocks of
// 16 in order, the masked tail, the sum of the lanes -- so the bits are dot_rows'. A weight vector
// is converted once for the R rows, an activation vector loaded once for the C outputs: R * C
// reaches 24 (8 rows of x times 3 of W, with the 3 weight vectors and one of x: 28 of the 32
// registers). Zen 5, 8 rows against 192 x 576 BF16 in L1: 3.25 G FMA/s, 90% of the core's FMA
// rate, where four accumulators a pair (blocks of 3 x 2) ran at 2.66.
//
// pf (bytes, 0: none): the lines that far past each block of 64 weights (the next group of rows,
// while this one computes) are prefetched into L1 as the block is used, and those kFarPrefetch
// bytes further on into L2. With the near prefetch alone the memory stream and the arithmetic
// took turns: 8 rows against 70 MB of 1536 x 576 BF16 matrices, two threads, 5.3-5.5 G FMA/s
// with it, 5.9-6.1 with both (Zen 5).
constexpr int64_t kFarPrefetch = 16 << 10;

template <DType T, int R, int C>
HFK_AVX512 inline void fma_step16(const void *const *w, const float *const *x, int64_t i,
                                  __m512 (&acc)[R][C]) {
    __m512 wv[C];
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) wv[c] = load16<T>(w[c], i);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
        __m512 xv = _mm512_loadu_ps(x[r] + i);
        // In a register: folded into each of the C FMAs it would be loaded C times, and the
        // loads (not the FMAs) would bound the loop.
        if constexpr (C > 1) asm("" : "+v"(xv));
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(wv[c], xv, acc[r][c]);
    }
}

template <DType T, int R, int C>
HFK_AVX512 inline void fma_step16_mask(const void *const *w, const float *const *x, int64_t i,
                                       __mmask16 m, __m512 (&acc)[R][C]) {
    __m512 wv[C];
#pragma GCC unroll 8
    for (int c = 0; c < C; ++c) wv[c] = load16_mask<T>(w[c], i, m);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
        const __m512 xv = _mm512_maskz_loadu_ps(m, x[r] + i);
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) acc[r][c] = _mm512_fmadd_ps(wv[c], xv, acc[r][c]);
    }
}

template <DType T, int R, int C>
HFK_AVX512 inline void dot_block_avx512(const void *const *w, int64_t h, const float *const *x,
                                        int64_t k, float *const *y, int64_t ldy, int64_t pf) {
    __m512 acc[R][C];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
    for (int64_t i = 0; i < h; i += 16)
        fma_step16_mask<T, R, C>(w, x, i, tail_mask(std::min<int64_t>(16, h - i)), acc);
    int64_t i = h;
    for (; i + 64 <= k; i += 64) {
        if (pf) {
            // Written out here: GCC 12 -O2 dropped these prefetches (all of them, silently) when
            // they sat in a helper function inlined at this point.
            constexpr int64_t kBytes = 64 * compute_elem_size(T);
#pragma GCC unroll 8
            for (int c = 0; c < C; ++c)
#pragma GCC unroll 4
                for (int64_t b = 0; b < kBytes; b += 64) {
                    const char *p = static_cast<const char *>(w[c]) + kBytes / 64 * i + pf + b;
                    _mm_prefetch(p, _MM_HINT_T0);
                    _mm_prefetch(p + kFarPrefetch, _MM_HINT_T1);
                }
        }
        fma_step16<T, R, C>(w, x, i, acc);
        fma_step16<T, R, C>(w, x, i + 16, acc);
        fma_step16<T, R, C>(w, x, i + 32, acc);
        fma_step16<T, R, C>(w, x, i + 48, acc);
    }
    for (; i + 16 <= k; i += 16) fma_step16<T, R, C>(w, x, i, acc);
    if (i < k) fma_step16_mask<T, R, C>(w, x, i, tail_mask(k - i), acc);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) y[c][r * ldy] = _mm512_reduce_add_ps(acc[r][c]);
}

// Rows of W a register block takes for R rows of x: as many as keep R * C accumulators, the C
// weight vectors and one of x within the 32 registers.
constexpr int w_rows_for(int r) {
    return r <= 3 ? 6 : r == 4 ? 5 : r <= 6 ? 4 : 3;
}

// The rows of x in groups of at most 8, as even as they go (9 rows: 5 and 4, not 8 and 1): the
// size of the group that starts at row i of m.
inline int x_group_avx512(int64_t i, int64_t m) {
    const int64_t left = m - i, groups = (left + 7) / 8;
    return int((left + groups - 1) / groups);
}

// The R rows of x from x (ldx apart) against the rows of W from w: groups of w_rows_for(R)
// consecutive rows that share a head, any other row alone; y[j] is row j's output for the first
// row of x, the others ldy apart. pf: prefetch the next group's rows as each goes (the first
// group of x of a block only: the others find them in cache).
template <DType T, int R>
HFK_AVX512 inline void dot_rows_group_avx512(const void *w, int64_t ld, int64_t rows,
                                             const float *x, int64_t ldx, int64_t k, float *y,
                                             int64_t ldy, bool prefetch) {
    constexpr int C = w_rows_for(R);
    const int64_t row_bytes = ld * int64_t(compute_elem_size(T));
    const float *xr[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) xr[r] = x + r * ldx;
    for (int64_t j = 0; j < rows; j += C) {
        const int64_t n = std::min<int64_t>(C, rows - j);
        const void *wr[C] = {};
        float *yr[C] = {};
        for (int64_t c = 0; c < n; ++c) {
            wr[c] = row_ptr(T, w, j + c, ld);
            yr[c] = y + j + c;
        }
        const int64_t h = dot_head<T>(wr[0], k);
        bool same = n == C;
        for (int64_t c = 1; c < n; ++c) same = same && dot_head<T>(wr[c], k) == h;
        const int64_t pf = prefetch && j + n < rows ? n * row_bytes : 0;
        if (same) {
            dot_block_avx512<T, R, C>(wr, h, xr, k, yr, ldy, pf);
            continue;
        }
        for (int64_t c = 0; c < n; ++c)
            dot_block_avx512<T, R, 1>(wr + c, dot_head<T>(wr[c], k), xr, k, yr + c, ldy,
                                      c == 0 ? pf : 0);
    }
}

// dot_rows_group_avx512<T, 1..N>, by group size.
template <DType T, size_t... R>
constexpr auto group_kernels(std::index_sequence<R...>) {
    return std::array{&dot_rows_group_avx512<T, int(R) + 1>...};
}

template <DType T>
HFK_AVX512 void dot_rows_batch_block_avx512(const void *w, int64_t ld, int64_t rows, const float *x,
                                            int64_t ldx, int64_t m, int64_t k, float *y,
                                            int64_t ldy) {
    for (int64_t i = 0, g; i < m; i += g) {
        g = x_group_avx512(i, m);
        const float *xg = x + i * ldx;
        float *yg = y + i * ldy;
        const bool pf = i == 0;
        // The group's size is a template argument (its accumulators are registers).
        static constexpr auto kGroups = group_kernels<T>(std::make_index_sequence<8>());
        kGroups[size_t(g - 1)](w, ld, rows, xg, ldx, k, yg, ldy, pf);
    }
}

template <DType T>
HFK_AVX512 void dot_rows_batch_avx512_t(const void *w, int64_t ld, int64_t rows, const float *x,
                                        int64_t ldx, int64_t m, int64_t k, float *y, int64_t ldy) {
    const int64_t block = x_block_rows(k);
    for (int64_t i = 0; i < m; i += block)
        dot_rows_batch_block_avx512<T>(w, ld, rows, x + i * ldx, ldx, std::min(block, m - i), k,
                                       y + i * ldy, ldy);
}

HFK_AVX512 void dot_rows_batch_avx512(DType t, const void *w, int64_t ld, int64_t rows,
                                      const float *x, int64_t ldx, int64_t m, int64_t k, float *y,
                                      int64_t ldy) {
    with_dtype(t, [&](auto T) {
        dot_rows_batch_avx512_t<decltype(T)::value>(w, ld, rows, x, ldx, m, k, y, ldy);
    });
}

// The weights are read with loads that never straddle two cache lines: a checkpoint's tensors
// start wherever its header ends (8-byte aligned at best), and on Zen 5 a stream of straddling
// loads from memory ran at 60% of the speed of aligned ones (llama-135m F32 matrices 40 bytes
// past a line: 43 -> 73 tokens/s in isolation). So each row first takes the elements before
// its first 64-byte boundary in masked pieces, then whole aligned lines. No software prefetch for
// F32: with aligned loads the hardware prefetcher keeps up on Zen 5, and a prefetch 4 KiB ahead
// (which once made up for the straddling loads) cost F32 decode a third (48 -> 32 tokens/s).
// 16-bit weights prefetch as decode_prefetch_bytes() says (rows_per_pass.h: on Intel only).
template <DType T>
HFK_AVX512 void dot_rows_avx512_t(const void *w, int64_t ld, int64_t rows, const float *x,
                                  int64_t k, float *y, int per_pass) {
    // per_pass streams: the rows are cut into per_pass blocks read side by side, each block from
    // its first row to its last, so every stream is long and sequential (rows next to each other
    // would make short streams that restart every pass: measured much slower on Zen 5). Rows
    // left over go one at a time.
    const int64_t pf = T == DType::F32 ? 0 : decode_prefetch_bytes();
    int64_t r = 0;
    if (per_pass >= 4 && rows >= 4) {
        const int64_t block = rows / 4;
        for (; r < block; ++r)
            dot_pass_avx512<T, 4>(row_ptr(T, w, r, ld), ld, block, x, k, y + r, pf);
        r = 4 * block;
    } else if (per_pass >= 2 && rows >= 2) {
        const int64_t block = rows / 2;
        for (; r < block; ++r)
            dot_pass_avx512<T, 2>(row_ptr(T, w, r, ld), ld, block, x, k, y + r, pf);
        r = 2 * block;
    }
    for (; r < rows; ++r) dot_pass_avx512<T, 1>(row_ptr(T, w, r, ld), ld, 1, x, k, y + r, pf);
}

// y[j..j+16) += x0 W0[j..] (+ x1 W1[j..] + x2 W2[j..] + x3 W3[j..]), the rows in that order,
// the lanes of `m` only.
template <DType T, int R>
HFK_AVX512 inline void axpy_piece16(const void *w0, const void *w1, const void *w2, const void *w3,
                                    __m512 x0, __m512 x1, __m512 x2, __m512 x3, float *y, int64_t j,
                                    __mmask16 m) {
    __m512 acc = _mm512_fmadd_ps(load16_mask<T>(w0, j, m), x0, _mm512_maskz_loadu_ps(m, y + j));
    if constexpr (R > 1) acc = _mm512_fmadd_ps(load16_mask<T>(w1, j, m), x1, acc);
    if constexpr (R > 2) {
        acc = _mm512_fmadd_ps(load16_mask<T>(w2, j, m), x2, acc);
        acc = _mm512_fmadd_ps(load16_mask<T>(w3, j, m), x3, acc);
    }
    _mm512_mask_storeu_ps(y + j, m, acc);
}

// R rows (1, 2 or 4) of W in one pass over y: each y[j] takes the rows in order, one rounded FMA
// each, exactly as R passes of one row would, so the bits do not depend on R. The first row's
// elements before its first 64-byte boundary go first (masked), so none of its loads straddle two
// cache lines (the other rows share its split; with rows of whole lines, as in the real shapes,
// they are aligned too). (Named operands rather than arrays: GCC -O2 kept arrays on the stack,
// reloading them in the inner loop, which cost F32 decode a fifth.)
template <DType T, int R>
HFK_AVX512 inline void axpy_pass_avx512(const void *w, int64_t ld, const float *x, int64_t n,
                                        float *y, int64_t prefetch) {
    static_assert(R == 1 || R == 2 || R == 4);
    const void *w0 = row_ptr(T, w, 0, ld), *w1 = row_ptr(T, w, R > 1 ? 1 : 0, ld),
               *w2 = row_ptr(T, w, R > 2 ? 2 : 0, ld), *w3 = row_ptr(T, w, R > 2 ? 3 : 0, ld);
    const __m512 x0 = _mm512_set1_ps(x[0]), x1 = _mm512_set1_ps(x[R > 1 ? 1 : 0]),
                 x2 = _mm512_set1_ps(x[R > 2 ? 2 : 0]), x3 = _mm512_set1_ps(x[R > 2 ? 3 : 0]);
    const int64_t head = elements_before_line<T>(w0, n);
    for (int64_t j = 0; j < head; j += 16)
        axpy_piece16<T, R>(w0, w1, w2, w3, x0, x1, x2, x3, y, j,
                           tail_mask(std::min<int64_t>(16, head - j)));
    int64_t j = head;
    for (; j + 16 <= n; j += 16) {
        if constexpr (T != DType::F32) {
            // 16 elements are half a line: one prefetch per line of each row.
            if (prefetch && ((j - head) & 31) == 0) {
                _mm_prefetch(static_cast<const char *>(w0) + 2 * j + prefetch, _MM_HINT_T1);
                if constexpr (R > 1)
                    _mm_prefetch(static_cast<const char *>(w1) + 2 * j + prefetch, _MM_HINT_T1);
                if constexpr (R > 2) {
                    _mm_prefetch(static_cast<const char *>(w2) + 2 * j + prefetch, _MM_HINT_T1);
                    _mm_prefetch(static_cast<const char *>(w3) + 2 * j + prefetch, _MM_HINT_T1);
                }
            }
        }
        __m512 acc = _mm512_fmadd_ps(load16<T>(w0, j), x0, _mm512_loadu_ps(y + j));
        if constexpr (R > 1) acc = _mm512_fmadd_ps(load16<T>(w1, j), x1, acc);
        if constexpr (R > 2) {
            acc = _mm512_fmadd_ps(load16<T>(w2, j), x2, acc);
            acc = _mm512_fmadd_ps(load16<T>(w3, j), x3, acc);
        }
        _mm512_storeu_ps(y + j, acc);
    }
    if (j < n) axpy_piece16<T, R>(w0, w1, w2, w3, x0, x1, x2, x3, y, j, tail_mask(n - j));
}

// y = x W, per_pass rows of W per pass over y (y stays in L1; rows_per_pass.h chooses). The rows
// of a pass are next to each other, not blocks apart as in dot_rows: each y[j] must take the rows
// in order. Several rows per pass mean fewer passes over y per byte of weights (F32: four rows
// measured 10% faster than one on Zen 5); one row per pass reads the matrix as one sequential
// stream (BF16 GPT-2 decode on Zen 5: four rows made four short streams restarting every row, 14
// vs 25 GB/s in isolation). Rows left over go in passes of fewer.
template <DType T>
HFK_AVX512 void axpy_rows_avx512_t(const void *w, int64_t ld, int64_t k_rows, const float *x,
                                   int64_t n, float *y, int per_pass) {
    std::memset(y, 0, size_t(n) * 4);
    const int64_t pf = T == DType::F32 ? 0 : decode_prefetch_bytes();
    int64_t k = 0;
    if (per_pass >= 4)
        for (; k + 4 <= k_rows; k += 4)
            axpy_pass_avx512<T, 4>(row_ptr(T, w, k, ld), ld, x + k, n, y, pf);
    if (per_pass >= 2)
        for (; k + 2 <= k_rows; k += 2)
            axpy_pass_avx512<T, 2>(row_ptr(T, w, k, ld), ld, x + k, n, y, pf);
    for (; k < k_rows; ++k) axpy_pass_avx512<T, 1>(row_ptr(T, w, k, ld), ld, x + k, n, y, pf);
}

HFK_AVX512 void dot_rows_avx512(DType t, const void *w, int64_t ld, int64_t rows, const float *x,
                                int64_t k, float *y, int per_pass) {
    with_dtype(
        t, [&](auto T) { dot_rows_avx512_t<decltype(T)::value>(w, ld, rows, x, k, y, per_pass); });
}

HFK_AVX512 void axpy_rows_avx512(DType t, const void *w, int64_t ld, int64_t k_rows, const float *x,
                                 int64_t n, float *y, int per_pass) {
    with_dtype(t, [&](auto T) {
        axpy_rows_avx512_t<decltype(T)::value>(w, ld, k_rows, x, n, y, per_pass);
    });
}

template <DType T>
HFK_AVX512 void to_f32_avx512_t(const void *src, int64_t n, float *dst) {
    const int64_t n16 = n & ~int64_t(15);
    for (int64_t i = 0; i < n16; i += 16) _mm512_storeu_ps(dst + i, load16<T>(src, i));
    if (n16 < n) {
        __mmask16 m = tail_mask(n - n16);
        _mm512_mask_storeu_ps(dst + n16, m, load16_mask<T>(src, n16, m));
    }
}

HFK_AVX512 void to_f32_avx512(DType t, const void *src, int64_t n, float *dst) {
    if (t == DType::F16)
        to_f32_avx512_t<DType::F16>(src, n, dst);
    else if (t == DType::BF16)
        to_f32_avx512_t<DType::BF16>(src, n, dst);
    else
        std::memcpy(dst, src, size_t(n) * 4);
}

HFK_AVX512 float dot_avx512(const float *a, const float *b, int64_t n) {
    const int64_t n16 = n & ~int64_t(15);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n16; i += 16)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
    if (n16 < n) {
        __mmask16 m = tail_mask(n - n16);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + n16), _mm512_maskz_loadu_ps(m, b + n16),
                              acc);
    }
    return _mm512_reduce_add_ps(acc);
}

HFK_AVX512 void axpy_avx512(float a, const float *x, float *y, int64_t n) {
    const int64_t n16 = n & ~int64_t(15);
    __m512 av = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n16; i += 16)
        _mm512_storeu_ps(y + i,
                         _mm512_fmadd_ps(av, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    if (n16 < n) {
        __mmask16 m = tail_mask(n - n16);
        _mm512_mask_storeu_ps(y + n16, m,
                              _mm512_fmadd_ps(av, _mm512_maskz_loadu_ps(m, x + n16),
                                              _mm512_maskz_loadu_ps(m, y + n16)));
    }
}

HFK_AVX512 void scale_avx512(float *x, int64_t n, float a) {
    const int64_t n16 = n & ~int64_t(15);
    const __m512 av = _mm512_set1_ps(a);
    for (int64_t i = 0; i < n16; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), av));
    if (n16 < n) {
        const __mmask16 m = tail_mask(n - n16);
        _mm512_mask_storeu_ps(x + n16, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + n16), av));
    }
}

HFK_AVX512 inline __m512 exp16(__m512 x) {
    // The clamp keeps -inf from making r NaN; scalef then gives 0 / inf at the extremes. The
    // constant goes first: min/max return the second operand when one is NaN, so NaN stays NaN.
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500E-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073E-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894E-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459E-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201E-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}

HFK_AVX512 void exp_avx512(float *x, int64_t n) {
    const int64_t n16 = n & ~int64_t(15);
    for (int64_t i = 0; i < n16; i += 16) _mm512_storeu_ps(x + i, exp16(_mm512_loadu_ps(x + i)));
    if (n16 < n) {
        __mmask16 m = tail_mask(n - n16);
        _mm512_mask_storeu_ps(x + n16, m, exp16(_mm512_maskz_loadu_ps(m, x + n16)));
    }
}

HFK_AVX512 float max_avx512(const float *x, int64_t n) {
    const int64_t n16 = n & ~int64_t(15);
    __m512 m = _mm512_set1_ps(x[0]);
    for (int64_t i = 0; i < n16; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
    if (n16 < n) {
        const __mmask16 t = tail_mask(n - n16);
        m = _mm512_mask_max_ps(m, t, m, _mm512_maskz_loadu_ps(t, x + n16));
    }
    return _mm512_reduce_max_ps(m);
}

// Adds 16 floats into two vectors of 8 doubles.
HFK_AVX512 inline void add_to_f64(__m512 e, __m512d &lo, __m512d &hi) {
    lo = _mm512_add_pd(lo, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    hi = _mm512_add_pd(
        hi, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
}

HFK_AVX512 double exp_sum_avx512(float *x, int64_t n, float shift) {
    const int64_t n16 = n & ~int64_t(15);
    const __m512 sh = _mm512_set1_ps(shift);
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    for (int64_t i = 0; i < n16; i += 16) {
        const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), sh));
        _mm512_storeu_ps(x + i, e);
        add_to_f64(e, lo, hi);
    }
    if (n16 < n) {
        const __mmask16 m = tail_mask(n - n16);
        const __m512 e =
            _mm512_maskz_mov_ps(m, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + n16), sh)));
        _mm512_mask_storeu_ps(x + n16, m, e);
        add_to_f64(e, lo, hi);
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(lo, hi));
}

// 16 floats to F16 or BF16, as narrow8 does for 8.
template <DType T>
HFK_AVX512 inline __m256i narrow16(__m512 x) {
    const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
    const __m512i sign = _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN));
    x = _mm512_mask_mov_ps(
        x, nan, _mm512_castsi512_ps(_mm512_or_si512(sign, _mm512_set1_epi32(0x7fc00000))));
    if constexpr (T == DType::F16) {
        return _mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    } else {
        const __m512i u = _mm512_castps_si512(x);
        const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
        return _mm512_cvtepi32_epi16(_mm512_srli_epi32(
            _mm512_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), odd), 16));
    }
}

template <DType T>
HFK_AVX512 void from_f32_avx512_t(const float *src, int64_t n, void *dst) {
    auto *out = static_cast<uint16_t *>(dst);
    const int64_t n16 = n & ~int64_t(15);
    for (int64_t i = 0; i < n16; i += 16)
        _mm256_storeu_si256(reinterpret_cast<__m256i *>(out + i),
                            narrow16<T>(_mm512_loadu_ps(src + i)));
    if (n16 < n) {
        const __mmask16 m = tail_mask(n - n16);
        _mm256_mask_storeu_epi16(out + n16, m, narrow16<T>(_mm512_maskz_loadu_ps(m, src + n16)));
    }
}

HFK_AVX512 void from_f32_avx512(DType t, const float *src, int64_t n, void *dst) {
    if (t == DType::F16)
        from_f32_avx512_t<DType::F16>(src, n, dst);
    else if (t == DType::BF16)
        from_f32_avx512_t<DType::BF16>(src, n, dst);
    else
        std::memcpy(dst, src, size_t(n) * 4);
}

constexpr SimdOps kAvx512{dot_rows_avx512,
                          dot_rows_batch_avx512,
                          axpy_rows_avx512,
                          to_f32_avx512,
                          dot_avx512,
                          axpy_avx512,
                          scale_avx512,
                          exp_avx512,
                          max_avx512,
                          exp_sum_avx512,
                          from_f32_avx512,
                          dot_rows_heads_avx512,
                          axpy_rows_heads_avx512};
#endif  // __x86_64__

}  // namespace

const SimdOps &simd() {
    static const SimdOps *ops = [] {
        const char *isa = kernel_isa();
#if defined(__x86_64__)
        if (std::strcmp(isa, "avx512") == 0) return &kAvx512;
        if (std::strcmp(isa, "avx2") == 0) return &kAvx2;
#endif
        (void)isa;
        return &kScalar;
    }();
    return *ops;
}

const SimdOps *simd_for(const char *isa) {
    if (std::strcmp(isa, "scalar") == 0) return &kScalar;
#if defined(__x86_64__)
    if (std::strcmp(isa, "avx2") == 0 && cpu_features().avx2_fma_f16c) return &kAvx2;
    if (std::strcmp(isa, "avx512") == 0 && cpu_features().avx512) return &kAvx512;
#endif
    return nullptr;
}

}  // namespace hfk::kern
