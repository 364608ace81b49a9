// The innermost loops, one implementation per instruction set (AVX-512, AVX2+FMA+F16C, portable C),
// chosen once at run time. Weights are read in their stored type (F32, F16 or BF16) straight from
// the memory map and converted to F32 in registers: no F32 copy of a half-precision model exists.
// Every function computes each output with the same sequence of operations whatever the row or
// column range it is given, so splitting work across threads never changes a result.
#pragma once

#include <cstdint>

#include "kernels/attention_heads.h"
#include "model/dtype.h"

namespace hfk::kern {

struct SimdOps {
    // y[r] = sum_k W[r, k] * x[k] for r < rows; W row r starts at w + r * ld (elements of `type`).
    // The rows are cut into per_pass (1, 2 or 4; rows_per_pass.h) blocks read side by side: that
    // many concurrent sequential streams. Each y[r] is summed in the same order whatever
    // per_pass is: the same bits.
    void (*dot_rows)(DType type, const void *w, int64_t ld, int64_t rows, const float *x, int64_t k,
                     float *y, int per_pass);
    // dot_rows for m vectors at once: y[i * ldy + r] = sum_k W[r, k] * x[i * ldx + k] for r < rows,
    // i < m, every output the bits dot_rows gives for x row i alone (the same lanes, accumulators
    // and final reduction). Computed in register blocks of several rows of x times several rows
    // of W, so each converted weight vector serves several rows of x and each vector of x several
    // outputs: the batched product of the engine (kern::linear_rows), compute-bound once W is in
    // cache.
    void (*dot_rows_batch)(DType type, const void *w, int64_t ld, int64_t rows, const float *x,
                           int64_t ldx, int64_t m, int64_t k, float *y, int64_t ldy);
    // y[j] = sum_k x[k] * W[k, j] for j < n (y is overwritten); W row k starts at w + k * ld.
    // per_pass neighbouring rows of W are added to y per pass over it, each y[j] in row order:
    // the bits do not depend on per_pass.
    void (*axpy_rows)(DType type, const void *w, int64_t ld, int64_t k_rows, const float *x,
                      int64_t n, float *y, int per_pass);
    // dst[i] = float(src[i]).
    void (*to_f32)(DType type, const void *src, int64_t n, float *dst);
    float (*dot)(const float *a, const float *b, int64_t n);
    // y[i] += a * x[i]
    void (*axpy)(float a, const float *x, float *y, int64_t n);
    // x[i] *= a (the same bits on every ISA: one rounding each)
    void (*scale)(float *x, int64_t n, float a);
    // x[i] = exp(x[i]), within 2 ulp (0 for large negative x, inf for large positive).
    void (*exp)(float *x, int64_t n);
    // The largest x[i] (n >= 1).
    float (*max)(const float *x, int64_t n);
    // x[i] = exp(x[i] - shift), as exp() does; returns their sum, added in double in a fixed
    // order that depends on n only (softmax's two passes in one).
    double (*exp_sum)(float *x, int64_t n, float shift);
    // dst[i] = src[i] rounded to F16 or BF16 (nearest even; F16 overflows to inf; a NaN becomes
    // the quiet NaN of its sign, 0x7e00 / 0x7fc0), bit for bit f32_to_f16 / f32_to_bf16 on every
    // ISA; F32 copies. What the F16/BF16 KV cache stores (models/common.h, CausalCache).
    void (*from_f32)(DType type, const float *src, int64_t n, void *dst);
    // A decode step's attention products over the query heads that share a kv head, rows of at
    // most kHeadsMaxDim elements (attention_heads.h): each output dot_rows' / axpy_rows' bits.
    // nullptr where the ISA has none: attention.cpp then calls dot_rows / axpy_rows per head.
    DotRowsHeadsFn dot_rows_heads;
    AxpyRowsHeadsFn axpy_rows_heads;
};

const SimdOps &simd();
// One instruction set's table ("avx512", "avx2", "scalar"), or nullptr if this CPU lacks it
// (tests).
const SimdOps *simd_for(const char *isa);

// Scalar conversions (exact).
float f16_to_f32(uint16_t h);
inline float bf16_to_f32(uint16_t b) {
    uint32_t u = uint32_t(b) << 16;
    float f;
    __builtin_memcpy(&f, &u, 4);
    return f;
}
// Nearest even; a NaN becomes the quiet NaN of its sign (0x7fc0 | sign).
inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    __builtin_memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t(((u >> 16) & 0x8000u) | 0x7fc0u);
    return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

}  // namespace hfk::kern
