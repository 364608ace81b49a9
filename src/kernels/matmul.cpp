#include "kernels/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/simd.h"
#include "kernels/thread_pool.h"

namespace hfk::kern {
namespace {

size_t elem_size(DType t) {
    return t == DType::F32 ? 4 : 2;
}

const void *offset(const Mat &w, int64_t row, int64_t col) {
    return static_cast<const char *>(w.data) +
           (size_t(row) * size_t(w.cols) + size_t(col)) * elem_size(w.dtype);
}

// Rows of x the matrix-vector kernels handle before sgemm wins.
constexpr int64_t kMaxMatvecRows = 4;
// Output block per sgemm task: about kGemmBlock wide (large enough that repacking x per block is
// noise beside the block's 2*m*in*128 flops), in an even number of blocks so two threads get
// equal shares: 576 outputs are 6 blocks of 96, not 4.5 blocks of 128 (which left one thread idle
// for a sixth of every prefill). The split depends on n only, never on the thread count, so the
// results are the same bits whatever the thread count.
constexpr int64_t kGemmBlock = 128;

int64_t gemm_block(int64_t n) {
    const int64_t tasks = 2 * ((n + 2 * kGemmBlock - 1) / (2 * kGemmBlock));
    return ((n + tasks - 1) / tasks + 31) / 32 * 32;  // whole SIMD tiles
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

}  // namespace

void linear(const Mat &w, Layout layout, const float *x, int64_t m, const float *bias, float *y,
            int n_threads) {
    const int64_t n = layout == Layout::OutIn ? w.rows : w.cols;  // outputs
    const int64_t k = layout == Layout::OutIn ? w.cols : w.rows;  // inputs
    if (m <= 0 || n <= 0) return;
    const SimdOps &ops = simd();

    if (m <= kMaxMatvecRows) {
        // Memory-bound: split the outputs in blocks of 64 (a multiple of every vector width);
        // two blocks per thread help when the machine is noisy.
        int64_t tasks =
            std::max<int64_t>(1, std::min<int64_t>((n + 63) / 64, int64_t(n_threads) * 2));
        int64_t block = ((n + tasks - 1) / tasks + 63) / 64 * 64;
        tasks = (n + block - 1) / block;
        parallel_for(tasks, n_threads, [&](int64_t t) {
            int64_t n0 = t * block, n1 = std::min(n, n0 + block);
            for (int64_t i = 0; i < m; ++i) {
                if (layout == Layout::OutIn)
                    ops.dot_rows(w.dtype, offset(w, n0, 0), w.cols, n1 - n0, x + i * k, k,
                                 y + i * n + n0);
                else
                    ops.axpy_rows(w.dtype, offset(w, 0, n0), w.cols, k, x + i * k, n1 - n0,
                                  y + i * n + n0);
            }
            add_bias(y, m, n, n0, n1, bias);
        });
        return;
    }

    blas_setup();
    const int64_t block = gemm_block(n);
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

void get_row(const Mat &w, int64_t r, float *out) {
    simd().to_f32(w.dtype, offset(w, r, 0), w.cols, out);
}

}  // namespace hfk::kern
