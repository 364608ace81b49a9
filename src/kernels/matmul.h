// Matrix products against weight matrices stored as they are in the checkpoint.
#pragma once

#include <cstdint>

#include "kernels/quant.h"
#include "model/dtype.h"

namespace hfk::kern {

// How a linear layer's weight is stored. OutIn: [out, in], torch nn.Linear (y = x W^T).
// InOut: [in, out], GPT-2's Conv1D (y = x W).
enum class Layout { OutIn, InOut };

// A weight matrix as stored: row-major [rows, cols] of F32, F16 or BF16, borrowed (usually the
// memory map itself). F32 data must be 4-byte aligned and 16-bit data 2-byte aligned (the model
// loader copies the rare unaligned tensor).
//
// A quantized matrix (quant != None, quantized at load) keeps rows/cols of the checkpoint's shape,
// but its data is always one row of blocks per *output* of the layout it was quantized for
// (qlayout): [out][q_blocks(in)] blocks; dtype is then meaningless. linear() must be called with
// that layout; get_row() reads rows of an OutIn-quantized matrix (embeddings).
struct Mat {
    DType dtype = DType::F32;
    const void *data = nullptr;
    int64_t rows = 0, cols = 0;
    QType quant = QType::None;
    Layout qlayout = Layout::OutIn;
};

// Bytes of one stored row (a row of blocks for a quantized matrix).
size_t row_bytes(const Mat &w);
// Rows [first, first + n) of an OutIn matrix (quantized or not), in place.
Mat row_slice(const Mat &w, int64_t first, int64_t n);
// Quantized products: activations are quantized per block of 32 (quant.h) and the int8 kernels
// run; every output is one dot product of a fixed float sequence, so the result is the same bits
// for any thread count and any split of the rows.
// Test hook: when on, quantized products instead dequantize the weights and the (quantized)
// activations to F32 and sum in double: the "dequantize, then F32" reference forward.
void set_quantized_reference(bool on);

// y[i, :] = x[i, :] * W (+ bias) for i < m; x is [m, in] and y is [m, out], both row-major and
// dense. One row (decode) and up to four rows use our matrix-vector kernels, straight from the
// stored type; more rows go to OpenBLAS sgemm, F16/BF16 weights converted to F32 one block of
// 128 outputs at a time into a per-thread scratch buffer. Work is split in output blocks that do
// not depend on n_threads, so the result is bit-identical for every thread count.
void linear(const Mat &w, Layout layout, const float *x, int64_t m, const float *bias, float *y,
            int n_threads);

// The batch-invariant product (continuous batching, src/engine): y[i, :] = x[i, :] * W (+ bias)
// for an OutIn W, where every output is the matrix-vector kernel's dot product of row i alone:
// the same bits whatever m, the row's index in the batch and n_threads (linear() switches to
// sgemm above four rows, whose reduction order may depend on m). The weights are cut in tiles of
// output rows (each output is computed whole in one tile, so the cut changes no bit); all m rows
// pass over a tile while it is in cache, so the weights are still read from memory once per
// call. Quantized matrices take linear()'s path, which is already per row.
void linear_rows(const Mat &w, const float *x, int64_t m, const float *bias, float *y,
                 int n_threads);
// linear_rows of up to four matrices over the same x (a layer's q, k and v; gate and up) in one
// pass of the thread pool: one dispatch and one join rather than one per matrix, and the tiles
// of all of them shared out together. Every output has linear_rows' bits.
struct RowsProduct {
    const Mat *w = nullptr;
    const float *bias = nullptr;  // or nullptr
    float *y = nullptr;           // [m, w->rows]
};
void linear_rows(const RowsProduct *products, size_t n_products, const float *x, int64_t m,
                 int n_threads);
// m rows of x through up to four [out, in] matrices (a layer's q, k and v; gate and up), every
// output linear()'s bits. One row (a decode step), matrices of any type, or several rows
// through quantized matrices only (a quantized prefill): one pass of the thread pool, each
// matrix split as linear() splits it, x quantized once for all the quantized ones. A decode
// step of llama-135m made 8 dispatches a layer and its q, k and v (gate and up) take one; a
// quantized prefill quantized x once per matrix. Else (16-bit or F32 prefills, sgemm) each
// matrix goes to linear() alone.
void linear(const RowsProduct *products, size_t n_products, const float *x, int64_t m,
            int n_threads);

// out[0 .. cols) = row r of w, as F32 (embedding lookup).
void get_row(const Mat &w, int64_t r, float *out);

}  // namespace hfk::kern
