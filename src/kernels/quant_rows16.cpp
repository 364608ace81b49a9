// Q8_0x16 and Q4_1x16 (quant.h): Q8_0 and Q4_1 with 16 rows interleaved, so that the AVX-512
// VNNI kernel sums a block of 16 rows with 8 vpdpbusd and applies their 16 scales with one fma.
// The row-by-row layouts need 4 vector instructions per pair of blocks for every (weight row,
// activation row) -- vpdpbusd, a conversion, the scale product and an fma over 8 lanes a block
// -- as many as the BF16 kernel's FMAs for the same products: a batch of 8 activation rows gained
// nothing over BF16, and one row (decode) was bound by instructions rather than by the bytes it
// reads (Q4_1 most: 2.2 ns a pair of blocks, ~2x Q8_0's instructions a byte).
#include "kernels/quant_rows16.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <utility>
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

constexpr int64_t kQ8Weights = kQRowGroup * kQBlock;      // a Q8_0x16 block's 512 weight bytes
constexpr int64_t kScales = kQRowGroup * 2;               // 16 F16: 32 bytes
constexpr int64_t kQ4Nibbles = kQRowGroup * kQBlock / 2;  // a Q4_1x16 block's 256 nibble bytes
constexpr int64_t kQ4Block = kQ4Nibbles + 2 * kScales;    // 320: 5 cache lines

size_t group_bytes(size_t row_bytes) {
    return size_t(kQRowGroup) * row_bytes;
}

// Q8_0x16: blocks in pairs, each pair's 2 x 512 weight bytes then its 2 x 32 scale bytes (17
// cache lines), a last odd block as its 512 then its 32: a decode reads a group strictly in
// address order. (With a group's scales after all its weights -- a gap of 9 lines every 144 in
// the weights' stream -- the hardware prefetchers lost the stream at every group: 14 GB/s from
// memory on Zen 5, against 30-32 in pairs and 27-29 for Q8_0's kernel.)
inline int64_t q8_pair_at(int64_t b) {
    return (b / 2) * 2 * (kQ8Weights + kScales);
}

// Block b's weight byte for row r, input j of the block.
inline size_t q8_weight_at(int64_t b, int64_t r, int64_t j) {
    return size_t(q8_pair_at(b) + (b & 1) * kQ8Weights + (j / 4) * 64 + r * 4 + j % 4);
}

// Block b's 16 scales (of nb blocks).
inline int64_t q8_scales_at(int64_t nb, int64_t b) {
    const bool pair = (b | 1) < nb;
    return q8_pair_at(b) + (pair ? 2 : 1) * kQ8Weights + (b & 1) * kScales;
}

// Q4_1x16: block b at 320 b: 256 nibble bytes, then 16 scales, then 16 minima. Byte
// 64 c + 4 r + t holds input 4 c + t of row r in its low nibble and input 16 + 4 c + t in its
// high nibble (c < 4): Q4_1's own bytes 4c..4c+3 of the row, moved as they are.
inline size_t q4_nibbles_at(int64_t b, int64_t r, int64_t j) {
    return size_t(b * kQ4Block + ((j % 16) / 4) * 64 + r * 4 + j % 4);
}

inline int q4_weight(const uint8_t *group, int64_t b, int64_t r, int64_t j) {
    const uint8_t byte = group[q4_nibbles_at(b, r, j)];
    return j < 16 ? byte & 15 : byte >> 4;
}

// out[b] = -128 times x's block b's sum of quantized activations, for b < x.nb: where a
// Q8_0x16 block's VNNI sum starts, since vpdpbusd sums (w + 128) * x. The sums come with the
// activations when their quantization kept them (matmul.cpp's: once a call rather than once a
// task); otherwise they are summed here.
[[maybe_unused]] void q8_offsets(const QActs &x, int32_t *out) {
    for (int64_t b = 0; b < x.nb; ++b) {
        int32_t sum = 0;
        if (x.sums)
            sum = x.sums[b];
        else
            for (int64_t j = 0; j < kQBlock; ++j) sum += x.q[b * kQBlock + j];
        out[b] = -128 * sum;
    }
}

}  // namespace

