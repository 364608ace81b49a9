#include "kernels/attention.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/rows_per_pass.h"
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
    attention(q, m, p0, k, v, kv_stride, n_keys, s, causal, scale, AttentionOptions{}, out,
              n_threads);
}

namespace {
void soft_cap(float *x, int64_t n, float cap) {
    const float inv = 1.0f / cap;
    for (int64_t i = 0; i < n; ++i) x[i] = cap * std::tanh(x[i] * inv);
}
}  // namespace

void attention(const float *q, int64_t m, int64_t p0, const float *k, const float *v,
               int64_t kv_stride, int64_t n_keys, const AttentionShape &s, bool causal, float scale,
               const AttentionOptions &opts, float *out, int n_threads) {
    const int64_t window = causal ? opts.window : 0;
    // The first key that row `pos` may see.
    auto first_key = [&](int64_t pos) {
        return window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
    };
    const int64_t hd = s.head_dim, q_stride = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
    constexpr int64_t kRowBlock = 64;
    const int64_t row_blocks = (m + kRowBlock - 1) / kRowBlock;
    const SimdOps &ops = simd();
    if (m > 1) blas_setup();

    parallel_for(s.n_heads * row_blocks, n_threads, [&](int64_t task) {
        const int64_t h = task / row_blocks, i0 = (task % row_blocks) * kRowBlock;
        const int64_t i1 = std::min(m, i0 + kRowBlock), rb = i1 - i0;
        // Keys any row of this block may see: [lo, lo + span).
        const int64_t lo = first_key(p0 + i0);
        const float *kh = k + lo * kv_stride + (h / group) * hd;
        const float *vh = v + lo * kv_stride + (h / group) * hd;
        const int64_t span = (causal ? std::min(n_keys, p0 + i1) : n_keys) - lo;
        thread_local std::vector<float> scores;
        scores.resize(size_t(rb * span));

        if (rb == 1) {
            const float *qi = q + i0 * q_stride + h * hd;
            float *oi = out + i0 * q_stride + h * hd;
            // One call per head for each product (the keys and values are matrices of `span`
            // rows): per-position calls cost decode ~4% of its time.
            ops.dot_rows(DType::F32, kh, kv_stride, span, qi, hd, scores.data(),
                         dot_rows_per_pass(DType::F32));
            for (int64_t t = 0; t < span; ++t) scores[t] *= scale;
            if (opts.softcap > 0) soft_cap(scores.data(), span, opts.softcap);
            softmax(scores.data(), span);
            ops.axpy_rows(DType::F32, vh, kv_stride, span, scores.data(), hd, oi,
                          axpy_rows_per_pass(DType::F32));
            return;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rb), int(span), int(hd), scale,
                    q + i0 * q_stride + h * hd, int(q_stride), kh, int(kv_stride), 0.0f,
                    scores.data(), int(span));
        for (int64_t i = 0; i < rb; ++i) {
            float *row = scores.data() + i * span;
            // Row i sees keys [start, start + len) of this block's span.
            const int64_t start = first_key(p0 + i0 + i) - lo;
            const int64_t len = (causal ? std::min(span, p0 + i0 + i + 1 - lo) : span) - start;
            std::fill(row, row + start, 0.0f);
            if (opts.softcap > 0) soft_cap(row + start, len, opts.softcap);
            softmax(row + start, len);
            std::fill(row + start + len, row + span, 0.0f);
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(rb), int(hd), int(span), 1.0f,
                    scores.data(), int(span), vh, int(kv_stride), 0.0f,
                    out + i0 * q_stride + h * hd, int(q_stride));
    });
}

}  // namespace hfk::kern

namespace hfk::kern {

void attention_rows(const float *q, int64_t m, int64_t p0, const float *k, const float *v,
                    int64_t kv_stride, const AttentionShape &s, float scale,
                    const AttentionOptions &opts, float *out, int n_threads) {
    const int64_t hd = s.head_dim, q_stride = s.n_heads * hd, group = s.n_heads / s.n_kv_heads;
    const SimdOps &ops = simd();
    // One task per (row, head): the same steps as attention()'s one-row path.
    parallel_for(m * s.n_heads, n_threads, [&](int64_t task) {
        const int64_t i = task / s.n_heads, h = task % s.n_heads, pos = p0 + i;
        const int64_t lo = opts.window > 0 ? std::max<int64_t>(0, pos - opts.window + 1) : 0;
        const int64_t span = pos + 1 - lo;
        const float *kh = k + lo * kv_stride + (h / group) * hd;
        const float *vh = v + lo * kv_stride + (h / group) * hd;
        thread_local std::vector<float> scores;
        scores.resize(size_t(span));
        ops.dot_rows(DType::F32, kh, kv_stride, span, q + i * q_stride + h * hd, hd, scores.data(),
                     dot_rows_per_pass(DType::F32));
        for (int64_t t = 0; t < span; ++t) scores[size_t(t)] *= scale;
        if (opts.softcap > 0) soft_cap(scores.data(), span, opts.softcap);
        softmax(scores.data(), span);
        ops.axpy_rows(DType::F32, vh, kv_stride, span, scores.data(), hd,
                      out + i * q_stride + h * hd, axpy_rows_per_pass(DType::F32));
    });
}

}  // namespace hfk::kern
