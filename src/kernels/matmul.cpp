#include "kernels/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <string>
#include <vector>

#include "kernels/bf16_compute.h"
#include "kernels/cpu.h"
#include "kernels/rows_per_pass.h"
#include "kernels/simd.h"
#include "kernels/thread_pool.h"
#include "util/error.h"

namespace hfk::kern {
namespace {

const void *offset(const Mat &w, int64_t row, int64_t col) {
    return static_cast<const char *>(w.data) +
           (size_t(row) * size_t(w.cols) + size_t(col)) * compute_elem_size(w.dtype);
}

// Rows of x the matrix-vector kernels handle before sgemm wins.
constexpr int64_t kMaxMatvecRows = 4;
// Input rows per task of the [in, out] matrix-vector product.
constexpr int64_t kAxpyChunk = 256;
// Output block per sgemm task: each task repacks all of x (OpenBLAS packs the whole m x k
// operand once per call), so blocks are as wide as the scratch budget allows: a block's weights
// in F32 (converted from F16/BF16) stay near kGemmBlockBytes, and never narrower than
// kGemmMinBlock. Cut in an even number of blocks so two threads get equal shares. The split
// depends on n and k only, never on the thread count, so the results are the same bits whatever
// the thread count.
constexpr int64_t kGemmBlockBytes = 2 << 20;
constexpr int64_t kGemmMinBlock = 128;

// The size of the pieces when `total` is cut into an even number of pieces of about `target`:
// two threads then get equal shares. It depends on `total` only, never on the thread count.
int64_t even_piece(int64_t total, int64_t target) {
    const int64_t pieces = 2 * ((total + 2 * target - 1) / (2 * target));
    return (total + pieces - 1) / pieces;
}

int64_t gemm_block(int64_t n, int64_t k) {
    const int64_t target = std::max(kGemmMinBlock, kGemmBlockBytes / 4 / k);
    return (even_piece(n, target) + 31) / 32 * 32;  // whole SIMD tiles
}

std::vector<float> &scratch() {
    thread_local std::vector<float> buf;
    return buf;
}

void add_bias(float *y, int64_t m, int64_t n, int64_t n0, int64_t n1, const float *bias) {
    if (!bias) return;
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = n0; j < n1; ++j) y[i * n + j] += bias[j];
}

std::atomic<bool> g_quant_reference{false};

// The quantized activations of m rows of x (k each), kept per thread between calls.
struct QActsBuf {
    std::vector<int8_t> q;
    std::vector<float> d, s;
    std::vector<int32_t> sums;  // each block's sum of q (QActs::sums)
    std::vector<QActs> all;     // one per row
};

// Weight rows per task of a quantized prefill (the activations are laid out again per task).
constexpr int64_t kQuantPrefillRows = 128;

// x's m rows of k values quantized (quantize_acts) into the calling thread's buffer;
// buf.all[i] describes row i. The buffer is the caller's: the workers' own thread_local would
// be theirs.
QActsBuf &quantized_rows(const float *x, int64_t m, int64_t k, int n_threads) {
    thread_local QActsBuf mine;
    QActsBuf &buf = mine;
    const int64_t nb = q_blocks(k);
    buf.q.resize(size_t(m * nb * kQBlock));
    buf.d.resize(size_t(m * nb));
    buf.s.resize(size_t(m * nb));
    buf.sums.resize(size_t(m * nb));
    parallel_for(m, m >= 16 ? n_threads : 1, [&](int64_t i) {
        quantize_acts(x + i * k, k, buf.q.data() + i * nb * kQBlock, buf.d.data() + i * nb,
                      buf.s.data() + i * nb, buf.sums.data() + i * nb);
    });
    buf.all.resize(size_t(m));
    for (int64_t i = 0; i < m; ++i)
        buf.all[size_t(i)] = QActs{buf.q.data() + i * nb * kQBlock, buf.d.data() + i * nb,
                                   buf.s.data() + i * nb, nb, buf.sums.data() + i * nb};
    return buf;
}

// Output rows per task of a matrix-vector product (m <= kMaxMatvecRows, [out, in]): up to two
// tasks a thread (they help when the machine is noisy), in multiples of `round` rows (64 for
// the 16-bit/F32 kernels, a multiple of every vector width; 16 for quantized ones: a group of
// interleaved rows, a multiple of the other quantized kernels' tiles of 4). Only the speed
// depends on it: every output is one row's dot product.
int64_t matvec_block(int64_t n, int n_threads, int64_t round) {
    const int64_t tasks =
        std::max<int64_t>(1, std::min<int64_t>((n + 63) / 64, int64_t(n_threads) * 2));
    return ((n + tasks - 1) / tasks + round - 1) / round * round;
}

// Output rows per task of a quantized product of n outputs over m rows of x. Every output is
// one row's dot product whatever the split (quant.h), so the split only sets the speed. Decode
// (memory-bound): one contiguous run of rows per task, two tasks per thread (as the 16-bit
// kernels). Batches and prefill (compute-bound): pieces of ~128 rows, an even number of them;
// each task passes its rows over every activation row.
int64_t quant_block(int64_t n, int64_t m, int n_threads) {
    return m <= kMaxMatvecRows
               ? matvec_block(n, n_threads, kQRowGroup)
               : (even_piece(n, kQuantPrefillRows) + kQRowGroup - 1) / kQRowGroup * kQRowGroup;
}

void linear_quantized(const Mat &w, Layout layout, const float *x, int64_t m, const float *bias,
                      float *y, int n_threads) {
    if (layout != w.qlayout)
        fail(HFK_E_INTERNAL, "linear: a quantized matrix used with another layout");
    const int64_t n = layout == Layout::OutIn ? w.rows : w.cols;
    const int64_t k = layout == Layout::OutIn ? w.cols : w.rows;
    const size_t rb = q_row_bytes(w.quant, k);
    const uint8_t *wq = static_cast<const uint8_t *>(w.data);
    const std::vector<QActs> &all = quantized_rows(x, m, k, n_threads).all;
    if (g_quant_reference.load(std::memory_order_relaxed)) {
        constexpr int64_t kRefTaskRows = 64;
        const int64_t tasks = (n + kRefTaskRows - 1) / kRefTaskRows;
        parallel_for(tasks, n_threads, [&](int64_t t) {
            const int64_t n0 = t * kRefTaskRows, n1 = std::min(n, n0 + kRefTaskRows);
            std::vector<float> wf(static_cast<size_t>(k)), xf(static_cast<size_t>(k));
            for (int64_t i = 0; i < m; ++i) {
                const QActs &a = all[size_t(i)];
                for (int64_t j = 0; j < k; ++j) xf[size_t(j)] = a.d[j / kQBlock] * float(a.q[j]);
                for (int64_t r = n0; r < n1; ++r) {
                    dequantize_matrix_row(w.quant, wq, rb, r, k, wf.data());
                    double sum = 0;
                    for (int64_t j = 0; j < k; ++j) sum += double(wf[size_t(j)]) * xf[size_t(j)];
                    y[i * n + r] = float(sum);
                }
            }
            add_bias(y, m, n, n0, n1, bias);
        });
        return;
    }
    const int64_t block = quant_block(n, m, n_threads);
    const int64_t tasks = (n + block - 1) / block;
    const QuantOps &ops = quant_ops();
    parallel_for(tasks, n_threads, [&](int64_t t) {
        const int64_t n0 = t * block, n1 = std::min(n, n0 + block);
        ops.gemm(w.quant, wq + size_t(n0) * rb, rb, n1 - n0, all.data(), m, y + n0, n);
        add_bias(y, m, n, n0, n1, bias);
    });
}

}  // namespace

