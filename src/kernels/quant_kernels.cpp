// The int8 dot products of quantized weights (quant.h), one set per instruction set, chosen once
// at run time. quant_dot_reference defines the float sequence; the SIMD sets compute the same
// exact int32 lane sums (vpdpbusd or vpmaddubsw + vpmaddwd group the same four products) and then
// the same fmas, adds and reduction tree, so every set gives the same bits.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu.h"
#include "kernels/quant.h"
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

inline float half_at(const uint8_t *p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return f16_to_f32(h);
}

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
    float macc = 0;
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
            macc = std::fma(t == QType::Q4_1 ? half_at(blk + 2) : float_at(blk + 4), x.s[b], macc);
        }
        const float scale = (t == QType::Q4_1F ? float_at(blk) : half_at(blk)) * x.d[b];
        float *a = acc + (b & 1) * 8;
        for (int j = 0; j < 8; ++j) {
            int32_t lane = 0;
            for (int u = 0; u < 4; ++u) lane += w[4 * j + u] * xq[4 * j + u];
            a[j] = std::fma(float(lane), scale, a[j]);
        }
    }
    return reduce16(acc) + macc;
}

void dot_rows_scalar(QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs &x,
                     float *y) {
    for (int64_t r = 0; r < rows; ++r) y[r] = dot_scalar(t, w + size_t(r) * row_bytes, x);
}

constexpr QuantOps kScalar{dot_rows_scalar};

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
    float macc = 0;
    int64_t b = 0;
    for (; b < x.nb; ++b) {
        const uint8_t *blk = row + size_t(b) * bb;
        __m256i a, s;
        block_operands<T>(blk, x.q + b * kQBlock, a, s);
        const __m256 lane = _mm256_cvtepi32_ps(L::lanes(a, s));
        const __m256 scale = _mm256_set1_ps(scale_of<T>(blk) * x.d[b]);
        if (b & 1)
            acc1 = _mm256_fmadd_ps(lane, scale, acc1);
        else
            acc0 = _mm256_fmadd_ps(lane, scale, acc0);
        if constexpr (T != QType::Q8_0) macc = std::fma(min_of<T>(blk), x.s[b], macc);
    }
    return reduce_two(acc0, acc1) + macc;
}

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
    dot_rows_256<Avx2Lanes>(t, w, row_bytes, rows, x, y);
}
HFK_Q_AVXVNNI void dot_rows_avxvnni(QType t, const uint8_t *w, size_t row_bytes, int64_t rows,
                                    const QActs &x, float *y) {
    dot_rows_256<AvxVnniLanes>(t, w, row_bytes, rows, x, y);
}

constexpr QuantOps kAvx2{dot_rows_avx2};
constexpr QuantOps kAvxVnni{dot_rows_avxvnni};

// ---------------------------------------------------------------------------------------------
// AVX-512 VNNI: two blocks per register (lanes 0-7 the even block, 8-15 the odd one).
// ---------------------------------------------------------------------------------------------
template <QType T>
HFK_Q_AVX512 inline __m512i pair_lanes(const uint8_t *b0, const uint8_t *b1, const int8_t *xq) {
    const __m512i x = _mm512_loadu_si512(xq);
    if constexpr (T == QType::Q8_0) {
        const __m512i w = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(b0 + 2))),
            _mm256_loadu_si256(reinterpret_cast<const __m256i *>(b1 + 2)), 1);
        const __mmask64 neg = _mm512_movepi8_mask(w);
        return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(w),
                                   _mm512_mask_sub_epi8(x, neg, _mm512_setzero_si512(), x));
    } else {
        const __m128i q0 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(b0 + kWeightsAt<T>));
        const __m128i q1 = _mm_loadu_si128(reinterpret_cast<const __m128i *>(b1 + kWeightsAt<T>));
        __m512i v = _mm512_castsi128_si512(q0);
        v = _mm512_inserti32x4(v, q0, 1);
        v = _mm512_inserti32x4(v, q1, 2);
        v = _mm512_inserti32x4(v, q1, 3);
        // 128-bit lanes 0 and 2: low nibbles (elements 0-15); lanes 1 and 3: high nibbles.
        const __m512i w = _mm512_and_si512(
            _mm512_mask_blend_epi64(0xCC, v, _mm512_srli_epi16(v, 4)), _mm512_set1_epi8(15));
        return _mm512_dpbusd_epi32(_mm512_setzero_si512(), w, x);
    }
}

template <QType T>
HFK_Q_AVX512 inline float dot_512(const uint8_t *row, const QActs &x) {
    constexpr size_t bb = kBlockBytes<T>;
    __m512 acc = _mm512_setzero_ps();
    float macc = 0;
    int64_t b = 0;
    for (; b + 2 <= x.nb; b += 2) {
        const uint8_t *b0 = row + size_t(b) * bb, *b1 = b0 + bb;
        const __m512 lane = _mm512_cvtepi32_ps(pair_lanes<T>(b0, b1, x.q + b * kQBlock));
        const __m512 scale = _mm512_insertf32x8(_mm512_set1_ps(scale_of<T>(b0) * x.d[b]),
                                                _mm256_set1_ps(scale_of<T>(b1) * x.d[b + 1]), 1);
        acc = _mm512_fmadd_ps(lane, scale, acc);
        if constexpr (T != QType::Q8_0) {
            macc = std::fma(min_of<T>(b0), x.s[b], macc);
            macc = std::fma(min_of<T>(b1), x.s[b + 1], macc);
        }
    }
    __m256 even = _mm512_castps512_ps256(acc);
    const __m256 odd = _mm512_extractf32x8_ps(acc, 1);
    if (b < x.nb) {  // a last even block alone
        const uint8_t *blk = row + size_t(b) * bb;
        __m256i a, s;
        block_operands<T>(blk, x.q + b * kQBlock, a, s);
        const __m256 lane = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(_mm256_setzero_si256(), a, s));
        even = _mm256_fmadd_ps(lane, _mm256_set1_ps(scale_of<T>(blk) * x.d[b]), even);
        if constexpr (T != QType::Q8_0) macc = std::fma(min_of<T>(blk), x.s[b], macc);
    }
    return reduce_two(even, odd) + macc;
}

HFK_Q_AVX512 void dot_rows_avx512vnni(QType t, const uint8_t *w, size_t row_bytes, int64_t rows,
                                      const QActs &x, float *y) {
    if (t == QType::Q8_0)
        for (int64_t r = 0; r < rows; ++r)
            y[r] = dot_512<QType::Q8_0>(w + size_t(r) * row_bytes, x);
    else if (t == QType::Q4_1)
        for (int64_t r = 0; r < rows; ++r)
            y[r] = dot_512<QType::Q4_1>(w + size_t(r) * row_bytes, x);
    else
        for (int64_t r = 0; r < rows; ++r)
            y[r] = dot_512<QType::Q4_1F>(w + size_t(r) * row_bytes, x);
}

constexpr QuantOps kAvx512Vnni{dot_rows_avx512vnni};
#endif  // __x86_64__

}  // namespace

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

const QuantOps &quant_ops() {
    static const QuantOps *ops = quant_ops_for(quant_isa());
    return *ops;
}

}  // namespace hfk::kern
