// The int8 dot products of quantized weights (quant.h), one set per instruction set, chosen once
// at run time. quant_dot_reference defines the float sequence; the SIMD sets compute the same
// exact int32 lane sums (vpdpbusd or vpmaddubsw + vpmaddwd group the same four products) and then
// the same fmas, adds and reduction tree, so every set gives the same bits.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/quant.h"
#include "kernels/quant_rows16.h"
#include "kernels/simd.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace hfk::kern {
namespace {

inline float float_at(const uint8_t *p) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
}

// Where a block type keeps its parts: bytes per block, offset of the weights (int8 or nibbles).
template <QType T>
constexpr size_t kBlockBytes = T == QType::Q8_0   ? 34
                               : T == QType::Q4_1 ? 20
                                                  : 24;
template <QType T>
constexpr size_t kWeightsAt = T == QType::Q8_0   ? 2
                              : T == QType::Q4_1 ? 4
                                                 : 8;

// The 16 accumulators -> one float: halves added, 16 -> 8 -> 4 -> 2 -> 1.
inline float reduce16(const float acc[16]) {
    float t[8], u[4];
    for (int j = 0; j < 8; ++j) t[j] = acc[j] + acc[8 + j];
    for (int j = 0; j < 4; ++j) u[j] = t[j] + t[j + 4];
    const float v0 = u[0] + u[2], v1 = u[1] + u[3];
    return v0 + v1;
}

// ---------------------------------------------------------------------------------------------
// Portable C: the definition.
// ---------------------------------------------------------------------------------------------
float dot_scalar(QType t, const uint8_t *row, const QActs &x) {
    const size_t bb = q_block_bytes(t);
    float acc[16] = {0};
    float mins[2] = {0, 0};  // Q4: the minima's terms, even and odd blocks
    for (int64_t b = 0; b < x.nb; ++b) {
        const uint8_t *blk = row + size_t(b) * bb;
        const int8_t *xq = x.q + b * kQBlock;
        int w[kQBlock];
        if (t == QType::Q8_0) {
            for (int i = 0; i < 32; ++i) w[i] = int8_t(blk[2 + i]);
        } else {
            const size_t nib = t == QType::Q4_1 ? 4 : 8;
            for (int i = 0; i < 16; ++i) {
                w[i] = blk[nib + i] & 15;
                w[i + 16] = blk[nib + i] >> 4;
            }
        }
        const float scale = (t == QType::Q4_1F ? float_at(blk) : f16_at(blk)) * x.d[b];
        float *a = acc + (b & 1) * 8;
        for (int j = 0; j < 8; ++j) {
            int32_t lane = 0;
            for (int u = 0; u < 4; ++u) lane += w[4 * j + u] * xq[4 * j + u];
            a[j] = std::fma(float(lane), scale, a[j]);
        }
        // Q4's minimum times the block's activation sum, in a chain of its own (one fma after
        // another into the lane sums' accumulator doubled the latency a decode waits on).
        if (t != QType::Q8_0)
            mins[b & 1] = std::fma(t == QType::Q4_1 ? f16_at(blk + 2) : float_at(blk + 4), x.s[b],
                                   mins[b & 1]);
    }
    acc[0] += mins[0];
    acc[8] += mins[1];
    return reduce16(acc);
}

void dot_rows_scalar(QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs &x,
                     float *y) {
    if (q_interleaved(t)) return gemm_rows16_portable(t, w, row_bytes, rows, &x, 1, y, 0);
    for (int64_t r = 0; r < rows; ++r) y[r] = dot_scalar(t, w + size_t(r) * row_bytes, x);
}

// Many activation rows, one dot_rows call each, over blocks of 16 weight rows (they stay in L1
// while the activation rows pass).
template <auto Dot>
void gemm_by_rows(QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x,
                  int64_t m, float *y, int64_t ldy) {
    constexpr int64_t kRowBlock = 16;
    for (int64_t r0 = 0; r0 < rows; r0 += kRowBlock) {
        const int64_t nr = std::min(kRowBlock, rows - r0);
        for (int64_t i = 0; i < m; ++i)
            Dot(t, w + size_t(r0) * row_bytes, row_bytes, nr, x[i], y + i * ldy + r0);
    }
}

constexpr QuantOps kScalar{dot_rows_scalar, gemm_by_rows<dot_rows_scalar>};

#if defined(__x86_64__)
// ---------------------------------------------------------------------------------------------
// 256-bit: AVX2 (vpmaddubsw + vpmaddwd) and AVX-VNNI (vpdpbusd), one block per register.
// ---------------------------------------------------------------------------------------------
#define HFK_Q_AVX2 __attribute__((target("avx2,fma,f16c")))
#define HFK_Q_AVXVNNI __attribute__((target("avx2,fma,f16c,avxvnni")))
#define HFK_Q_AVX512 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

