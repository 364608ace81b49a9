// Q8_0x16 (quant.h): Q8_0 with 16 rows interleaved, so that the AVX-512 VNNI kernel sums a block
// of 16 rows with 8 vpdpbusd and applies its 16 scales with one fma. Q8_0's own layout needs 4
// vector instructions per pair of blocks for every (weight row, activation row) -- vpdpbusd, a
// conversion, the scale product and an fma over 8 lanes a block -- as many as the BF16 kernel's
// FMAs for the same products: a batch of 8 activation rows gained nothing over BF16, and one row
// (decode) was bound by instructions rather than by the bytes it reads.
#include "kernels/quant_rows16.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/simd.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// GCC 12's AVX-512 headers trip its own maybe-uninitialized warnings (_mm512_reduce_add_ps and
// the conversions' undefined upper halves); quant_kernels.cpp does the same.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace hfk::kern {
namespace {

constexpr int64_t kBlockWeights = kQRowGroup * kQBlock;  // 512 bytes a block of a group
constexpr int64_t kBlockScales = kQRowGroup * 2;         // 32

size_t group_bytes(size_t row_bytes) {
    return size_t(kQRowGroup) * row_bytes;
}

// Blocks go in pairs, each pair's 2 x 512 weight bytes then its 2 x 32 scale bytes (17 cache
// lines), a last odd block as its 512 then its 32: a decode reads a group strictly in address
// order. (With a group's scales after all its weights -- a gap of 9 lines every 144 in the
// weights' stream -- the hardware prefetchers lost the stream at every group: 14 GB/s from memory
// on Zen 5, against 30-32 in pairs and 27-29 for Q8_0's kernel.)
inline int64_t pair_at(int64_t b) {
    return (b / 2) * 2 * (kBlockWeights + kBlockScales);
}

// Block b's weight byte for row r, input j of the block.
inline size_t weight_at(int64_t b, int64_t r, int64_t j) {
    return size_t(pair_at(b) + (b & 1) * kBlockWeights + (j / 4) * 64 + r * 4 + j % 4);
}

// Block b's 16 scales (of nb blocks).
inline int64_t scales_at(int64_t nb, int64_t b) {
    const bool pair = (b | 1) < nb;
    return pair_at(b) + (pair ? 2 : 1) * kBlockWeights + (b & 1) * kBlockScales;
}

inline size_t scale_at(int64_t nb, int64_t b, int64_t r) {
    return size_t(scales_at(nb, b) + 2 * r);
}

}  // namespace

void interleave_q8_0(uint8_t *w, int64_t rows, int64_t k) {
    const int64_t nb = q_blocks(k);
    const size_t rb = q_row_bytes(QType::Q8_0, k), gb = group_bytes(rb);
    std::vector<uint8_t> rows16(gb);
    for (int64_t g = 0; g < rows / kQRowGroup; ++g) {
        uint8_t *group = w + size_t(g) * gb;
        std::memcpy(rows16.data(), group, gb);
        for (int64_t r = 0; r < kQRowGroup; ++r) {
            const uint8_t *row = rows16.data() + size_t(r) * rb;
            for (int64_t b = 0; b < nb; ++b) {
                const uint8_t *blk = row + size_t(b) * 34;
                std::memcpy(group + scale_at(nb, b, r), blk, 2);
                for (int64_t j = 0; j < kQBlock; j += 4) {  // 4 inputs at a time, w + 128
                    uint32_t four;
                    std::memcpy(&four, blk + 2 + j, 4);
                    four ^= 0x80808080u;
                    std::memcpy(group + weight_at(b, r, j), &four, 4);
                }
            }
        }
    }
}

void dequantize_matrix_row(QType t, const uint8_t *w, size_t row_bytes, int64_t r, int64_t k,
                           float *dst) {
    if (t != QType::Q8_0x16) return dequantize_row(t, w + size_t(r) * row_bytes, k, dst);
    const int64_t nb = q_blocks(k), lane = r % kQRowGroup;
    const uint8_t *group = w + size_t(r / kQRowGroup) * group_bytes(row_bytes);
    for (int64_t i = 0; i < k; ++i) {
        const int64_t b = i / kQBlock;
        uint16_t dh;
        std::memcpy(&dh, group + scale_at(nb, b, lane), 2);
        const int q = int(group[weight_at(b, lane, i % kQBlock)]) - 128;
        dst[i] = f16_to_f32(dh) * float(q);
    }
}

void gemm_q8_0x16_portable(const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x,
                           int64_t m, float *y, int64_t ldy) {
    for (int64_t r = 0; r < rows; ++r) {
        const uint8_t *group = w + size_t(r / kQRowGroup) * group_bytes(row_bytes);
        const int64_t lane = r % kQRowGroup;
        for (int64_t i = 0; i < m; ++i) {
            const QActs &a = x[i];
            float acc = 0.0f;
            for (int64_t b = 0; b < a.nb; ++b) {
                int32_t sum = 0;
                for (int64_t j = 0; j < kQBlock; ++j)
                    sum += (int32_t(group[weight_at(b, lane, j)]) - 128) * a.q[b * kQBlock + j];
                uint16_t dh;
                std::memcpy(&dh, group + scale_at(a.nb, b, lane), 2);
                acc = std::fma(float(sum), f16_to_f32(dh) * a.d[b], acc);
            }
            y[i * ldy + r] = acc;
        }
    }
}

#if defined(__x86_64__)
#define HFK_Q16_AVX512 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

