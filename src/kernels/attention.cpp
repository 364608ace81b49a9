#include "kernels/attention.h"

#include <cblas.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/simd.h"
#include "kernels/thread_pool.h"

namespace hfk::kern {

void softmax(float *x, int64_t n) {
    if (n <= 0) return;
    const SimdOps &ops = simd();
    const double sum = ops.exp_sum(x, n, ops.max(x, n));
    const float inv = float(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void attention(const float *q, int64_t m, int64_t p0, const float *k, const float *v,
               int64_t kv_stride, int64_t n_keys, const AttentionShape &s, bool causal, float scale,
               float *out, int n_threads) {
    const int64_t hd = s.head_dim, q_stride = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
    constexpr int64_t kRowBlock = 64;
    const int64_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
    const SimdOps &ops = simd();
    if (m > 1) blas_setup();

    parallel_for(s.n_heads * row_blocks, n_threads, [&](int64_t task) {
        const int64_t h = task / row_blocks, i0 = (task % row_blocks) * kRowBlock;
        const int64_t i1 = std::min(m, i0 + kRowBlock), rb = i1 - i0;
        const float *kh = k + (h / group) * hd, *vh = v + (h / group) * hd;
        // Keys any row of this block may see.
        const int64_t span = causal ? std::min(n_keys, p0 + i1) : n_keys;
        thread_local std::vector<float> scores;
        scores.resize(size_t(rb * span));

        if (rb == 1) {
            const float *qi = q + i0 * q_stride + h * hd;
            float *oi = out + i0 * q_stride + h * hd;
            // One call per head for each product (the keys and values are matrices of `span`
            // rows): per-position calls cost decode ~4% of its time.
            ops.dot_rows(DType::F32, kh, kv_stride, span, qi, hd, scores.data());
            for (int64_t t = 0; t < span; ++t) scores[t] *= scale;
            softmax(scores.data(), span);
            ops.axpy_rows(DType::F32, vh, kv_stride, span, scores.data(), hd, oi);
            return;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rb), int(span), int(hd), scale,
                    q + i0 * q_stride + h * hd, int(q_stride), kh, int(kv_stride), 0.0f,
                    scores.data(), int(span));
        for (int64_t i = 0; i < rb; ++i) {
            float *row = scores.data() + i * span;
            const int64_t len = causal ? std::min(span, p0 + i0 + i + 1) : span;
            softmax(row, len);
            std::fill(row + len, row + span, 0.0f);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rb), int(hd), int(span), 1.0f,
                    scores.data(), int(span), vh, int(kv_stride), 0.0f,
                    out + i0 * q_stride + h * hd, int(q_stride));
    });
}

}  // namespace hfk::kern