struct Avx2Lanes {
    // Eight int32 sums of four u8 * s8 products each.
    HFK_Q_AVX2 static __m256i lanes(__m256i a, __m256i b) {
        return _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1));
    }
};
struct AvxVnniLanes {
    HFK_Q_AVXVNNI static __m256i lanes(__m256i a, __m256i b) {
        return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), a, b);
    }
};

// The 32 weights of a block as u8 and the activations as s8 with the weights' signs moved over,
// so that u8 * s8 is the signed product (Q4_1's nibbles are already unsigned).
template <QType T>
HFK_Q_AVX2 inline void block_operands(const uint8_t *blk, const int8_t *xq, __m256i &a,
                                      __m256i &b) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(xq));
    if constexpr (T == QType::Q8_0) {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + 2));
        a = _mm256_sign_epi8(w, w);
        b = _mm256_sign_epi8(x, w);
    } else {
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + kWeightsAt<T>));
        const __m128i m = _mm_set1_epi8(15);
        a = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
        b = x;
    }
}

HFK_Q_AVX2 inline float half_f16c(const uint8_t *p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// The block's scale and minimum.
template <QType T>
HFK_Q_AVX2 inline float scale_of(const uint8_t *blk) {
    if constexpr (T == QType::Q4_1F) return float_at(blk);
    return half_f16c(blk);
}
template <QType T>
HFK_Q_AVX2 inline float min_of(const uint8_t *blk) {
    if constexpr (T == QType::Q4_1F) return float_at(blk + 4);
    return half_f16c(blk + 2);
}

HFK_Q_AVX2 inline float reduce_two(__m256 even, __m256 odd) {
    const __m256 t = _mm256_add_ps(even, odd);
    const __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
    const __m128 v = _mm_add_ps(u, _mm_movehl_ps(u, u));
    return _mm_cvtss_f32(_mm_add_ss(v, _mm_movehdup_ps(v)));
}

template <QType T, class L>
HFK_Q_AVX2 inline float dot_256(const uint8_t *row, const QActs &x) {
    constexpr size_t bb = kBlockBytes<T>;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = acc0;
    float mins[2] = {0, 0};
    int64_t b = 0;
    for (; b < x.nb; ++b) {
        const uint8_t *blk = row + size_t(b) * bb;
        __m256i a, s;
        block_operands<T>(blk, x.q + b * kQBlock, a, s);
        const __m256 lane = _mm256_cvtepi32_ps(L::lanes(a, s));
        const __m256 scale = _mm256_set1_ps(scale_of<T>(blk) * x.d[b]);
        __m256 &acc = b & 1 ? acc1 : acc0;
        acc = _mm256_fmadd_ps(lane, scale, acc);
        if constexpr (T != QType::Q8_0) mins[b & 1] = std::fma(min_of<T>(blk), x.s[b], mins[b & 1]);
    }
    if constexpr (T != QType::Q8_0) {  // the minima's terms into lane 0 of each parity
        acc0 = _mm256_blend_ps(acc0, _mm256_add_ps(acc0, _mm256_set1_ps(mins[0])), 1);
        acc1 = _mm256_blend_ps(acc1, _mm256_add_ps(acc1, _mm256_set1_ps(mins[1])), 1);
    }
    return reduce_two(acc0, acc1);
}

// The row-by-row types (the interleaved ones go to quant_rows16.cpp's kernels).
template <class L>
HFK_Q_AVX2 inline void dot_rows_256(QType t, const uint8_t *w, size_t row_bytes, int64_t rows,
                                    const QActs &x, float *y) {
    if (t == QType::Q8_0)
        for (int64_t r = 0; r < rows; ++r)
            y[r] = dot_256<QType::Q8_0, L>(w + size_t(r) * row_bytes, x);
    else if (t == QType::Q4_1)
        for (int64_t r = 0; r < rows; ++r)
            y[r] = dot_256<QType::Q4_1, L>(w + size_t(r) * row_bytes, x);
    else
        for (int64_t r = 0; r < rows; ++r)
            y[r] = dot_256<QType::Q4_1F, L>(w + size_t(r) * row_bytes, x);
}

HFK_Q_AVX2 void dot_rows_avx2(QType t, const uint8_t *w, size_t row_bytes, int64_t rows,
                              const QActs &x, float *y) {
    if (q_interleaved(t)) return gemm_rows16_avx2(t, w, row_bytes, rows, &x, 1, y, 0);
    dot_rows_256<Avx2Lanes>(t, w, row_bytes, rows, x, y);
}
HFK_Q_AVXVNNI void dot_rows_avxvnni(QType t, const uint8_t *w, size_t row_bytes, int64_t rows,
                                    const QActs &x, float *y) {
    if (q_interleaved(t)) return gemm_rows16_avxvnni(t, w, row_bytes, rows, &x, 1, y, 0);
    dot_rows_256<AvxVnniLanes>(t, w, row_bytes, rows, x, y);
}

void gemm_avx2(QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x, int64_t m,
               float *y, int64_t ldy) {
    if (q_interleaved(t)) return gemm_rows16_avx2(t, w, row_bytes, rows, x, m, y, ldy);
    gemm_by_rows<dot_rows_avx2>(t, w, row_bytes, rows, x, m, y, ldy);
}
void gemm_avxvnni(QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x,
                  int64_t m, float *y, int64_t ldy) {
    if (q_interleaved(t)) return gemm_rows16_avxvnni(t, w, row_bytes, rows, x, m, y, ldy);
    gemm_by_rows<dot_rows_avxvnni>(t, w, row_bytes, rows, x, m, y, ldy);
}

constexpr QuantOps kAvx2{dot_rows_avx2, gemm_avx2, true};
constexpr QuantOps kAvxVnni{dot_rows_avxvnni, gemm_avxvnni, true};

// ---------------------------------------------------------------------------------------------
// AVX-512 VNNI: two blocks per register, a tile of R weight rows by A activation rows per pass
// (decode: 4 x 1; prefill: 4 x 4), so a pair of weight blocks is loaded and made ready once for A
// activation rows and each activation pair once for R weight rows.
//
// The activations are first laid out per pair of blocks (PairActs): their 64 int8 values, the
// 16 lanes' activation scales, and for Q8_0 minus 128 times each lane's sum of the activations.
// Q8_0's weights are signed, vpdpbusd wants one unsigned operand: the weights are read as
// w + 128 (an xor of the sign bit) and the lane sum sum((w + 128) * x) - 128 * sum(x) is exact in
// int32, the same lane sum the reference computes. Q4_1's nibbles come out of a 128-bit load in
// the order (low nibbles of block 0, of block 1, high nibbles of block 0, of block 1); the
// activations are laid out in that order instead, and the accumulators put back in the
// reference's order (lanes 0-7 the even block, 8-15 the odd one) before the reduction.
// ---------------------------------------------------------------------------------------------
struct alignas(64) V64 {
    uint8_t b[64];
};

// Per pair of blocks of one activation row: x, dx, and for Q8_0 negc (-128 * each lane's sum of
// x), for Q4 the two blocks' sums s in lanes 0 and 4.
constexpr int kPairVecs = 3;

template <QType T>
HFK_Q_AVX512 inline void prepare_acts(const QActs &a, V64 *out) {
    const int64_t pairs = (a.nb + 1) / 2;
    for (int64_t p = 0; p < pairs; ++p) {
        const bool two = 2 * p + 1 < a.nb;
        const __mmask64 km = two ? ~__mmask64(0) : __mmask64(0xffffffffu);
        __m512i x = _mm512_maskz_loadu_epi8(km, a.q + 2 * p * kQBlock);
        const float d0 = a.d[2 * p], d1 = two ? a.d[2 * p + 1] : 0.0f;
        __m512 dx;
        if constexpr (T == QType::Q8_0) {
            dx = _mm512_mask_mov_ps(_mm512_set1_ps(d0), 0xff00, _mm512_set1_ps(d1));
            const __m512i sums =
                _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(char(0x80)), x);
            _mm512_store_si512(out[kPairVecs * p + 2].b,
                               _mm512_sub_epi32(_mm512_setzero_si512(), sums));
        } else {
            x = _mm512_shuffle_i64x2(x, x, _MM_SHUFFLE(3, 1, 2, 0));
            dx = _mm512_mask_mov_ps(_mm512_set1_ps(d0), 0xf0f0, _mm512_set1_ps(d1));
            const float s0 = a.s[2 * p], s1 = two ? a.s[2 * p + 1] : 0.0f;
            // Lanes 0 and 4 (Q4_1F), or 1 and 11: where Q4_1's minima land (pair_q4_1).
            constexpr __mmask16 k0 = T == QType::Q4_1 ? 0x0002 : 0x0001;
            constexpr __mmask16 k1 = T == QType::Q4_1 ? 0x0800 : 0x0010;
            const __m512 s = _mm512_mask_mov_ps(_mm512_maskz_mov_ps(k0, _mm512_set1_ps(s0)), k1,
                                                _mm512_set1_ps(s1));
            _mm512_store_ps(out[kPairVecs * p + 2].b, s);
        }
        _mm512_store_si512(out[kPairVecs * p].b, x);
        _mm512_store_ps(out[kPairVecs * p + 1].b, dx);
    }
}