bool q_interleaved(QType t) {
    return t == QType::Q8_0x16 || t == QType::Q4_1x16;
}

void interleave_rows16(QType t, uint8_t *w, int64_t rows, int64_t k) {
    const int64_t nb = q_blocks(k);
    const size_t rb = q_row_bytes(t, k), gb = group_bytes(rb), bb = q_block_bytes(t);
    std::vector<uint8_t> rows16(gb);
    for (int64_t g = 0; g < rows / kQRowGroup; ++g) {
        uint8_t *group = w + size_t(g) * gb;
        std::memcpy(rows16.data(), group, gb);
        for (int64_t r = 0; r < kQRowGroup; ++r) {
            const uint8_t *row = rows16.data() + size_t(r) * rb;
            for (int64_t b = 0; b < nb; ++b) {
                if (t == QType::Q8_0) {
                    const uint8_t *blk = row + size_t(b) * bb;
                    std::memcpy(group + q8_scales_at(nb, b) + 2 * r, blk, 2);
                    for (int64_t j = 0; j < kQBlock; j += 4) {  // 4 inputs at a time, w + 128
                        uint32_t four;
                        std::memcpy(&four, blk + 2 + j, 4);
                        four ^= 0x80808080u;
                        std::memcpy(group + q8_weight_at(b, r, j), &four, 4);
                    }
                } else {  // Q4_1: {d, m, 16 nibble bytes}
                    const uint8_t *blk = row + size_t(b) * bb;
                    uint8_t *out = group + b * kQ4Block;
                    std::memcpy(out + kQ4Nibbles + 2 * r, blk, 2);
                    std::memcpy(out + kQ4Nibbles + kScales + 2 * r, blk + 2, 2);
                    for (int64_t c = 0; c < 4; ++c)
                        std::memcpy(out + 64 * c + 4 * r, blk + 4 + 4 * c, 4);
                }
            }
        }
    }
}

void dequantize_matrix_row(QType t, const uint8_t *w, size_t row_bytes, int64_t r, int64_t k,
                           float *dst) {
    if (!q_interleaved(t)) return dequantize_row(t, w + size_t(r) * row_bytes, k, dst);
    const int64_t nb = q_blocks(k), lane = r % kQRowGroup;
    const uint8_t *group = w + size_t(r / kQRowGroup) * group_bytes(row_bytes);
    for (int64_t i = 0; i < k; ++i) {
        const int64_t b = i / kQBlock, j = i % kQBlock;
        if (t == QType::Q8_0x16) {
            const int q = int(group[q8_weight_at(b, lane, j)]) - 128;
            dst[i] = f16_at(group + q8_scales_at(nb, b) + 2 * lane) * float(q);
        } else {
            const uint8_t *blk = group + b * kQ4Block;
            dst[i] = f16_at(blk + kQ4Nibbles + 2 * lane) * float(q4_weight(group, b, lane, j)) +
                     f16_at(blk + kQ4Nibbles + kScales + 2 * lane);
        }
    }
}

