// Matrix products against weight matrices stored as they are in the checkpoint.
#pragma once

#include <cstdint>

#include "model/dtype.h"

namespace hfk::kern {

// A weight matrix as stored: row-major [rows, cols] of F32, F16 or BF16, borrowed (usually the
// memory map itself). F32 data must be 4-byte aligned and 16-bit data 2-byte aligned (the model
// loader copies the rare unaligned tensor).
struct Mat {
    DType dtype = DType::F32;
    const void *data = nullptr;
    int64_t rows = 0, cols = 0;
};

// How a linear layer's weight is stored. OutIn: [out, in], torch nn.Linear (y = x W^T).
// InOut: [in, out], GPT-2's Conv1D (y = x W).
enum class Layout { OutIn, InOut };

// y[i, :] = x[i, :] * W (+ bias) for i < m; x is [m, in] and y is [m, out], both row-major and
// dense. One row (decode) and up to four rows use our matrix-vector kernels, straight from the
// stored type; more rows go to OpenBLAS sgemm, F16/BF16 weights converted to F32 one block of
// 128 outputs at a time into a per-thread scratch buffer. Work is split in output blocks that do
// not depend on n_threads, so the result is bit-identical for every thread count.
void linear(const Mat &w, Layout layout, const float *x, int64_t m, const float *bias, float *y,
            int n_threads);

// out[0 .. cols) = row r of w, as F32 (embedding lookup).
void get_row(const Mat &w, int64_t r, float *out);

}  // namespace hfk::kern