// The 16 weight scales of a pair (the second block's lanes zero when `two` is false), in the
// lane order of its lane sums; for Q4 also the two minima in lanes 0 and 4 (the first lane of
// each block in the nibbles' lane order), zero elsewhere (and in lane 4 when `two` is false).
// Q4's scale and minimum sit side by side at the block's start: one load of both per block and
// one conversion for the pair, then each spread to its lanes by a permute.
template <QType T>
HFK_Q_AVX512 inline void pair_scales(const uint8_t *b0, const uint8_t *b1, bool two, __m512 &sw,
                                     __m512 &mw) {
    if constexpr (T == QType::Q8_0) {
        uint16_t h0, h1 = 0;
        std::memcpy(&h0, b0, 2);
        if (two) std::memcpy(&h1, b1, 2);
        const __m256i h = _mm256_mask_set1_epi16(_mm256_set1_epi16(short(h0)), 0xff00, short(h1));
        sw = _mm512_cvtph_ps(h);
    } else {
        __m128 dm;  // d0, m0, d1, m1
        if constexpr (T == QType::Q4_1F) {
            const __m128i lo = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(b0));
            const __m128i hi =
                two ? _mm_loadl_epi64(reinterpret_cast<const __m128i *>(b1)) : _mm_setzero_si128();
            dm = _mm_castsi128_ps(_mm_unpacklo_epi64(lo, hi));
        } else {
            uint32_t p0, p1 = 0;
            std::memcpy(&p0, b0, 4);
            if (two) std::memcpy(&p1, b1, 4);
            dm = _mm_cvtph_ps(_mm_insert_epi32(_mm_cvtsi32_si128(int(p0)), int(p1), 1));
        }
        const __m512 v = _mm512_castps128_ps512(dm);
        sw = _mm512_permutexvar_ps(
            _mm512_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 0, 0, 2, 2, 2, 2), v);
        mw = _mm512_maskz_permutexvar_ps(
            0x0011, _mm512_setr_epi32(1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), v);
    }
}