void gemm_rows16_portable(QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x,
                          int64_t m, float *y, int64_t ldy) {
    for (int64_t r = 0; r < rows; ++r) {
        const uint8_t *group = w + size_t(r / kQRowGroup) * group_bytes(row_bytes);
        const int64_t lane = r % kQRowGroup;
        for (int64_t i = 0; i < m; ++i) {
            const QActs &a = x[i];
            float acc = 0.0f, mins = 0.0f;
            for (int64_t b = 0; b < a.nb; ++b) {
                int32_t sum = 0;
                float d;
                if (t == QType::Q8_0x16) {
                    for (int64_t j = 0; j < kQBlock; ++j)
                        sum +=
                            (int32_t(group[q8_weight_at(b, lane, j)]) - 128) * a.q[b * kQBlock + j];
                    d = f16_at(group + q8_scales_at(a.nb, b) + 2 * lane);
                } else {
                    for (int64_t j = 0; j < kQBlock; ++j)
                        sum += q4_weight(group, b, lane, j) * a.q[b * kQBlock + j];
                    const uint8_t *blk = group + b * kQ4Block;
                    d = f16_at(blk + kQ4Nibbles + 2 * lane);
                    mins = std::fma(f16_at(blk + kQ4Nibbles + kScales + 2 * lane), a.s[b], mins);
                }
                acc = std::fma(float(sum), d * a.d[b], acc);
            }
            y[i * ldy + r] = t == QType::Q8_0x16 ? acc : acc + mins;
        }
    }
}

#if defined(__x86_64__)
#define HFK_Q16_AVX512 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

namespace {

// With several activation rows (the engine's steps, prefills) a block's products take long enough
// that the hardware prefetcher falls behind the weight stream: the loads of each block stalled
// (45% of the 8-row kernel's samples). A software prefetch 1 KiB ahead (two Q8_0x16 blocks, three
// Q4_1x16) lifted 8 streams of llama-135m from 530 to 735 tok/s (Q8_0) and 800 to 940 (Q4_1) on
// Zen 5, 2 threads; prefill 947 -> 1005 (one thread). A one-row decode measured slower with this
// one (it has its own, below). Written in the loop itself: GCC 12 -O2 drops the prefetches of an
// inlined helper (simd.cpp's batched kernel).
constexpr int kPrefetchAhead = 1024;
constexpr int kPrefetchMinRows = 2;
// A one-row Q8_0 decode keeps the memory busier with a prefetch into L2 (not L1) 2 KiB (~4
// blocks) ahead: llama-135m's matrices alone, one thread, 22.3 -> 26.3 GB/s (1.18x, medians of
// 300 alternated tokens, Zen 5), a whole decode 2.5-8% (noisy); 1-3 KiB all gained; from 4 KiB
// it lost (16 GB/s), and into L1 it lost at every distance. Two threads: within noise. Q4_1's
// decode (5 lines a block, more work a byte) lost with it at every distance.
constexpr int kDecodePrefetchAhead = 2048;

inline int32_t dword_at(const int8_t *p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// A group's 16 rows against A activation rows: y[a][0..15]. A block's 8 weight vectors (Q4: the
// low and high nibbles of 4 loads) and its scales are made ready once for the A rows; each row's
// block sum runs in two chains of 4 vpdpbusd (an exact int32 sum in any order), then one
// conversion, one scale product and one fma (Q4: and one fma of the minima into their own sum).
template <QType T, int A>
HFK_Q16_AVX512 inline void group_rows(const uint8_t *group, int64_t nb, const QActs *x,
                                      const int32_t *const *offsets, float *const *y) {
    constexpr bool kQ4 = T == QType::Q4_1x16;
    __m512 acc[A], mins[A];
#pragma GCC unroll 8
    for (int a = 0; a < A; ++a) acc[a] = mins[a] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
        __m512i wv[8];
        __m512 dw, mw = _mm512_setzero_ps();
        if constexpr (kQ4) {
            // wv[2c]: inputs 4c..4c+3 (low nibbles), wv[2c + 1]: inputs 16 + 4c.. (high).
            const uint8_t *blk = group + b * kQ4Block;
            if constexpr (A >= kPrefetchMinRows) {
#pragma GCC unroll 5
                for (int c = 0; c < 5; ++c)  // a block's 5 lines
                    _mm_prefetch(reinterpret_cast<const char *>(blk) + kPrefetchAhead + 64 * c,
                                 _MM_HINT_T0);
            }
            const __m512i low = _mm512_set1_epi8(15);
#pragma GCC unroll 4
            for (int c = 0; c < 4; ++c) {
                const __m512i v = _mm512_loadu_si512(blk + 64 * c);
                wv[2 * c] = _mm512_and_si512(v, low);
                wv[2 * c + 1] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
            }
            dw = _mm512_cvtph_ps(
                _mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + kQ4Nibbles)));
            mw = _mm512_cvtph_ps(
                _mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + kQ4Nibbles + kScales)));
        } else {
            const uint8_t *blk = group + q8_weight_at(b, 0, 0);
            if constexpr (A >= kPrefetchMinRows) {
#pragma GCC unroll 8
                for (int c = 0; c < 8; ++c)  // a block's 8 lines of weights
                    _mm_prefetch(reinterpret_cast<const char *>(blk) + kPrefetchAhead + 64 * c,
                                 _MM_HINT_T0);
            }
#pragma GCC unroll 8
            for (int c = 0; c < 8; ++c) wv[c] = _mm512_loadu_si512(blk + 64 * c);
            dw = _mm512_cvtph_ps(
                _mm256_loadu_si256(reinterpret_cast<const __m256i *>(group + q8_scales_at(nb, b))));
        }