size_t row_bytes(const Mat &w) {
    if (w.quant != QType::None) return q_row_bytes(w.quant, w.cols);
    return size_t(w.cols) * compute_elem_size(w.dtype);
}

Mat row_slice(const Mat &w, int64_t first, int64_t n) {
    if (q_interleaved(w.quant) && (first % kQRowGroup != 0 || n % kQRowGroup != 0))
        fail(HFK_E_INTERNAL,
             "row_slice: rows " + std::to_string(first) + ".." + std::to_string(first + n) +
                 " of a matrix interleaved by 16 rows (" + qtype_name(w.quant) + ")");
    Mat r = w;
    r.data = static_cast<const uint8_t *>(w.data) + size_t(first) * row_bytes(w);
    r.rows = n;
    return r;
}

void set_quantized_reference(bool on) {
    g_quant_reference.store(on);
}

void linear(const Mat &w, Layout layout, const float *x, int64_t m, const float *bias, float *y,
            int n_threads) {
    const int64_t n = layout == Layout::OutIn ? w.rows : w.cols;  // outputs
    const int64_t k = layout == Layout::OutIn ? w.cols : w.rows;  // inputs
    if (m <= 0 || n <= 0) return;
    if (w.quant != QType::None) return linear_quantized(w, layout, x, m, bias, y, n_threads);
    const SimdOps &ops = simd();

    if (m <= kMaxMatvecRows && layout == Layout::InOut) {
        // Memory-bound, weights stored [in, out] (GPT-2's Conv1D): split the *inputs* into fixed
        // chunks of whole rows, so every task streams one contiguous run of the matrix (output
        // blocks would read each row in strided pieces); each chunk writes its own partial
        // outputs and the partials are summed in chunk order. The chunks depend on k only, so
        // the result is the same bits for any thread count.
        const int64_t rows_per = even_piece(k, kAxpyChunk);
        const int per_pass = axpy_rows_per_pass(w.dtype);
        const int64_t chunks = (k + rows_per - 1) / rows_per;
        std::vector<float> &part = scratch();
        part.resize(size_t(chunks * m * n));
        parallel_for(chunks, n_threads, [&](int64_t c) {
            const int64_t k0 = c * rows_per, k1 = std::min(k, k0 + rows_per);
            for (int64_t i = 0; i < m; ++i)
                ops.axpy_rows(w.dtype, offset(w, k0, 0), w.cols, k1 - k0, x + i * k + k0, n,
                              part.data() + (c * m + i) * n, per_pass);
        });
        for (int64_t i = 0; i < m; ++i) {
            float *yi = y + i * n;
            std::copy_n(part.data() + i * n, n, yi);
            for (int64_t c = 1; c < chunks; ++c)
                ops.axpy(1.0f, part.data() + (c * m + i) * n, yi, n);
        }
        add_bias(y, m, n, 0, n, bias);
        return;
    }
    if (m <= kMaxMatvecRows) {
        // Memory-bound, weights stored [out, in]: split the outputs in blocks of 64.
        const int64_t block = matvec_block(n, n_threads, 64);
        const int64_t tasks = (n + block - 1) / block;
        const int per_pass = dot_rows_per_pass(w.dtype);
        parallel_for(tasks, n_threads, [&](int64_t t) {
            int64_t n0 = t * block, n1 = std::min(n, n0 + block);
            for (int64_t i = 0; i < m; ++i)
                ops.dot_rows(w.dtype, offset(w, n0, 0), w.cols, n1 - n0, x + i * k, k,
                             y + i * n + n0, per_pass);
            add_bias(y, m, n, n0, n1, bias);
        });
        return;
    }

    // The session's compute mode BF16 (bf16_compute.h) takes BF16 prefills; else the exact path.
    if (try_linear_bf16(w, layout, x, m, bias, y, n_threads, kMaxMatvecRows)) return;
    blas_setup();
    const int64_t block = gemm_block(n, k);
    const int64_t tasks = (n + block - 1) / block;
    parallel_for(tasks, n_threads, [&](int64_t t) {
        int64_t n0 = t * block, n1 = std::min(n, n0 + block), nb = n1 - n0;
        const float *b;
        int64_t ldb;
        if (w.dtype == DType::F32) {
            b = static_cast<const float *>(layout == Layout::OutIn ? offset(w, n0, 0)
                                                                   : offset(w, 0, n0));
            ldb = w.cols;
        } else {
            std::vector<float> &buf = scratch();
            buf.resize(size_t(nb * k));
            if (layout == Layout::OutIn) {
                ops.to_f32(w.dtype, offset(w, n0, 0), nb * k, buf.data());
                ldb = k;
            } else {
                for (int64_t r = 0; r < k; ++r)
                    ops.to_f32(w.dtype, offset(w, r, n0), nb, buf.data() + r * nb);
                ldb = nb;
            }
            b = buf.data();
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans,
                    layout == Layout::OutIn ? CblasTrans : CblasNoTrans, int(m), int(nb), int(k),
                    1.0f, x, int(k), b, int(ldb), 0.0f, y + n0, int(n));
        add_bias(y, m, n, n0, n1, bias);
    });
}