// The pair's weights as the unsigned operand (the second block zero when `two` is false).
template <QType T>
HFK_Q_AVX512 inline __m512i pair_weights(const uint8_t *b0, const uint8_t *b1, bool two) {
    if constexpr (T == QType::Q8_0) {
        const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(b0 + 2));
        const __m256i hi = two ? _mm256_loadu_si256(reinterpret_cast<const __m256i *>(b1 + 2))
                               : _mm256_set1_epi8(char(0x80));  // w = 0 after the xor
        return _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
                                _mm512_set1_epi8(char(0x80)));
    } else {
        const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(b0 + kWeightsAt<T>));
        const __m128i q1 =
            two ? _mm_loadu_si128(reinterpret_cast<const __m128i *>(b1 + kWeightsAt<T>))
                : _mm_setzero_si128();
        const __m256i y = _mm256_inserti128_si256(_mm256_castsi128_si256(q0), q1, 1);
        return _mm512_and_si512(
            _mm512_inserti64x4(_mm512_castsi256_si512(y), _mm256_srli_epi16(y, 4), 1),
            _mm512_set1_epi8(15));
    }
}

// A Q4_1 pair from one (masked) load of its 40 bytes: the nibbles as pair_weights gives them,
// by one word permute (the nibbles sit at words 2-9 and 12-19), and the scales and minima as
// F32 by one conversion of words 0-15: d0 in lane 0, m0 in 1, d1 in 10, m1 in 11 (the other lanes
// are nibbles read as F16: never used). sw spreads d0 and d1 to their lanes; the minima stay in
// lanes 1 and 11, where prepare_acts put the block sums, and tile_512 moves their sums to lanes
// 0 and 4 at the end. Two shuffles and one load a pair instead of five and four (pair_weights +
// pair_scales). Measured on Zen 5, one thread, a decode's matrix-vector product with the weights
// in L2: 2.41 -> 2.23 ns a pair (576 inputs), 2.67 -> 2.44 (1536); llama-135m Q4_1 decode +3-5%
// (155-162 -> 163-165 tok/s, alternated). Still ~2x Q8_0's instructions per byte: what else
// holds it back was not found without the CPU's counters (none in this VM).
HFK_Q_AVX512 inline void pair_q4_1(const uint8_t *b0, bool two, __m512i &wv, __m512 &sw,
                                   __m512 &f) {
    const __m512i v = _mm512_maskz_loadu_epi8(two ? (__mmask64(1) << 40) - 1 : 0xfffff, b0);
    const __m512i nib = _mm512_permutexvar_epi16(
        _mm512_set_epi16(19, 18, 17, 16, 15, 14, 13, 12, 9, 8, 7, 6, 5, 4, 3, 2,  // high to low
                         19, 18, 17, 16, 15, 14, 13, 12, 9, 8, 7, 6, 5, 4, 3, 2),
        v);
    wv = _mm512_and_si512(_mm512_mask_srli_epi16(nib, 0xffff0000u, nib, 4), _mm512_set1_epi8(15));
    f = _mm512_cvtph_ps(_mm512_castsi512_si256(v));
    sw = _mm512_permutexvar_ps(
        _mm512_setr_epi32(0, 0, 0, 0, 10, 10, 10, 10, 0, 0, 0, 0, 10, 10, 10, 10), f);
    if (!two) sw = _mm512_maskz_mov_ps(0x0f0f, sw);
}

