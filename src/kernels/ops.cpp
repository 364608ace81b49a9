#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

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

// Four lanes of the baseline instruction set (SSE2's divps on x86-64). A lane does the scalar
// loop's IEEE operations, so the bits are the same; one scalar division an element was most of
// SwiGLU's time (1.6 ns an element: 0.6 ms of an 8-stream llama-135m engine step).
using Lanes4 = float __attribute__((vector_size(16)));
inline Lanes4 load4(const float *p) {
    Lanes4 v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store4(float *p, Lanes4 v) {
    std::memcpy(p, &v, sizeof v);
}

// t[i] = -x[i], for i < n.
void negate(const float *x, float *t, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) store4(t + i, -load4(x + i));
    for (; i < n; ++i) t[i] = -x[i];
}

// x[i] = x[i] / (1 + t[i]) (* up[i] when up is given), for i < n.
void divide_by_one_plus(float *x, const float *t, const float *up, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const Lanes4 v = load4(x + i) / (1.0f + load4(t + i));
        store4(x + i, up ? v * load4(up + i) : v);
    }
    for (; i < n; ++i) x[i] = up ? x[i] / (1.0f + t[i]) * up[i] : x[i] / (1.0f + t[i]);
}
}  // namespace

void silu_mul(float *gate, const float *up, int64_t n) {
    float t[kChunk];
    for (int64_t c = 0; c < n; c += kChunk) {
        const int64_t len = std::min(kChunk, n - c);
        negate(gate + c, t, len);
        simd().exp(t, len);
        divide_by_one_plus(gate + c, t, up + c, len);
    }
}

void silu(float *x, int64_t n) {
    float t[kChunk];
    for (int64_t c = 0; c < n; c += kChunk) {
        const int64_t len = std::min(kChunk, n - c);
        negate(x + c, t, len);
        simd().exp(t, len);
        divide_by_one_plus(x + c, t, nullptr, len);
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