namespace {

inline int32_t dword_at(const int8_t *p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// A group's 16 rows against A activation rows: y[a][0..15]. A block's 8 weight vectors and 16
// scales are loaded once for the A rows; each row's block sum runs in two chains of 4 vpdpbusd
// (an exact int32 sum in any order), then one conversion, one scale product and one fma.
template <int A>
HFK_Q16_AVX512 inline void group_rows(const uint8_t *group, int64_t nb, const QActs *x,
                                      const int32_t *const *offsets, float *const *y) {
    __m512 acc[A];
#pragma GCC unroll 8
    for (int a = 0; a < A; ++a) acc[a] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        const uint8_t *blk = group + weight_at(b, 0, 0);
        __m512i wv[8];
#pragma GCC unroll 8
        for (int c = 0; c < 8; ++c) wv[c] = _mm512_loadu_si512(blk + 64 * c);
        const __m512 dw = _mm512_cvtph_ps(
            _mm256_loadu_si256(reinterpret_cast<const __m256i *>(group + scales_at(nb, b))));
#pragma GCC unroll 8
        for (int a = 0; a < A; ++a) {
            const int8_t *xq = x[a].q + b * kQBlock;
            __m512i s0 = _mm512_set1_epi32(offsets[a][b]), s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int c = 0; c < 8; c += 2) {
                s0 = _mm512_dpbusd_epi32(s0, wv[c], _mm512_set1_epi32(dword_at(xq + 4 * c)));
                s1 = _mm512_dpbusd_epi32(s1, wv[c + 1],
                                         _mm512_set1_epi32(dword_at(xq + 4 * c + 4)));
            }
            const __m512 sum = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
            acc[a] = _mm512_fmadd_ps(sum, _mm512_mul_ps(dw, _mm512_set1_ps(x[a].d[b])), acc[a]);
        }
    }
#pragma GCC unroll 8
    for (int a = 0; a < A; ++a) _mm512_storeu_ps(y[a], acc[a]);
}

template <int A>
HFK_Q16_AVX512 void groups_rows(const uint8_t *w, size_t gb, int64_t groups, int64_t nb,
                                const QActs *x, const int32_t *const *offsets, float *y,
                                int64_t ldy) {
    for (int64_t g = 0; g < groups; ++g) {
        float *ys[A];
#pragma GCC unroll 8
        for (int a = 0; a < A; ++a) ys[a] = y + a * ldy + g * kQRowGroup;
        group_rows<A>(w + size_t(g) * gb, nb, x, offsets, ys);
    }
}

}  // namespace

// Activation rows 8 at a time (8 accumulators, 8 weight vectors, the scales: 17 registers), each
// group of 16 weight rows passing over a chunk while it is in L1 (16 rows of 1536 inputs: 26 KB).
HFK_Q16_AVX512 void gemm_q8_0x16_avx512(const uint8_t *w, size_t row_bytes, int64_t rows,
                                        const QActs *x, int64_t m, float *y, int64_t ldy) {
    if (m <= 0 || rows <= 0) return;
    const int64_t nb = x[0].nb, groups = rows / kQRowGroup;
    const size_t gb = group_bytes(row_bytes);
    thread_local std::vector<int32_t> offsets;
    thread_local std::vector<const int32_t *> offs;
    offsets.resize(static_cast<size_t>(m * nb));
    offs.resize(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) {
        int32_t *out = offsets.data() + i * nb;
        // -128 times each block's sum of quantized activations: vpdpbusd sums (w + 128) * x,
        // so a block's sum starts there.
        for (int64_t b = 0; b < nb; ++b) {
            const __m512i q = _mm512_cvtepi8_epi16(
                _mm256_loadu_si256(reinterpret_cast<const __m256i *>(x[i].q + b * kQBlock)));
            out[b] = -128 * _mm512_reduce_add_epi32(_mm512_madd_epi16(q, _mm512_set1_epi16(1)));
        }
        offs[size_t(i)] = out;
    }
    constexpr int64_t kChunk = 8;
    // Decode (m <= 8): the groups in one sequential pass. Prefill: group by group, every chunk
    // of activation rows over a group while it is in cache.
    const int64_t pass_groups = m <= kChunk ? groups : 1;
    for (int64_t g0 = 0; g0 < groups; g0 += pass_groups) {
        const uint8_t *wg = w + size_t(g0) * gb;
        for (int64_t i = 0; i < m; i += kChunk) {
            const int64_t a = std::min(kChunk, m - i);
            const QActs *xi = x + i;
            const int32_t *const *oi = offs.data() + i;
            float *yi = y + i * ldy + g0 * kQRowGroup;
            switch (a) {
                case 8: groups_rows<8>(wg, gb, pass_groups, nb, xi, oi, yi, ldy); break;
                case 7: groups_rows<7>(wg, gb, pass_groups, nb, xi, oi, yi, ldy); break;
                case 6: groups_rows<6>(wg, gb, pass_groups, nb, xi, oi, yi, ldy); break;
                case 5: groups_rows<5>(wg, gb, pass_groups, nb, xi, oi, yi, ldy); break;
                case 4: groups_rows<4>(wg, gb, pass_groups, nb, xi, oi, yi, ldy); break;
                case 3: groups_rows<3>(wg, gb, pass_groups, nb, xi, oi, yi, ldy); break;
                case 2: groups_rows<2>(wg, gb, pass_groups, nb, xi, oi, yi, ldy); break;
                default: groups_rows<1>(wg, gb, pass_groups, nb, xi, oi, yi, ldy); break;
            }
        }
    }
}
#endif  // __x86_64__

}  // namespace hfk::kern