// One pair of blocks (the second absent when !Two: the tail of an odd block count) into the
// tile's accumulators.
template <QType T, int R, int A, bool Two>
HFK_Q_AVX512 inline __attribute__((always_inline)) void tile_pair(const uint8_t *w, size_t rb,
                                                                  int64_t p, const V64 *const *acts,
                                                                  __m512 (&acc)[R][A],
                                                                  __m512 (&accm)[R][A]) {
    constexpr size_t bb = kBlockBytes<T>;
    constexpr bool kMin = T != QType::Q8_0;
    constexpr __mmask16 kLanes = Two ? 0xffff : T == QType::Q8_0 ? 0x00ff : 0x0f0f;
    __m512i wv[R];
    __m512 sw[R], mw[R];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
        const uint8_t *b0 = w + size_t(r) * rb + size_t(2 * p) * bb, *b1 = b0 + bb;
        if constexpr (T == QType::Q4_1) {
            pair_q4_1(b0, Two, wv[r], sw[r], mw[r]);
        } else {
            wv[r] = pair_weights<T>(b0, b1, Two);
            pair_scales<T>(b0, b1, Two, sw[r], mw[r]);
        }
    }
#pragma GCC unroll 4
    for (int a = 0; a < A; ++a) {
        const V64 *pa = acts[a] + kPairVecs * p;
        const __m512i x = _mm512_load_si512(pa[0].b);
        const __m512 dx = _mm512_load_ps(pa[1].b);
        // Q8_0: the lane sums' start, -128 * sum(x); Q4: the block sums in lanes 0 and 4.
        const __m512i nc = kMin ? _mm512_setzero_si512() : _mm512_load_si512(pa[2].b);
#pragma GCC unroll 4
        for (int r = 0; r < R; ++r) {
            const __m512 lane = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(nc, wv[r], x));
            if constexpr (Two)
                acc[r][a] = _mm512_fmadd_ps(lane, _mm512_mul_ps(sw[r], dx), acc[r][a]);
            else
                acc[r][a] =
                    _mm512_mask3_fmadd_ps(lane, _mm512_mul_ps(sw[r], dx), acc[r][a], kLanes);
            // The minimum's term into each block's first lane of the minima's accumulator.
            if constexpr (T == QType::Q4_1)  // only lanes 1 and 11 hold minima
                accm[r][a] =
                    _mm512_mask3_fmadd_ps(mw[r], _mm512_load_ps(pa[2].b), accm[r][a], 0x0802);
            else if constexpr (kMin)
                accm[r][a] = _mm512_fmadd_ps(mw[r], _mm512_load_ps(pa[2].b), accm[r][a]);
        }
    }
}

// y[a][r_off + r] for r < R, a < A: rows w + r * rb, prepared activations acts[a], nb blocks.
template <QType T, int R, int A>
HFK_Q_AVX512 inline void tile_512(const uint8_t *w, size_t rb, int64_t nb, const V64 *const *acts,
                                  float *const *y, int64_t r_off) {
    __m512 acc[R][A], accm[R][A];
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int a = 0; a < A; ++a) acc[r][a] = accm[r][a] = _mm512_setzero_ps();
    int64_t p = 0;
    for (; 2 * p + 1 < nb; ++p) tile_pair<T, R, A, true>(w, rb, p, acts, acc, accm);
    if (2 * p < nb) tile_pair<T, R, A, false>(w, rb, p, acts, acc, accm);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int a = 0; a < A; ++a) {
            __m512 v = acc[r][a];
            if constexpr (T != QType::Q8_0) {
                // The minima's sums into the blocks' first lanes (0 and 4), then back to lanes
                // 0-7 the even block, 8-15 the odd one.
                __m512 m = accm[r][a];
                if constexpr (T == QType::Q4_1)  // lanes 1 and 11 -> 0 and 4
                    m = _mm512_permutexvar_ps(
                        _mm512_setr_epi32(1, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), m);
                v = _mm512_mask_add_ps(v, 0x0011, v, m);
                v = _mm512_permutexvar_ps(
                    _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 12, 13, 14, 15), v);
            }
            y[a][r_off + r] = reduce_two(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
        }
}