#pragma GCC unroll 8
        for (int a = 0; a < A; ++a) {
            const int8_t *xq = x[a].q + b * kQBlock;
            __m512i s0 = kQ4 ? _mm512_setzero_si512() : _mm512_set1_epi32(offsets[a][b]),
                    s1 = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int c = 0; c < 4; ++c) {
                // Q8: chunks 2c and 2c + 1 (inputs 8c..8c+7); Q4: inputs 4c.. and 16 + 4c...
                const int x0 = kQ4 ? 4 * c : 8 * c, x1 = kQ4 ? 16 + 4 * c : 8 * c + 4;
                s0 = _mm512_dpbusd_epi32(s0, wv[2 * c], _mm512_set1_epi32(dword_at(xq + x0)));
                s1 = _mm512_dpbusd_epi32(s1, wv[2 * c + 1], _mm512_set1_epi32(dword_at(xq + x1)));
            }
            const __m512 sum = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
            acc[a] = _mm512_fmadd_ps(sum, _mm512_mul_ps(dw, _mm512_set1_ps(x[a].d[b])), acc[a]);
            if constexpr (kQ4) mins[a] = _mm512_fmadd_ps(mw, _mm512_set1_ps(x[a].s[b]), mins[a]);
        }
    }
#pragma GCC unroll 8
    for (int a = 0; a < A; ++a)
        _mm512_storeu_ps(y[a], kQ4 ? _mm512_add_ps(acc[a], mins[a]) : acc[a]);
}

