// See attention_heads.h.
#include "kernels/attention_heads.h"

// GCC 12's AVX-512 headers use _mm512_undefined_* inside _mm512_cvtph_ps and
// _mm512_reduce_add_ps, which trips -Wuninitialized at -O2 (a known false positive; simd.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <array>
#include <utility>

#include "kernels/simd_avx512.h"
#include "kernels/with_dtype.h"

#if defined(__x86_64__)
namespace hfk::kern {
namespace {

using avx512::dot_masked16;
using avx512::load16_mask;
using avx512::tail_mask;

inline const void *row_at(DType t, const void *base, int64_t r, int64_t ld) {
    return static_cast<const char *>(base) + size_t(r) * size_t(ld) * compute_elem_size(t);
}

// out[r] = the sum of a[r]'s 16 lanes for 16 accumulators at once, in the order GCC 12's
// _mm512_reduce_add_ps sums one (lanes i and i + 8, then i and i + 4 of that, then lanes 0 + 2
// and 1 + 3, then those two): the bits of one reduction per row, in 46 instructions instead of
// ~144. Each step adds the halves of two rows side by side.
HFK_AVX512 inline __m512 reduce16x16(const __m512 *a) {
    __m512 b[8], c[4], d[2];
#pragma GCC unroll 8
    for (int p = 0; p < 8; ++p)  // lanes 0-7: row 2p's a[i] + a[i + 8]; 8-15: row 2p + 1's
        b[p] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], 0x44),
                             _mm512_shuffle_f32x4(a[2 * p], a[2 * p + 1], 0xEE));
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q)  // 128-bit lane L: row 4q + L's (i) + (i + 4), i < 4
        c[q] = _mm512_add_ps(_mm512_shuffle_f32x4(b[2 * q], b[2 * q + 1], 0x88),
                             _mm512_shuffle_f32x4(b[2 * q], b[2 * q + 1], 0xDD));
#pragma GCC unroll 2
    for (int s = 0; s < 2; ++s)  // lane L: (0 + 2, 1 + 3) of c[2s]'s row L, then of c[2s + 1]'s
        d[s] = _mm512_add_ps(_mm512_shuffle_ps(c[2 * s], c[2 * s + 1], 0x44),
                             _mm512_shuffle_ps(c[2 * s], c[2 * s + 1], 0xEE));
    // Element 4L + e: row 4e + L's sum; put row r at element r.
    const __m512 e =
        _mm512_add_ps(_mm512_shuffle_ps(d[0], d[1], 0x88), _mm512_shuffle_ps(d[0], d[1], 0xDD));
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_ps(order, e);
}

// Two queries' scores of 8 keys: 16 chains of FMAs, each key vector loaded once for both (one
// query by 16 keys loads a key vector for every FMA, and a prompt's tile of many queries was
// bound by the loads). reduce16x16 sums any 16 vectors, so the bits are those of one query.
template <DType T>
HFK_AVX512 inline void dot_pair8(const void *const *kr, const float *qa, const float *qb,
                                 int64_t hd, float *sa, float *sb) {
    __m512 acc[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
    for (int64_t j = 0; j < hd; j += 16) {
        const __mmask16 m = tail_mask(std::min<int64_t>(16, hd - j));
        const __m512 qav = _mm512_maskz_loadu_ps(m, qa + j), qbv = _mm512_maskz_loadu_ps(m, qb + j);
#pragma GCC unroll 8
        for (int i = 0; i < 8; ++i) {
            const __m512 kv = load16_mask<T>(kr[i], j, m);
            acc[i] = _mm512_fmadd_ps(kv, qav, acc[i]);
            acc[8 + i] = _mm512_fmadd_ps(kv, qbv, acc[8 + i]);
        }
    }
    const __m512 sums = reduce16x16(acc);
    _mm256_storeu_ps(sa, _mm512_castps512_ps256(sums));
    _mm256_storeu_ps(sb, _mm512_extractf32x8_ps(sums, 1));
}

template <DType T>
HFK_AVX512 void dot_rows_heads_t(const void *k, int64_t ld, int64_t rows, const float *q,
                                 int64_t q_ld, int64_t n_q, int64_t hd, float *scores,
                                 int64_t scores_ld) {
    int64_t r = 0;
    const int64_t ahead = heads_prefetch_rows(T, hd);
    // 16 keys at a time (in L1 for the group's heads), 16 chains of FMAs side by side.
    for (; r + 16 <= rows; r += 16) {
        if (r + ahead < rows)
            prefetch_heads_rows(T, row_at(T, k, r + ahead, ld), ld,
                                std::min<int64_t>(16, rows - r - ahead), hd);
        const void *kr[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) kr[i] = row_at(T, k, r + i, ld);
        int64_t g = 0;
        for (; g + 2 <= n_q; g += 2) {  // pairs of queries (dot_pair8), then a last one alone
            const float *qa = q + g * q_ld, *qb = qa + q_ld;
            float *sa = scores + g * scores_ld + r, *sb = sa + scores_ld;
            dot_pair8<T>(kr, qa, qb, hd, sa, sb);
            dot_pair8<T>(kr + 8, qa, qb, hd, sa + 8, sb + 8);
        }
        for (; g < n_q; ++g) {
            const float *qg = q + g * q_ld;
            __m512 acc[16];
#pragma GCC unroll 16
            for (int i = 0; i < 16; ++i) acc[i] = _mm512_setzero_ps();
            for (int64_t j = 0; j < hd; j += 16) {
                const __mmask16 m = tail_mask(std::min<int64_t>(16, hd - j));
                const __m512 qv = _mm512_maskz_loadu_ps(m, qg + j);
#pragma GCC unroll 16
                for (int i = 0; i < 16; ++i)
                    acc[i] = _mm512_fmadd_ps(load16_mask<T>(kr[i], j, m), qv, acc[i]);
            }
            _mm512_storeu_ps(scores + g * scores_ld + r, reduce16x16(acc));
        }
    }
    for (; r < rows; ++r) {
        const void *row = row_at(T, k, r, ld);
        for (int64_t g = 0; g < n_q; ++g)
            scores[g * scores_ld + r] =
                _mm512_reduce_add_ps(dot_masked16<T>(row, q + g * q_ld, hd));
    }
}

// G heads (1-6) by C vectors of 16 columns (1-4) from c0: G x C accumulators, each value vector
// loaded once for the G heads. Columns past hd are masked off (never loaded or stored).
template <DType T, int G, int C>
HFK_AVX512 void axpy_block(const void *v, int64_t ld, int64_t rows, const float *p, int64_t p_ld,
                           int64_t hd, int64_t c0, float *out, int64_t out_ld, bool accumulate) {
    __mmask16 m[C];
    __m512 acc[G][C];
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
        m[c] = tail_mask(std::clamp<int64_t>(hd - c0 - 16 * c, 0, 16));
#pragma GCC unroll 6
        for (int g = 0; g < G; ++g)
            acc[g][c] = accumulate ? _mm512_maskz_loadu_ps(m[c], out + g * out_ld + c0 + 16 * c)
                                   : _mm512_setzero_ps();
    }
    // This block's columns of the row `ahead` rows on.
    const int64_t ahead = heads_prefetch_rows(T, hd), cols = std::min<int64_t>(16 * C, hd - c0);
    const void *v_cols = static_cast<const char *>(v) + c0 * compute_elem_size(T);
    for (int64_t r = 0; r < rows; ++r) {
        if (r + ahead < rows) prefetch_heads_rows(T, row_at(T, v_cols, r + ahead, ld), ld, 1, cols);
        const void *row = row_at(T, v, r, ld);
        __m512 vv[C];
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c) vv[c] = load16_mask<T>(row, c0 + 16 * c, m[c]);
#pragma GCC unroll 6
        for (int g = 0; g < G; ++g) {
            const __m512 pg = _mm512_set1_ps(p[g * p_ld + r]);
#pragma GCC unroll 4
            for (int c = 0; c < C; ++c) acc[g][c] = _mm512_fmadd_ps(vv[c], pg, acc[g][c]);
        }
    }
