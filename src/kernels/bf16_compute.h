// The BF16 compute mode (issue 22; session option `compute`): prefill products against BF16
// weights round the activations to BF16 and multiply BF16 by BF16 with F32 sums, as the
// hardware's BF16 dot-product instructions do (vdpbf16ps). The default mode is exact: F32
// activations, F32 sums. The mode changes numbers, so it is opt-in and documented (README,
// "Performance and CPU dispatch", with its measured error).
#pragma once

#include <cstdint>

#include "kernels/matmul.h"

namespace hfk::kern {

enum class Compute : uint8_t { F32, BF16 };

// The mode of the linear() calls made on this thread: F32 unless a ComputeScope is alive.
// (A thread-local rather than a parameter: the mode belongs to a session, and the model code
// between the session and linear() stays as it is.)
Compute compute_mode();
class ComputeScope {
  public:
    explicit ComputeScope(Compute mode);
    ~ComputeScope();
    ComputeScope(const ComputeScope &) = delete;
    ComputeScope &operator=(const ComputeScope &) = delete;

  private:
    Compute saved_;
};

// The implementations of the BF16 product. Reference: portable C, one output at a time, the
// definition of the arithmetic (bf16_compute.cpp). Avx512Bf16: vdpbf16ps.
enum class Bf16Kernel : uint8_t { Reference, Avx512Bf16 };
// Whether this CPU (and HFK_KERNELS) allows `k`: Avx512Bf16 needs AVX512_BF16 and HFK_KERNELS
// not forcing a lower level than avx512.
bool bf16_kernel_available(Bf16Kernel k);
// What the BF16 mode runs on this machine: "avx512bf16", or nullptr when the mode falls back to
// the exact F32 path (every product then gives the default mode's bits).
const char *bf16_compute_kernel();
// One line for logs and benchmarks: "bf16: vdpbf16ps (AVX512_BF16)" or why it falls back.
const char *bf16_compute_description();

// y[i, :] = bf16(x[i, :]) * W (+ bias) for a BF16 W (layout as linear()), i < m: every output is
//   acc = +0; for p in 0 .. ceil(k / 2): acc = fma(a[2p+1], w[2p+1], acc); acc = fma(a[2p], w[2p],
//   acc)
// with a = the row rounded to BF16 (nearest even; k odd: a zero pair member), each fma rounded
// to nearest even, denormal inputs read as zero and denormal results flushed to zero (Intel's
// description of VDPBF16PS); then + bias[j] in F32. The same bits for every kernel, every split
// and any thread count.
void linear_bf16(const Mat &w, Layout layout, const float *x, int64_t m, const float *bias,
                 float *y, int n_threads, Bf16Kernel kernel);

// linear()'s hook: true when it ran the product in BF16 (mode BF16, BF16 weights not quantized,
// more than `min_rows` rows, a BF16 kernel on this CPU); false: linear() runs its exact path.
bool try_linear_bf16(const Mat &w, Layout layout, const float *x, int64_t m, const float *bias,
                     float *y, int n_threads, int64_t min_rows);

}  // namespace hfk::kern