// One activation row (a decode) over all the groups: the products of group_rows<T, 1>, the same
// bits, in a loop of its own. Through group_rows<T, 1> -- a call, its setup and a vzeroupper
// for every group of llama-135m's 18 or 48 blocks, the 8 loads ahead of their vpdpbusd --
// llama-135m's Q8_0 matrices streamed at 21.8 GB/s; here, the loads folded into the vpdpbusd
// and the groups in one loop, 24.3 without a prefetch and 26.1 with it (one thread, medians of
// 600 alternated tokens, Zen 5; two threads 27.6 -> 29.7). Q4_1: 29.9 -> 30.1, at the read's
// speed either way. The weights stay one stream: two or more groups read side by side (two to
// four concurrent streams) fell to 15 GB/s.
template <QType T>
HFK_Q16_AVX512 void decode_groups(const uint8_t *w, size_t gb, int64_t groups, int64_t nb,
                                  const QActs &x, const int32_t *offsets, float *y) {
    constexpr bool kQ4 = T == QType::Q4_1x16;
    for (int64_t g = 0; g < groups; ++g) {
        const uint8_t *group = w + size_t(g) * gb;
        __m512 acc = _mm512_setzero_ps(), mins = _mm512_setzero_ps();
        for (int64_t b = 0; b < nb; ++b) {
            const int8_t *xq = x.q + b * kQBlock;
            __m512i s0, s1 = _mm512_setzero_si512();
            __m512 dw;
            if constexpr (kQ4) {
                // Low nibbles: inputs 4c..4c+3; high: 16 + 4c...
                const uint8_t *blk = group + b * kQ4Block;
                const __m512i low = _mm512_set1_epi8(15);
                s0 = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int c = 0; c < 4; ++c) {
                    const __m512i v = _mm512_loadu_si512(blk + 64 * c);
                    s0 = _mm512_dpbusd_epi32(s0, _mm512_and_si512(v, low),
                                             _mm512_set1_epi32(dword_at(xq + 4 * c)));
                    s1 = _mm512_dpbusd_epi32(s1, _mm512_and_si512(_mm512_srli_epi16(v, 4), low),
                                             _mm512_set1_epi32(dword_at(xq + 16 + 4 * c)));
                }
                dw = _mm512_cvtph_ps(
                    _mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + kQ4Nibbles)));
                const __m512 mw = _mm512_cvtph_ps(_mm256_loadu_si256(
                    reinterpret_cast<const __m256i *>(blk + kQ4Nibbles + kScales)));
                mins = _mm512_fmadd_ps(mw, _mm512_set1_ps(x.s[b]), mins);
            } else {
                // Chunks 2c and 2c + 1: inputs 8c..8c+3 and 8c+4..8c+7.
                const uint8_t *blk = group + q8_weight_at(b, 0, 0);
#pragma GCC unroll 8
                for (int c = 0; c < 8; ++c)
                    _mm_prefetch(
                        reinterpret_cast<const char *>(blk) + kDecodePrefetchAhead + 64 * c,
                        _MM_HINT_T1);
                s0 = _mm512_set1_epi32(offsets[b]);
#pragma GCC unroll 4
                for (int c = 0; c < 4; ++c) {
                    s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512(blk + 128 * c),
                                             _mm512_set1_epi32(dword_at(xq + 8 * c)));
                    s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512(blk + 128 * c + 64),
                                             _mm512_set1_epi32(dword_at(xq + 8 * c + 4)));
                }
                dw = _mm512_cvtph_ps(_mm256_loadu_si256(
                    reinterpret_cast<const __m256i *>(group + q8_scales_at(nb, b))));
            }
            const __m512 sum = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
            acc = _mm512_fmadd_ps(sum, _mm512_mul_ps(dw, _mm512_set1_ps(x.d[b])), acc);
        }
        _mm512_storeu_ps(y + g * kQRowGroup, kQ4 ? _mm512_add_ps(acc, mins) : acc);
    }
}

template <QType T, int A>
HFK_Q16_AVX512 void groups_rows(const uint8_t *w, size_t gb, int64_t groups, int64_t nb,
                                const QActs *x, const int32_t *const *offsets, float *y,
                                int64_t ldy) {
    for (int64_t g = 0; g < groups; ++g) {
        float *ys[A];
#pragma GCC unroll 8
        for (int a = 0; a < A; ++a) ys[a] = y + a * ldy + g * kQRowGroup;
        group_rows<T, A>(w + size_t(g) * gb, nb, x, offsets, ys);
    }
}

// groups_rows<T, 1..N>, by chunk size.
template <QType T, size_t... A>
constexpr auto chunk_kernels(std::index_sequence<A...>) {
    return std::array{&groups_rows<T, int(A) + 1>...};
}