// Activation rows per chunk: their prepared pairs (3 x 64 bytes per 64 activations) stay in L2
// while the task's weight rows pass over them.
constexpr int64_t kActChunk = 64;

// Weight rows R at a time (R = 4 reads four rows side by side: prefill, where the rows stay in
// L1; R = 1 reads one sequential stream: decode. Four neighbouring rows side by side took
// 2-2.5x the CPU time of one stream for a llama-135m token's Q8_0 products on Zen 5, stalled on
// the weight loads: seemingly the prefetcher follows one stream, not four 600 bytes apart).
template <QType T, int R, int A>
HFK_Q_AVX512 inline void rows_512(const uint8_t *w, size_t rb, int64_t rows, int64_t nb,
                                  const V64 *const *acts, float *const *y) {
    int64_t r = 0;
    if constexpr (R > 1)
        for (; r + R <= rows; r += R) tile_512<T, R, A>(w + size_t(r) * rb, rb, nb, acts, y, r);
    for (; r < rows; ++r) tile_512<T, 1, A>(w + size_t(r) * rb, rb, nb, acts, y, r);
}

template <QType T>
HFK_Q_AVX512 void gemm_512(const uint8_t *w, size_t rb, int64_t rows, const QActs *x, int64_t m,
                           float *y, int64_t ldy) {
    if (m <= 0 || rows <= 0) return;
    const int64_t nb = x[0].nb, pairs = (nb + 1) / 2;
    thread_local std::vector<V64> buf;
    const int64_t chunk = std::min(m, kActChunk);
    if (buf.size() < size_t(chunk * pairs * kPairVecs))
        buf.resize(size_t(chunk * pairs * kPairVecs));
    for (int64_t i0 = 0; i0 < m; i0 += kActChunk) {
        const int64_t mc = std::min(kActChunk, m - i0);
        const V64 *acts[kActChunk];
        float *ys[kActChunk];
        for (int64_t i = 0; i < mc; ++i) {
            V64 *dst = buf.data() + i * pairs * kPairVecs;
            prepare_acts<T>(x[i0 + i], dst);
            acts[i] = dst;
            ys[i] = y + (i0 + i) * ldy;
        }
        if (mc < 4) {  // decode: every row once, one stream
            for (int64_t i = 0; i < mc; ++i) rows_512<T, 1, 1>(w, rb, rows, nb, acts + i, ys + i);
            continue;
        }
        // Prefill: blocks of 16 weight rows (they stay in L1 while the activations pass), four
        // rows by four activation rows per tile.
        constexpr int64_t kRowBlock = 16;
        for (int64_t r0 = 0; r0 < rows; r0 += kRowBlock) {
            const int64_t nr = std::min(kRowBlock, rows - r0);
            const uint8_t *wr = w + size_t(r0) * rb;
            int64_t i = 0;
            float *yo[4];
            for (; i + 4 <= mc; i += 4) {
                for (int k = 0; k < 4; ++k) yo[k] = ys[i + k] + r0;
                rows_512<T, 4, 4>(wr, rb, nr, nb, acts + i, yo);
            }
            for (; i < mc; ++i) {
                yo[0] = ys[i] + r0;
                rows_512<T, 4, 1>(wr, rb, nr, nb, acts + i, yo);
            }
        }
    }
}

HFK_Q_AVX512 void gemm_avx512vnni(QType t, const uint8_t *w, size_t row_bytes, int64_t rows,
                                  const QActs *x, int64_t m, float *y, int64_t ldy) {
    if (q_interleaved(t))
        gemm_rows16_avx512(t, w, row_bytes, rows, x, m, y, ldy);
    else if (t == QType::Q8_0)
        gemm_512<QType::Q8_0>(w, row_bytes, rows, x, m, y, ldy);
    else if (t == QType::Q4_1)
        gemm_512<QType::Q4_1>(w, row_bytes, rows, x, m, y, ldy);
    else
        gemm_512<QType::Q4_1F>(w, row_bytes, rows, x, m, y, ldy);
}