namespace {

// The element of a row of x that w's first 64-byte boundary falls on (the same element in every
// row of w when a row is a whole number of lines), or -1 when w's rows start at different offsets
// in a line.
int64_t line_head(const Mat &w) {
    if (row_bytes(w) % 64 != 0) return -1;
    return std::min<int64_t>(w.cols,
                             int64_t((64 - (reinterpret_cast<uintptr_t>(w.data) & 63)) & 63) /
                                 int64_t(compute_elem_size(w.dtype)));
}

// x's rows (m x k) copied so that, in each, element `head` sits on a 64-byte boundary: the
// kernels' loads of x then never straddle two lines. With straddling loads the batched kernel
// ran at 3/4 of its arithmetic rate on Zen 5 (8 rows of x, 192 x 576 BF16 weights in L1: 3.6
// against 4.7 G FMA/s). The same values in the same order: no bit changes. Returns x itself
// (ldx = k) when head is -1.
const float *x_aligned(int64_t head, const float *x, int64_t m, int64_t k, int64_t &ldx,
                       std::vector<float> &buf) {
    ldx = k;
    if (head < 0) return x;
    const int64_t ld = (k + 15) / 16 * 16;
    buf.resize(size_t(m * ld + 16));
    // The first float of buf whose element `head` falls on a 64-byte boundary.
    const uintptr_t at = reinterpret_cast<uintptr_t>(buf.data() + head);
    float *dst = buf.data() + ((64 - (at & 63)) & 63) / sizeof(float);
    for (int64_t i = 0; i < m; ++i) std::copy(x + i * k, x + (i + 1) * k, dst + i * ld);
    ldx = ld;
    return dst;
}

// The rows of a task of linear_rows: whole SIMD tiles of 16, up to ~256 KiB of weights, and at
// least four tasks a thread where the matrix allows. A task's rows pass through L1 a pair at a
// time (dot_rows_batch), so a tile's size does not change the reuse; but each task starts its
// stream from memory cold, and longer tiles measured faster once the weights come from DRAM
// (Zen 5, 8 rows of x over 106 MB of 1536 x 576 BF16 matrices, one thread: 7.3-8.4 ms in
// tiles of 48 rows (64 KiB), 6.3-6.8 ms in tiles of 192).
int64_t rows_tile(const Mat &w, int n_threads) {
    const int64_t by_bytes = (int64_t(256) << 10) / int64_t(row_bytes(w));
    const int64_t by_tasks = w.rows / (4 * int64_t(std::max(n_threads, 1)));
    return std::max<int64_t>(16, std::min(by_bytes, by_tasks) / 16 * 16);
}

// Products over the same m rows of x in one pass of the pool (linear() of several; linear_rows of
// quantized matrices): x quantized once for every quantized product, each product split as
// linear() splits it alone, so every output keeps linear()'s bits. m > 1: every product is
// quantized (the 16-bit ones take linear_rows' tiles). False when the products do not fit one
// pass (their caller then runs them one by one).
bool linear_products(const RowsProduct *products, size_t n_products, const float *x, int64_t m,
                     int n_threads) {
    constexpr size_t kMaxProducts = 4;
    if (n_products == 0 || n_products > kMaxProducts || g_quant_reference.load()) return false;
    const int64_t k = products[0].w->cols;
    for (size_t p = 0; p < n_products; ++p) {
        const Mat &w = *products[p].w;
        const bool quantized = w.quant != QType::None;
        if (w.cols != k || w.rows <= 0 || (quantized && w.qlayout != Layout::OutIn) ||
            (!quantized && m > 1))
            return false;
    }
    const QActs *acts = nullptr;
    for (size_t p = 0; p < n_products; ++p)
        if (products[p].w->quant != QType::None) {
            acts = quantized_rows(x, m, k, n_threads).all.data();
            break;
        }
    // Each product's blocks of rows as linear() makes them (matvec_block, quant_block).
    struct Part {
        int64_t block, first_task;
    };
    std::array<Part, kMaxProducts + 1> parts{};
    int64_t tasks = 0;
    for (size_t p = 0; p < n_products; ++p) {
        const Mat &w = *products[p].w;
        parts[p].block = w.quant != QType::None ? quant_block(w.rows, m, n_threads)
                                                : matvec_block(w.rows, n_threads, 64);
        parts[p].first_task = tasks;
        tasks += (w.rows + parts[p].block - 1) / parts[p].block;
    }
    parts[n_products].first_task = tasks;
    const SimdOps &ops = simd();
    const QuantOps &qops = quant_ops();
    parallel_for(tasks, n_threads, [&](int64_t t) {
        size_t p = 0;
        while (parts[p + 1].first_task <= t) ++p;
        const Mat &w = *products[p].w;
        const int64_t n = w.rows, n0 = (t - parts[p].first_task) * parts[p].block,
                      n1 = std::min(n, n0 + parts[p].block);
        float *y = products[p].y;
        if (w.quant != QType::None) {
            const size_t rb = q_row_bytes(w.quant, k);
            qops.gemm(w.quant, static_cast<const uint8_t *>(w.data) + size_t(n0) * rb, rb, n1 - n0,
                      acts, m, y + n0, n);
        } else {
            ops.dot_rows(w.dtype, offset(w, n0, 0), w.cols, n1 - n0, x, k, y + n0,
                         dot_rows_per_pass(w.dtype));
        }
        add_bias(y, m, n, n0, n1, products[p].bias);
    });
    return true;
}

}  // namespace