#pragma GCC unroll 6
    for (int g = 0; g < G; ++g)
#pragma GCC unroll 4
        for (int c = 0; c < C; ++c)
            _mm512_mask_storeu_ps(out + g * out_ld + c0 + 16 * c, m[c], acc[g][c]);
}

// axpy_block<T, G, C> for G = 1..6, C = 1..4: [G - 1][C - 1].
template <DType T, int... C>
constexpr auto axpy_blocks_of(std::integer_sequence<int, C...>) {
    using Block = void (*)(const void *, int64_t, int64_t, const float *, int64_t, int64_t, int64_t,
                           float *, int64_t, bool);
    return std::array<std::array<Block, 4>, 6>{{{&axpy_block<T, 1, C + 1>...},
                                                {&axpy_block<T, 2, C + 1>...},
                                                {&axpy_block<T, 3, C + 1>...},
                                                {&axpy_block<T, 4, C + 1>...},
                                                {&axpy_block<T, 5, C + 1>...},
                                                {&axpy_block<T, 6, C + 1>...}}};
}

template <DType T>
HFK_AVX512 void axpy_rows_heads_t(const void *v, int64_t ld, int64_t rows, const float *p,
                                  int64_t p_ld, int64_t n_q, int64_t hd, float *out, int64_t out_ld,
                                  bool accumulate) {
    constexpr int kMaxG = 6;
    static constexpr auto kBlocks = axpy_blocks_of<T>(std::make_integer_sequence<int, 4>{});
    for (int64_t c0 = 0; c0 < hd; c0 += 64) {
        // The vectors of 16 this block needs: a call for fewer columns (decode_split_keys' parts)
        // computes no masked-off vectors.
        const int64_t c = std::min<int64_t>(4, (hd - c0 + 15) / 16);
        for (int64_t g0 = 0; g0 < n_q; g0 += kMaxG) {
            const int64_t g = std::min<int64_t>(kMaxG, n_q - g0);
            kBlocks[size_t(g - 1)][size_t(c - 1)](v, ld, rows, p + g0 * p_ld, p_ld, hd, c0,
                                                  out + g0 * out_ld, out_ld, accumulate);
        }
    }
}

}  // namespace

HFK_AVX512 void dot_rows_heads_avx512(DType type, const void *k, int64_t ld, int64_t rows,
                                      const float *q, int64_t q_ld, int64_t n_q, int64_t hd,
                                      float *scores, int64_t scores_ld) {
    with_dtype(type, [&](auto T) {
        dot_rows_heads_t<decltype(T)::value>(k, ld, rows, q, q_ld, n_q, hd, scores, scores_ld);
    });
}

HFK_AVX512 void axpy_rows_heads_avx512(DType type, const void *v, int64_t ld, int64_t rows,
                                       const float *p, int64_t p_ld, int64_t n_q, int64_t hd,
                                       float *out, int64_t out_ld, bool accumulate) {
    with_dtype(type, [&](auto T) {
        axpy_rows_heads_t<decltype(T)::value>(v, ld, rows, p, p_ld, n_q, hd, out, out_ld,
                                              accumulate);
    });
}

}  // namespace hfk::kern
#endif  // __x86_64__
