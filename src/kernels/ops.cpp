#include "kernels/ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/simd.h"

namespace hfk::kern {

// Sums in double: the reference's float32 reductions are within ~1e-7 of the exact value, and so
// is this, whatever the order.
void rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps) {
    // Four partial sums: one chain of dependent double adds took 4 cycles per element.
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += double(x[i]) * x[i];
        s1 += double(x[i + 1]) * x[i + 1];
        s2 += double(x[i + 2]) * x[i + 2];
        s3 += double(x[i + 3]) * x[i + 3];
    }
    for (; i < n; ++i) s0 += double(x[i]) * x[i];
    const double ss = (s0 + s1) + (s2 + s3);
    const float inv = float(1.0 / std::sqrt(ss / double(n) + double(eps)));
    for (i = 0; i < n; ++i) out[i] = w[i] * (x[i] * inv);
}

void layernorm(float *out, const float *x, const float *w, const float *b, int64_t n, float eps) {
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += x[i];
    mean /= double(n);
    double var = 0;
    for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
    var /= double(n);
    const double inv = 1.0 / std::sqrt(var + double(eps));
    for (int64_t i = 0; i < n; ++i) out[i] = float((x[i] - mean) * inv) * w[i] + b[i];
}

// The activations go through the vector exp in chunks that stay in L1.
namespace {
constexpr int64_t kChunk = 256;
}

void silu_mul(float *gate, const float *up, int64_t n) {
    float t[kChunk];
    for (int64_t c = 0; c < n; c += kChunk) {
        const int64_t len = std::min(kChunk, n - c);
        for (int64_t i = 0; i < len; ++i) t[i] = -gate[c + i];
        simd().exp(t, len);
        for (int64_t i = 0; i < len; ++i) gate[c + i] = gate[c + i] / (1.0f + t[i]) * up[c + i];
    }
}

void silu(float *x, int64_t n) {
    float t[kChunk];
    for (int64_t c = 0; c < n; c += kChunk) {
        const int64_t len = std::min(kChunk, n - c);
        for (int64_t i = 0; i < len; ++i) t[i] = -x[c + i];
        simd().exp(t, len);
        for (int64_t i = 0; i < len; ++i) x[c + i] = x[c + i] / (1.0f + t[i]);
    }
}

// tanh(u) = 1 - 2 / (exp(2u) + 1): exact limits at +-inf, absolute error ~1e-7 near 0, which is
// what gelu needs (it multiplies by x).
void gelu_tanh(float *x, int64_t n) {
    const float c = 0.7978845608028654f;  // sqrt(2/pi)
    float t[kChunk];
    for (int64_t ch = 0; ch < n; ch += kChunk) {
        const int64_t len = std::min(kChunk, n - ch);
        for (int64_t i = 0; i < len; ++i) {
            float v = x[ch + i];
            t[i] = 2.0f * c * (v + 0.044715f * v * v * v);
        }
        simd().exp(t, len);
        for (int64_t i = 0; i < len; ++i) {
            float th = 1.0f - 2.0f / (t[i] + 1.0f);
            x[ch + i] = 0.5f * x[ch + i] * (1.0f + th);
        }
    }
}

void gelu_erf(float *x, int64_t n) {
    for (int64_t i = 0; i < n; ++i)
        x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
}

void relu(float *x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0 ? x[i] : (x[i] != x[i] ? x[i] : 0.0f);
}

void add(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

// The running maximum stays in a register: a chain of max instructions, ~2 cycles per element.
// (The obvious `x[i] > x[best]` reloads x[best] through a compare-and-cmov chain, ~8 cycles per
// element: 2% of a llama-135m decode step went to its 49,152 logits.)
int64_t argmax(const float *x, int64_t n) {
    float best_value = x[0];
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i)
        if (x[i] > best_value) {
            best_value = x[i];
            best = i;
        }
    return best;
}

}  // namespace hfk::kern
