// Row-wise operations on F32 activations: normalisations, activations, residual adds.
#pragma once

#include <cstdint>

namespace hfk::kern {

// out = w * (x / sqrt(mean(x^2) + eps))        (LlamaRMSNorm; out may alias x)
void rmsnorm(float *out, const float *x, const float *w, int64_t n, float eps);
// out = (x - mean) / sqrt(var + eps) * w + b   (torch LayerNorm, biased variance; out may alias x)
void layernorm(float *out, const float *x, const float *w, const float *b, int64_t n, float eps);
// gate[i] = silu(gate[i]) * up[i]
void silu_mul(float *gate, const float *up, int64_t n);
// x = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))   (gelu_new / gelu_pytorch_tanh)
void gelu_tanh(float *x, int64_t n);
// x = 0.5 x (1 + erf(x / sqrt(2)))                       (BERT's exact gelu)
void gelu_erf(float *x, int64_t n);
void silu(float *x, int64_t n);
void relu(float *x, int64_t n);
// y += x
void add(float *y, const float *x, int64_t n);
// The index of the largest of x[0..n) (n >= 1), the lowest on ties (np.argmax); NaNs never win
// unless x[0] is one.
int64_t argmax(const float *x, int64_t n);

}  // namespace hfk::kern