// Activation rows 8 at a time, each group of 16 weight rows passing over a chunk while it is in
// L1 (16 rows of 1536 inputs: 26 KB in Q8_0x16).
template <QType T>
HFK_Q16_AVX512 void gemm_rows16(const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x,
                                int64_t m, float *y, int64_t ldy) {
    const int64_t nb = x[0].nb, groups = rows / kQRowGroup;
    const size_t gb = group_bytes(row_bytes);
    thread_local std::vector<int32_t> offsets;
    thread_local std::vector<const int32_t *> offs;
    offsets.resize(static_cast<size_t>(m * nb));
    offs.resize(static_cast<size_t>(m));
    for (int64_t i = 0; i < m; ++i) {
        int32_t *out = offsets.data() + i * nb;
        if constexpr (T == QType::Q8_0x16) q8_offsets(x[i], out);
        offs[size_t(i)] = out;
    }
    if (m == 1) return decode_groups<T>(w, gb, groups, nb, x[0], offs[0], y);
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
            // The chunk's size is a template argument (its accumulators are registers).
            static constexpr auto kChunks = chunk_kernels<T>(std::make_index_sequence<kChunk>());
            kChunks[size_t(a - 1)](wg, gb, pass_groups, nb, xi, oi, yi, ldy);
        }
    }
}

}  // namespace

HFK_Q16_AVX512 void gemm_rows16_avx512(QType t, const uint8_t *w, size_t row_bytes, int64_t rows,
                                       const QActs *x, int64_t m, float *y, int64_t ldy) {
    if (m <= 0 || rows <= 0) return;
    if (t == QType::Q8_0x16)
        gemm_rows16<QType::Q8_0x16>(w, row_bytes, rows, x, m, y, ldy);
    else
        gemm_rows16<QType::Q4_1x16>(w, row_bytes, rows, x, m, y, ldy);
}

// 256 bits (AVX2, AVX-VNNI): quant_rows16_256.inc, compiled once per instruction set (GCC
// inlines a function only into callers with at least its target, so the per-ISA sum cannot be a
// template argument of shared kernels).
#define HFK_Q16_256_NS avx2_256
#define HFK_Q16_256_TARGET __attribute__((target("avx2,fma,f16c")))
#define HFK_Q16_256_VNNI 0
#include "kernels/quant_rows16_256.inc"
#undef HFK_Q16_256_NS
#undef HFK_Q16_256_TARGET
#undef HFK_Q16_256_VNNI
#define HFK_Q16_256_NS avxvnni_256
#define HFK_Q16_256_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))
#define HFK_Q16_256_VNNI 1
#include "kernels/quant_rows16_256.inc"
#undef HFK_Q16_256_NS
#undef HFK_Q16_256_TARGET
#undef HFK_Q16_256_VNNI
// The AVX-VNNI kernel's arithmetic through the EVEX form of the same instruction, for the tests
// of CPUs that have AVX-512 VNNI but do not report AVX-VNNI (this project's Zen 5 VMs).
#define HFK_Q16_256_NS evex_vnni_256
#define HFK_Q16_256_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni")))
#define HFK_Q16_256_VNNI 2
#include "kernels/quant_rows16_256.inc"
#undef HFK_Q16_256_NS
#undef HFK_Q16_256_TARGET
#undef HFK_Q16_256_VNNI

__attribute__((target("avx2,fma,f16c"))) void gemm_rows16_avx2(QType t, const uint8_t *w,
                                                               size_t row_bytes, int64_t rows,
                                                               const QActs *x, int64_t m, float *y,
                                                               int64_t ldy) {
    avx2_256::gemm_rows16(t, w, row_bytes, rows, x, m, y, ldy);
}
__attribute__((target("avx2,fma,f16c,avxvnni"))) void gemm_rows16_avxvnni(QType t, const uint8_t *w,
                                                                          size_t row_bytes,
                                                                          int64_t rows,
                                                                          const QActs *x, int64_t m,
                                                                          float *y, int64_t ldy) {
    avxvnni_256::gemm_rows16(t, w, row_bytes, rows, x, m, y, ldy);
}
__attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512vnni"))) void gemm_rows16_vnni256_evex(
    QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x, int64_t m, float *y,
    int64_t ldy) {
    evex_vnni_256::gemm_rows16(t, w, row_bytes, rows, x, m, y, ldy);
}
#endif  // __x86_64__

}  // namespace hfk::kern