void linear_rows(const Mat &w, const float *x, int64_t m, const float *bias, float *y,
                 int n_threads) {
    const RowsProduct one{&w, bias, y};
    linear_rows(&one, 1, x, m, n_threads);
}

void linear_rows(const RowsProduct *products, size_t n_products, const float *x, int64_t m,
                 int n_threads) {
    constexpr size_t kMaxProducts = 4;
    if (m <= 0) return;
    bool together = m > 1 && n_products <= kMaxProducts;
    for (size_t p = 0; p < n_products; ++p)
        together = together && products[p].w->quant == QType::None;
    if (m == 1) return linear(products, n_products, x, 1, n_threads);
    // Quantized products: x quantized once and one dispatch for them all.
    if (!together && linear_products(products, n_products, x, m, n_threads)) return;
    if (!together) {
        for (size_t p = 0; p < n_products; ++p) {
            const Mat &w = *products[p].w;
            if (w.rows <= 0) continue;
            // Quantized matrices are per row already (linear_quantized); one row (a decode
            // step of one sequence) takes linear()'s matrix-vector path, whose dot_rows reads
            // the rows-per-pass streams of a session's decode (the same bits whatever it reads).
            if (w.quant != QType::None)
                linear_quantized(w, Layout::OutIn, x, m, products[p].bias, products[p].y,
                                 n_threads);
            else if (m == 1)
                linear(w, Layout::OutIn, x, 1, products[p].bias, products[p].y, n_threads);
            else
                linear_rows(&products[p], 1, x, m, n_threads);
        }
        return;
    }
    // Tiles of rows (rows_tile), the tiles of every product one set of tasks: one dispatch of
    // the pool for them all. Every output is dot_rows' for its row of x alone, so neither the
    // tiling nor the blocking changes a bit.
    struct Part {
        const float *x;
        int64_t head, ldx, tile, first_task;
    };
    std::array<Part, kMaxProducts + 1> parts{};
    thread_local std::array<std::vector<float>, kMaxProducts> x_copies;
    int64_t tasks = 0;
    for (size_t p = 0; p < n_products; ++p) {
        const Mat &w = *products[p].w;
        Part &part = parts[p];
        // One copy of x per distinct line head: q, k and v (gate and up) usually share one.
        part.head = line_head(w);
        const auto same = std::find_if(parts.begin(), parts.begin() + p,
                                       [&](const Part &q) { return q.head == part.head; });
        if (same != parts.begin() + p) {
            part.x = same->x;
            part.ldx = same->ldx;
        } else {
            part.x = x_aligned(part.head, x, m, w.cols, part.ldx, x_copies[p]);
        }
        part.tile = rows_tile(w, n_threads);
        part.first_task = tasks;
        tasks += (std::max<int64_t>(w.rows, 0) + part.tile - 1) / part.tile;
    }
    parts[n_products].first_task = tasks;
    const SimdOps &ops = simd();
    parallel_for(tasks, n_threads, [&](int64_t t) {
        size_t p = 0;
        while (parts[p + 1].first_task <= t) ++p;
        const Mat &w = *products[p].w;
        const Part &part = parts[p];
        const int64_t n = w.rows, n0 = (t - part.first_task) * part.tile,
                      n1 = std::min(n, n0 + part.tile);
        ops.dot_rows_batch(w.dtype, offset(w, n0, 0), w.cols, n1 - n0, part.x, part.ldx, m, w.cols,
                           products[p].y + n0, n);
        add_bias(products[p].y, m, n, n0, n1, products[p].bias);
    });
}

void linear(const RowsProduct *products, size_t n_products, const float *x, int64_t m,
            int n_threads) {
    if (m <= 0 || linear_products(products, n_products, x, m, n_threads)) return;
    for (size_t p = 0; p < n_products; ++p)
        linear(*products[p].w, Layout::OutIn, x, m, products[p].bias, products[p].y, n_threads);
}

void get_row(const Mat &w, int64_t r, float *out) {
    if (w.quant != QType::None) {
        if (w.qlayout != Layout::OutIn)
            fail(HFK_E_INTERNAL, "get_row: a quantized matrix stored by columns");
        dequantize_matrix_row(w.quant, static_cast<const uint8_t *>(w.data), row_bytes(w), r,
                              w.cols, out);
        return;
    }
    simd().to_f32(w.dtype, offset(w, r, 0), w.cols, out);
}

}  // namespace hfk::kern
