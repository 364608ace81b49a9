// The heads kernels of attention_heads.h for CPUs with AVX2 but not AVX-512 (most laptops and
// desktops before Zen 4 or Ice Lake), with the AVX2 dot_rows' and axpy_rows' bits: the same
// pieces (simd_avx2.h) in the same order, only more rows and heads at a time.
//
// Why: without them a decode step called dot_rows and axpy_rows once per query head, reading each
// kv head's keys and values once per head of its group, with no software prefetch: at a context
// of 2048 llama-135m's attention read its F32 cache at 8.7 GB/s (HFK_KERNELS=avx2 on Zen 5, where
// one thread reads 30+ GB/s) and cost three times its Q4 weights.
#include <algorithm>
#include <cmath>

#include "kernels/attention_heads.h"
#include "kernels/simd_avx2.h"
#include "kernels/with_dtype.h"

#if defined(__x86_64__)
namespace hfk::kern {
namespace {

using avx2::dot_block32;
using avx2::dot_rest8;
using avx2::dot_tail1;
using avx2::hsum8;
using avx2::load1;
using avx2::load8;
using avx2::Sums8;

inline const void *row_at(DType t, const void *base, int64_t r, int64_t ld) {
    return static_cast<const char *>(base) + size_t(r) * size_t(ld) * compute_elem_size(t);
}

// One row's dot_rows sums up to the last whole vector of 8: hsum8 of it, then dot_tail1, is the
// output.
template <DType T>
HFK_AVX2 inline __m256 dot_row8(const void *w, const float *x, int64_t hd) {
    const __m256 z = _mm256_setzero_ps();
    Sums8 s{z, z, z, z};
    const int64_t k32 = hd & ~int64_t(31);
    for (int64_t i = 0; i < k32; i += 32) dot_block32<T>(w, x, i, s);
    return dot_rest8<T>(w, x, k32, hd, s);
}

// Element r: hsum8(a[r]) for 8 vectors at once, with hsum8's additions (the halves, then lanes 0
// + 2 and 1 + 3, then those two), each step adding two rows' pieces side by side: the bits of
// one reduction per row in 15 instructions instead of ~40.
HFK_AVX2 inline __m256 reduce8x8(const __m256 *a) {
    __m256 b[4], c[2];
#pragma GCC unroll 4
    for (int p = 0; p < 4; ++p)  // half h: row 2p + h's low half + high half
        b[p] = _mm256_add_ps(_mm256_permute2f128_ps(a[2 * p], a[2 * p + 1], 0x20),
                             _mm256_permute2f128_ps(a[2 * p], a[2 * p + 1], 0x31));
#pragma GCC unroll 2
    for (int q = 0; q < 2; ++q)  // half h: (0 + 2, 1 + 3) of row 4q + h, then of row 4q + 2 + h
        c[q] = _mm256_add_ps(_mm256_shuffle_ps(b[2 * q], b[2 * q + 1], 0x44),
                             _mm256_shuffle_ps(b[2 * q], b[2 * q + 1], 0xEE));
    // Half h: rows h, 2 + h, 4 + h, 6 + h; put row r at element r.
    const __m256 e =
        _mm256_add_ps(_mm256_shuffle_ps(c[0], c[1], 0x88), _mm256_shuffle_ps(c[0], c[1], 0xDD));
    return _mm256_permutevar8x32_ps(e, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// HD: the head width when known at compile time (dot_rows_heads_hd), else 0.
template <DType T, int HD>
HFK_AVX2 void dot_rows_heads_t(const void *k, int64_t ld, int64_t rows, const float *q,
                               int64_t q_ld, int64_t n_q, int64_t hd_, float *scores,
                               int64_t scores_ld) {
    const int64_t hd = HD ? HD : hd_;
    const int64_t ahead = heads_prefetch_rows(T, hd);
    int64_t r = 0;
    // 8 keys at a time (in L1 for the group's heads), reduced together.
    for (; r + 8 <= rows; r += 8) {
        if (r + ahead < rows)
            prefetch_heads_rows(T, row_at(T, k, r + ahead, ld), ld,
                                std::min<int64_t>(8, rows - r - ahead), hd);
        const void *kr[8];
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) kr[i] = row_at(T, k, r + i, ld);
        for (int64_t g = 0; g < n_q; ++g) {
            const float *qg = q + g * q_ld;
            float *sg = scores + g * scores_ld + r;
            __m256 t[8];
#pragma GCC unroll 8
            for (int i = 0; i < 8; ++i) t[i] = dot_row8<T>(kr[i], qg, hd);
            _mm256_storeu_ps(sg, reduce8x8(t));
            if (hd % 8)
                for (int i = 0; i < 8; ++i) sg[i] = dot_tail1<T>(kr[i], qg, hd, sg[i]);
        }
    }
    for (; r < rows; ++r) {
        const void *row = row_at(T, k, r, ld);
        for (int64_t g = 0; g < n_q; ++g) {
            const float *qg = q + g * q_ld;
            scores[g * scores_ld + r] = dot_tail1<T>(row, qg, hd, hsum8(dot_row8<T>(row, qg, hd)));
        }
    }
}

// The widths of most models (64, 128) compiled apart, so that each row's loop over its blocks of
// 32 unrolls: 10-20% off a step at a context of 256 (bench_attention, HFK_KERNELS=avx2, Zen 5).
template <DType T>
HFK_AVX2 void dot_rows_heads_hd(const void *k, int64_t ld, int64_t rows, const float *q,
                                int64_t q_ld, int64_t n_q, int64_t hd, float *scores,
                                int64_t scores_ld) {
    if (hd == 64)
        dot_rows_heads_t<T, 64>(k, ld, rows, q, q_ld, n_q, hd, scores, scores_ld);
    else if (hd == 128)
        dot_rows_heads_t<T, 128>(k, ld, rows, q, q_ld, n_q, hd, scores, scores_ld);
    else
        dot_rows_heads_t<T, 0>(k, ld, rows, q, q_ld, n_q, hd, scores, scores_ld);
}

// G heads (1-3) by C vectors of 8 columns (1-4) from c0: G x C accumulators (with a value vector
// and a weight, all 16 registers at 3 x 4), each value vector loaded once for the G heads.
template <DType T, int G, int C>
HFK_AVX2 void axpy_block(const void *v, int64_t ld, int64_t rows, const float *p, int64_t p_ld,
                         int64_t ahead, int64_t c0, float *out, int64_t out_ld, bool accumulate) {
    __m256 acc[G][C];
#pragma GCC unroll 3
    for (int g = 0; g < G; ++g)
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c)
            acc[g][c] =
                accumulate ? _mm256_loadu_ps(out + g * out_ld + c0 + 8 * c) : _mm256_setzero_ps();
    const void *v_cols = static_cast<const char *>(v) + c0 * compute_elem_size(T);
    for (int64_t r = 0; r < rows; ++r) {
        // This block's columns of the 8 rows `ahead` rows on, every 8 rows.
        if (r % 8 == 0 && r + ahead < rows)
            prefetch_heads_rows(T, row_at(T, v_cols, r + ahead, ld), ld,
                                std::min<int64_t>(8, rows - r - ahead), 8 * C);
        const void *row = row_at(T, v, r, ld);
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) {
            const __m256 vv = load8<T>(row, c0 + 8 * c);
#pragma GCC unroll 3
            for (int g = 0; g < G; ++g)
                acc[g][c] = _mm256_fmadd_ps(vv, _mm256_set1_ps(p[g * p_ld + r]), acc[g][c]);
        }
    }
#pragma GCC unroll 3
    for (int g = 0; g < G; ++g)
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) _mm256_storeu_ps(out + g * out_ld + c0 + 8 * c, acc[g][c]);
}

