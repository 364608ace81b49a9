// A decode step's attention products for the query heads that share one kv head (grouped-query
// attention), in registers: the keys' and values' rows are read once for the group, and each
// output is summed in exactly the order SimdOps::dot_rows / axpy_rows sum it, so a step gives the
// bits it gave when each head made its own calls.
//
// Why: with head_dim 64 a row is four vectors, and one call per head and row product spent its
// time on each score's reduction across lanes and on loading and storing the output row for
// every few keys: llama-135m's attention (9 heads, 3 kv heads) cost ~11 ns a key and head on Zen
// 5 with the cache in L2, as much per token as its Q4 weights at a context of ~250.
#pragma once

#include <cstdint>

#include "model/dtype.h"

namespace hfk::kern {

// Query heads at most this wide go through these kernels (rows of a KV cache that dot_rows
// reads from their first element: simd.cpp, kNoHeadMax); wider ones through dot_rows.
constexpr int64_t kHeadsMaxDim = 256;

// scores[g * scores_ld + r] = sum_i q[g * q_ld + i] * K[r, i] for r < rows, g < n_q, i < hd;
// K row r at k + r * ld (elements of `type`). Each the bits of dot_rows on that row.
using DotRowsHeadsFn = void (*)(DType type, const void *k, int64_t ld, int64_t rows, const float *q,
                                int64_t q_ld, int64_t n_q, int64_t hd, float *scores,
                                int64_t scores_ld);
// out[g * out_ld + j] (+)= sum_r p[g * p_ld + r] * V[r, j] for j < hd, g < n_q, r in order (an
// FMA chain per output, axpy_rows' bits); accumulate == false starts from 0, true from out as it
// is (rows given in several calls, a paged cache's blocks, continue one chain).
using AxpyRowsHeadsFn = void (*)(DType type, const void *v, int64_t ld, int64_t rows,
                                 const float *p, int64_t p_ld, int64_t n_q, int64_t hd, float *out,
                                 int64_t out_ld, bool accumulate);

// How far ahead the heads kernels prefetch a run of keys or values: rows of hd elements of
// `type` making about kHeadsPrefetchBytes (16 at least). attend_heads (kernels/attention.cpp)
// prefetches that many rows of a paged cache's next block before it reads the current one.
constexpr int64_t kHeadsPrefetchBytes = 8192;
inline int64_t heads_prefetch_rows(DType type, int64_t hd) {
    const int64_t row = hd * compute_elem_size(type);
    return row * 16 >= kHeadsPrefetchBytes ? 16 : kHeadsPrefetchBytes / row;
}

#if defined(__x86_64__)
// The first `rows` rows (hd elements of `type`, ld apart) into L1. Without these the hardware
// prefetcher alone left a decode step's attention reading a long cache at 12 GB/s (F32) and 6
// GB/s (BF16, no faster than F32: latency, not bytes) where one thread reads 30+ GB/s: a kv
// head's run is 4 KiB pages one after another (16 rows of F32 at head_dim 64), a paged cache's
// blocks 4 KiB runs far apart (Zen 5, llama-135m's shape at a context of 2048; bench_attention).
// Inline: a call inside a kernel's loop makes it save and restore its vector accumulators around
// the call (every vector register is caller-saved).
inline void prefetch_heads_rows(DType type, const void *base, int64_t ld, int64_t rows,
                                int64_t hd) {
    const size_t elem = compute_elem_size(type), bytes = size_t(hd) * elem;
    for (int64_t r = 0; r < rows; ++r) {
        const uintptr_t p = reinterpret_cast<uintptr_t>(base) + size_t(r) * size_t(ld) * elem;
        // An asm statement, not _mm_prefetch: GCC 12 -O2 deleted such loops whole (a loop of
        // prefetches alone has no side effect it must keep; see also simd.cpp's decode kernel).
        for (uintptr_t line = p & ~uintptr_t(63); line < p + bytes; line += 64)
            asm volatile("prefetcht0 %0" : : "m"(*reinterpret_cast<const char *>(line)));
    }
}
void dot_rows_heads_avx512(DType type, const void *k, int64_t ld, int64_t rows, const float *q,
                           int64_t q_ld, int64_t n_q, int64_t hd, float *scores, int64_t scores_ld);
void axpy_rows_heads_avx512(DType type, const void *v, int64_t ld, int64_t rows, const float *p,
                            int64_t p_ld, int64_t n_q, int64_t hd, float *out, int64_t out_ld,
                            bool accumulate);
// The same with AVX2 (attention_heads_avx2.cpp), the AVX2 dot_rows' and axpy_rows' bits.
void dot_rows_heads_avx2(DType type, const void *k, int64_t ld, int64_t rows, const float *q,
                         int64_t q_ld, int64_t n_q, int64_t hd, float *scores, int64_t scores_ld);
void axpy_rows_heads_avx2(DType type, const void *v, int64_t ld, int64_t rows, const float *p,
                          int64_t p_ld, int64_t n_q, int64_t hd, float *out, int64_t out_ld,
                          bool accumulate);
#endif

}  // namespace hfk::kern