HFK_Q_AVX512 void dot_rows_avx512vnni(QType t, const uint8_t *w, size_t row_bytes, int64_t rows,
                                      const QActs &x, float *y) {
    gemm_avx512vnni(t, w, row_bytes, rows, &x, 1, y, 0);
}

constexpr QuantOps kAvx512Vnni{dot_rows_avx512vnni, gemm_avx512vnni, true};

// quantize_acts_reference (quant.cpp) on 16 lanes: the same amax (a max is exact in any order),
// the same float division, product and round-to-nearest-even, so the same bits for finite input.
HFK_Q_AVX512 void quantize_acts_avx512(const float *x, int64_t k, int8_t *q, float *d, float *s,
                                       int32_t *sums) {
    const int64_t nb = q_blocks(k);
    const __m512 lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    for (int64_t b = 0; b < nb; ++b) {
        const int64_t n = std::min(kQBlock, k - b * kQBlock);
        const __mmask16 k0 = n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1);
        const __mmask16 k1 = n >= 32  ? __mmask16(0xffff)
                             : n > 16 ? __mmask16((1u << (n - 16)) - 1)
                                      : 0;
        const __m512 v0 = _mm512_maskz_loadu_ps(k0, x + b * kQBlock);
        const __m512 v1 = _mm512_maskz_loadu_ps(k1, x + b * kQBlock + 16);
        const float amax =
            _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
        const float db = amax / 127.0f, id = db != 0 ? 1.0f / db : 0.0f;
        const __m512 vid = _mm512_set1_ps(id);
        constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
        const __m512i i0 = _mm512_cvtps_epi32(_mm512_min_ps(
            _mm512_max_ps(_mm512_roundscale_ps(_mm512_mul_ps(v0, vid), kNearest), lo), hi));
        const __m512i i1 = _mm512_cvtps_epi32(_mm512_min_ps(
            _mm512_max_ps(_mm512_roundscale_ps(_mm512_mul_ps(v1, vid), kNearest), lo), hi));
        _mm_storeu_si128(reinterpret_cast<__m128i *>(q + b * kQBlock), _mm512_cvtepi32_epi8(i0));
        _mm_storeu_si128(reinterpret_cast<__m128i *>(q + b * kQBlock + 16),
                         _mm512_cvtepi32_epi8(i1));
        const int32_t sum = _mm512_reduce_add_epi32(_mm512_add_epi32(i0, i1));
        d[b] = db;
        s[b] = db * float(sum);
        if (sums) sums[b] = sum;
    }
}

// round_clamped (quant.cpp) on 16 lanes: round to nearest even, then clamp to [lo, hi].
HFK_Q_AVX512 inline __m512 round_clamped_512(__m512 y, __m512 lo, __m512 hi) {
    constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
    return _mm512_min_ps(_mm512_max_ps(_mm512_roundscale_ps(y, kNearest), lo), hi);
}