template <DType T>
HFK_AVX2 void axpy_rows_heads_t(const void *v, int64_t ld, int64_t rows, const float *p,
                                int64_t p_ld, int64_t n_q, int64_t hd, float *out, int64_t out_ld,
                                bool accumulate) {
    constexpr int kMaxG = 3, kMaxC = 4;
    using Block = void (*)(const void *, int64_t, int64_t, const float *, int64_t, int64_t, int64_t,
                           float *, int64_t, bool);
    static constexpr Block kBlocks[kMaxG][kMaxC] = {
        {&axpy_block<T, 1, 1>, &axpy_block<T, 1, 2>, &axpy_block<T, 1, 3>, &axpy_block<T, 1, 4>},
        {&axpy_block<T, 2, 1>, &axpy_block<T, 2, 2>, &axpy_block<T, 2, 3>, &axpy_block<T, 2, 4>},
        {&axpy_block<T, 3, 1>, &axpy_block<T, 3, 2>, &axpy_block<T, 3, 3>, &axpy_block<T, 3, 4>}};
    const int64_t ahead = heads_prefetch_rows(T, hd), hd8 = hd & ~int64_t(7);
    for (int64_t c0 = 0; c0 < hd8; c0 += 8 * kMaxC) {
        const int64_t c = std::min<int64_t>(kMaxC, (hd8 - c0) / 8);
        for (int64_t g0 = 0; g0 < n_q; g0 += kMaxG) {
            const int64_t g = std::min<int64_t>(kMaxG, n_q - g0);
            kBlocks[g - 1][c - 1](v, ld, rows, p + g0 * p_ld, p_ld, ahead, c0, out + g0 * out_ld,
                                  out_ld, accumulate);
        }
    }
    // The columns past the last whole vector, one FMA at a time as axpy_rows' tail.
    for (int64_t g = 0; g < n_q; ++g)
        for (int64_t j = hd8; j < hd; ++j) {
            float acc = accumulate ? out[g * out_ld + j] : 0.0f;
            for (int64_t r = 0; r < rows; ++r)
                acc = std::fma(load1<T>(row_at(T, v, r, ld), j), p[g * p_ld + r], acc);
            out[g * out_ld + j] = acc;
        }
}

}  // namespace

HFK_AVX2 void dot_rows_heads_avx2(DType type, const void *k, int64_t ld, int64_t rows,
                                  const float *q, int64_t q_ld, int64_t n_q, int64_t hd,
                                  float *scores, int64_t scores_ld) {
    with_dtype(type, [&](auto T) {
        dot_rows_heads_hd<decltype(T)::value>(k, ld, rows, q, q_ld, n_q, hd, scores, scores_ld);
    });
}

HFK_AVX2 void axpy_rows_heads_avx2(DType type, const void *v, int64_t ld, int64_t rows,
                                   const float *p, int64_t p_ld, int64_t n_q, int64_t hd,
                                   float *out, int64_t out_ld, bool accumulate) {
    with_dtype(type, [&](auto T) {
        axpy_rows_heads_t<decltype(T)::value>(v, ld, rows, p, p_ld, n_q, hd, out, out_ld,
                                              accumulate);
    });
}

}  // namespace hfk::kern
#endif  // __x86_64__