// quantize_row_reference (quant.cpp) for Q8_0 and Q4_1 on 16 lanes: the same extremes (a max or
// min is exact in any order), the same scalar scale arithmetic and F16 roundings, the same
// product, round-to-nearest-even and clamp. A Q4_1 block whose minimum or maximum is zero goes
// to the reference: which of +0 and -0 it keeps depends on the order it meets them.
HFK_Q_AVX512 void quantize_row_avx512(QType t, const float *x, int64_t k, uint8_t *dst) {
    const int64_t nb = q_blocks(k);
    const size_t bb = q_block_bytes(t);
    for (int64_t b = 0; b < nb; ++b) {
        uint8_t *out = dst + size_t(b) * bb;
        const float *xb = x + b * kQBlock;
        const int64_t n = std::min(kQBlock, k - b * kQBlock);
        const __mmask16 k0 = n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1);
        const __mmask16 k1 = n >= 32  ? __mmask16(0xffff)
                             : n > 16 ? __mmask16((1u << (n - 16)) - 1)
                                      : 0;
        const __m512 v0 = _mm512_maskz_loadu_ps(k0, xb), v1 = _mm512_maskz_loadu_ps(k1, xb + 16);
        if (t == QType::Q8_0) {
            const float amax =
                _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
            const uint16_t dh = f32_to_f16(amax / 127.0f);
            const float d = f16_to_f32(dh), id = d != 0 ? 1.0f / d : 0.0f;
            std::memcpy(out, &dh, 2);
            const __m512 vid = _mm512_set1_ps(id), lo = _mm512_set1_ps(-127.0f),
                         hi = _mm512_set1_ps(127.0f);
            const __m512i i0 =
                _mm512_cvtps_epi32(round_clamped_512(_mm512_mul_ps(v0, vid), lo, hi));
            const __m512i i1 =
                _mm512_cvtps_epi32(round_clamped_512(_mm512_mul_ps(v1, vid), lo, hi));
            _mm_storeu_si128(reinterpret_cast<__m128i *>(out + 2), _mm512_cvtepi32_epi8(i0));
            _mm_storeu_si128(reinterpret_cast<__m128i *>(out + 18), _mm512_cvtepi32_epi8(i1));
            continue;
        }
        const float lo = std::min(_mm512_mask_reduce_min_ps(k0, v0),
                                  k1 ? _mm512_mask_reduce_min_ps(k1, v1) : INFINITY);
        const float hi = std::max(_mm512_mask_reduce_max_ps(k0, v0),
                                  k1 ? _mm512_mask_reduce_max_ps(k1, v1) : -INFINITY);
        if (t != QType::Q4_1 || lo == 0.0f || hi == 0.0f) {
            quantize_row_reference(t, xb, n, out);
            continue;
        }
        const uint16_t dh = f32_to_f16((hi - lo) / 15.0f), mh = f32_to_f16(lo);
        const float d = f16_to_f32(dh), id = d != 0 ? 1.0f / d : 0.0f;
        std::memcpy(out, &dh, 2);
        std::memcpy(out + 2, &mh, 2);
        const __m512 vm = _mm512_set1_ps(f16_to_f32(mh)), vid = _mm512_set1_ps(id),
                     zero = _mm512_setzero_ps(), fifteen = _mm512_set1_ps(15.0f);
        // Lanes past n: 0, as the reference's padding.
        const __m512i i0 = _mm512_maskz_cvtps_epi32(
            k0, round_clamped_512(_mm512_mul_ps(_mm512_sub_ps(v0, vm), vid), zero, fifteen));
        const __m512i i1 = _mm512_maskz_cvtps_epi32(
            k1, round_clamped_512(_mm512_mul_ps(_mm512_sub_ps(v1, vm), vid), zero, fifteen));
        _mm_storeu_si128(reinterpret_cast<__m128i *>(out + 4),
                         _mm512_cvtepi32_epi8(_mm512_or_si512(i0, _mm512_slli_epi32(i1, 4))));
    }
}
#endif  // __x86_64__

}  // namespace

void quantize_row(QType t, const float *x, int64_t k, uint8_t *dst) {
#if defined(__x86_64__)
    static const bool wide = std::strcmp(quant_isa(), "avx512vnni") == 0;
    if (wide && t != QType::Q4_1F) return quantize_row_avx512(t, x, k, dst);
#endif
    quantize_row_reference(t, x, k, dst);
}

const char *quant_isa() {
    static const char *isa = [] {
        const CpuFeatures &f = cpu_features();
        const char *forced = std::getenv("HFK_KERNELS");
        auto is = [&](const char *s) { return forced && std::strcmp(forced, s) == 0; };
        if (is("scalar") || !f.avx2_fma_f16c) return "scalar";
        if (is("avx2")) return "avx2";
        if (!is("avxvnni") && f.avx512 && f.avx512_vnni) return "avx512vnni";
        if (f.avx_vnni) return "avxvnni";
        return "avx2";
    }();
    return isa;
}

const QuantOps *quant_ops_for(const char *isa) {
    if (std::strcmp(isa, "scalar") == 0) return &kScalar;
#if defined(__x86_64__)
    const CpuFeatures &f = cpu_features();
    if (std::strcmp(isa, "avx2") == 0 && f.avx2_fma_f16c) return &kAvx2;
    if (std::strcmp(isa, "avxvnni") == 0 && f.avx2_fma_f16c && f.avx_vnni) return &kAvxVnni;
    if (std::strcmp(isa, "avx512vnni") == 0 && f.avx512 && f.avx512_vnni) return &kAvx512Vnni;
#endif
    return nullptr;
}

void quantize_acts(const float *x, int64_t k, int8_t *q, float *d, float *s, int32_t *sums) {
#if defined(__x86_64__)
    static const bool wide = std::strcmp(quant_isa(), "avx512vnni") == 0;
    if (wide) return quantize_acts_avx512(x, k, q, d, s, sums);
#endif
    quantize_acts_reference(x, k, q, d, s, sums);
}

const QuantOps &quant_ops() {
    static const QuantOps *ops = quant_ops_for(quant_isa());
    return *ops;
}

}  // namespace hfk::kern
