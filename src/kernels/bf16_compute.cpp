// See bf16_compute.h. The AVX-512 kernel packs the weights of a block of outputs into panels of
// 32 columns, each k-pair of a column one dword (the operand layout of vdpbf16ps), rounds the
// activations to BF16 pairs once per call, and keeps 8 rows x 32 columns of F32 sums in
// registers: one sum per output, over the pairs in order, as the reference does.
#include "kernels/bf16_compute.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/cpu.h"
#include "kernels/simd.h"
#include "kernels/thread_pool.h"
#include "util/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace hfk::kern {
namespace {

thread_local Compute t_mode = Compute::F32;

bool cpu_has_avx512_bf16() {
    return cpu_features().avx512_bf16;
}

// Output columns per task: blocks of whole panels whose packed weights stay near 1 MiB, cut in
// an even number of pieces (two threads get equal shares); depends on n and k only.
constexpr int64_t kPanel = 32;
constexpr int64_t kBlockBytes = 1 << 20;

int64_t column_block(int64_t n, int64_t k) {
    const int64_t target = std::max<int64_t>(kPanel * 4, kBlockBytes / 2 / std::max<int64_t>(k, 1));
    const int64_t pieces = 2 * ((n + 2 * target - 1) / (2 * target));
    const int64_t piece = (n + pieces - 1) / pieces;
    return (piece + kPanel - 1) / kPanel * kPanel;
}

uint16_t weight_at(const Mat &w, Layout layout, int64_t kk, int64_t j) {
    const auto *p = static_cast<const uint16_t *>(w.data);
    return layout == Layout::OutIn ? p[j * w.cols + kk] : p[kk * w.cols + j];
}

float as_float(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

// Denormals read as (signed) zero.
float daz(float f) {
    return std::fpclassify(f) == FP_SUBNORMAL ? std::copysign(0.0f, f) : f;
}

// One step of vdpbf16ps on one lane, per Intel's description: an F32 FMA with round to nearest
// even, denormal inputs as zero, a denormal result flushed to zero.
float fma_bf16(uint16_t a, uint16_t b, float acc) {
    const float r =
        std::fma(daz(as_float(uint32_t(a) << 16)), daz(as_float(uint32_t(b) << 16)), daz(acc));
    return daz(r);
}

void linear_bf16_reference(const Mat &w, Layout layout, const float *x, int64_t m,
                           const float *bias, float *y, int n_threads) {
    const int64_t n = layout == Layout::OutIn ? w.rows : w.cols;
    const int64_t k = layout == Layout::OutIn ? w.cols : w.rows;
    const int64_t pairs = (k + 1) / 2;
    parallel_for(n, n_threads, [&](int64_t j) {
        for (int64_t i = 0; i < m; ++i) {
            float acc = 0.0f;
            for (int64_t p = 0; p < pairs; ++p) {
                const int64_t e = 2 * p, o = 2 * p + 1;
                const uint16_t ao = o < k ? f32_to_bf16(x[i * k + o]) : 0;
                const uint16_t wo = o < k ? weight_at(w, layout, o, j) : 0;
                acc = fma_bf16(ao, wo, acc);
                acc = fma_bf16(f32_to_bf16(x[i * k + e]), weight_at(w, layout, e, j), acc);
            }
            y[i * n + j] = bias ? acc + bias[j] : acc;
        }
    });
}

#if defined(__x86_64__)
#define HFK_BF16 \
    __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c")))

// Panel q of a block: [pairs][32] dwords, column c of pair p = W(2p, j) | W(2p+1, j) << 16 for
// j = j0 + c; zero past the last column and for the missing odd member of an odd k.
HFK_BF16 void pack_panel(const Mat &w, Layout layout, int64_t k, int64_t j0, int64_t cols,
                         uint32_t *out) {
    const int64_t pairs = (k + 1) / 2, full = k / 2;
    const auto *base = static_cast<const uint16_t *>(w.data);
    if (layout == Layout::OutIn) {
        // Column j is row j of W: its pairs are neighbouring dwords (2-byte aligned): gather 16
        // rows' dword p at once.
        for (int64_t h = 0; h < kPanel; h += 16) {
            const int64_t nc = std::clamp<int64_t>(cols - h, 0, 16);
            const __mmask16 mask = __mmask16((1u << nc) - 1u);
            const __m512i rows = _mm512_mullo_epi32(
                _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                _mm512_set1_epi32(int(k * 2)));
            const uint16_t *first = base + (j0 + h) * k;
            for (int64_t p = 0; p < full; ++p) {
                const __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, rows,
                                                              first + 2 * p, 1);
                _mm512_storeu_si512(out + p * kPanel + h, v);
            }
            if (pairs > full)  // k odd: the last element alone
                for (int64_t c = 0; c < 16; ++c)
                    out[full * kPanel + h + c] = c < nc ? first[c * k + k - 1] : 0;
        }
        return;
    }
    // [in, out]: the pair's members are rows 2p and 2p + 1; interleave 32 columns of each.
    const __mmask32 mask = cols >= 32 ? ~__mmask32(0) : __mmask32((1u << cols) - 1u);
    const __m512i lo = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40,
                                        8, 39, 7, 38, 6, 37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
    const __m512i hi = _mm512_add_epi16(lo, _mm512_set1_epi16(16));
    for (int64_t p = 0; p < pairs; ++p) {
        const __m512i e = _mm512_maskz_loadu_epi16(mask, base + 2 * p * w.cols + j0);
        const __m512i o = 2 * p + 1 < k
                              ? _mm512_maskz_loadu_epi16(mask, base + (2 * p + 1) * w.cols + j0)
                              : _mm512_setzero_si512();
        _mm512_storeu_si512(out + p * kPanel, _mm512_permutex2var_epi16(e, lo, o));
        _mm512_storeu_si512(out + p * kPanel + 16, _mm512_permutex2var_epi16(e, hi, o));
    }
}

// y[r, c] for r < MR rows of activation pairs (row r at a + r * lda) and the panel's 32
// columns, `cols` of them stored.
template <int MR>
HFK_BF16 void panel_kernel(const uint32_t *a, int64_t lda, const uint32_t *panel, int64_t pairs,
                           float *y, int64_t ldy, int64_t cols) {
    // The loops over r must be unrolled (GCC -O2 does not by itself) so that the sums stay in
    // registers.
    __m512 acc[MR][2];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < pairs; ++p) {
        const __m512i b0 = _mm512_loadu_si512(panel + p * kPanel);
        const __m512i b1 = _mm512_loadu_si512(panel + p * kPanel + 16);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            const __m512i av = _mm512_set1_epi32(int(a[r * lda + p]));
            acc[r][0] = _mm512_dpbf16_ps(acc[r][0], (__m512bh)av, (__m512bh)b0);
            acc[r][1] = _mm512_dpbf16_ps(acc[r][1], (__m512bh)av, (__m512bh)b1);
        }
    }
    const __mmask16 m0 = cols >= 16 ? __mmask16(0xffff) : __mmask16((1u << cols) - 1u);
    const __mmask16 m1 = cols >= 32   ? __mmask16(0xffff)
                         : cols <= 16 ? __mmask16(0)
                                      : __mmask16((1u << (cols - 16)) - 1u);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
        _mm512_mask_storeu_ps(y + r * ldy, m0, acc[r][0]);
        _mm512_mask_storeu_ps(y + r * ldy + 16, m1, acc[r][1]);
    }
}

using PanelKernel = void (*)(const uint32_t *, int64_t, const uint32_t *, int64_t, float *, int64_t,
                             int64_t);
constexpr int kRows = 8;
constexpr PanelKernel kPanelKernels[kRows + 1] = {
    nullptr,         panel_kernel<1>, panel_kernel<2>, panel_kernel<3>, panel_kernel<4>,
    panel_kernel<5>, panel_kernel<6>, panel_kernel<7>, panel_kernel<8>};

std::vector<uint32_t> &pack_scratch() {
    thread_local std::vector<uint32_t> buf;
    return buf;
}

void linear_bf16_avx512(const Mat &w, Layout layout, const float *x, int64_t m, const float *bias,
                        float *y, int n_threads) {
    const int64_t n = layout == Layout::OutIn ? w.rows : w.cols;
    const int64_t k = layout == Layout::OutIn ? w.cols : w.rows;
    const int64_t pairs = (k + 1) / 2;
    // The activations as BF16 pairs, rounded once (simd.h's from_f32: nearest even on every ISA).
    thread_local std::vector<uint32_t> acts_buf;
    std::vector<uint32_t> &acts = acts_buf;  // the caller's (the lambdas run on workers)
    acts.assign(size_t(m * pairs), 0u);
    const SimdOps &ops = simd();
    for (int64_t i = 0; i < m; ++i)
        ops.from_f32(DType::BF16, x + i * k, k,
                     reinterpret_cast<uint16_t *>(acts.data() + i * pairs));
    const int64_t block = column_block(n, k);
    const int64_t tasks = (n + block - 1) / block;
    parallel_for(tasks, n_threads, [&](int64_t t) {
        const int64_t n0 = t * block, n1 = std::min(n, n0 + block);
        const int64_t panels = (n1 - n0 + kPanel - 1) / kPanel;
        std::vector<uint32_t> &packed = pack_scratch();
        packed.resize(size_t(panels * pairs * kPanel));
        for (int64_t q = 0; q < panels; ++q) {
            const int64_t j0 = n0 + q * kPanel, cols = std::min(kPanel, n1 - j0);
            uint32_t *panel = packed.data() + q * pairs * kPanel;
            pack_panel(w, layout, k, j0, cols, panel);
            for (int64_t i = 0; i < m; i += kRows) {
                const int64_t rows = std::min<int64_t>(kRows, m - i);
                kPanelKernels[rows](acts.data() + i * pairs, pairs, panel, pairs, y + i * n + j0, n,
                                    cols);
            }
        }
        if (bias)
            for (int64_t i = 0; i < m; ++i)
                for (int64_t j = n0; j < n1; ++j) y[i * n + j] += bias[j];
    });
}
#endif  // __x86_64__

}  // namespace

Compute compute_mode() {
    return t_mode;
}

ComputeScope::ComputeScope(Compute mode) : saved_(t_mode) {
    t_mode = mode;
}

ComputeScope::~ComputeScope() {
    t_mode = saved_;
}

bool bf16_kernel_available(Bf16Kernel k) {
    switch (k) {
        case Bf16Kernel::Reference:
            return true;
        case Bf16Kernel::Avx512Bf16:
            return cpu_has_avx512_bf16() && std::strcmp(kernel_isa(), "avx512") == 0;
    }
    return false;
}

const char *bf16_compute_kernel() {
    return bf16_kernel_available(Bf16Kernel::Avx512Bf16) ? "avx512bf16" : nullptr;
}

const char *bf16_compute_description() {
    if (bf16_compute_kernel()) return "bf16 compute: vdpbf16ps (AVX512_BF16)";
    if (!cpu_has_avx512_bf16())
        return "bf16 compute: this CPU has no AVX512_BF16, so the bf16 mode runs the exact F32 "
               "path";
    return "bf16 compute: HFK_KERNELS forces a level below avx512, so the bf16 mode runs the "
           "exact F32 path";
}

void linear_bf16(const Mat &w, Layout layout, const float *x, int64_t m, const float *bias,
                 float *y, int n_threads, Bf16Kernel kernel) {
    if (w.dtype != DType::BF16 || w.quant != QType::None)
        fail(HFK_E_INTERNAL, "linear_bf16: the weights are not plain BF16");
    if (!bf16_kernel_available(kernel))
        fail(HFK_E_INTERNAL, "linear_bf16: the kernel is not available on this CPU");
    const int64_t n = layout == Layout::OutIn ? w.rows : w.cols;
    if (m <= 0 || n <= 0) return;
#if defined(__x86_64__)
    if (kernel == Bf16Kernel::Avx512Bf16)
        return linear_bf16_avx512(w, layout, x, m, bias, y, n_threads);
#endif
    linear_bf16_reference(w, layout, x, m, bias, y, n_threads);
}

bool try_linear_bf16(const Mat &w, Layout layout, const float *x, int64_t m, const float *bias,
                     float *y, int n_threads, int64_t min_rows) {
    if (t_mode != Compute::BF16 || m <= min_rows || w.dtype != DType::BF16 ||
        w.quant != QType::None || !bf16_compute_kernel())
        return false;
    linear_bf16(w, layout, x, m, bias, y, n_threads, Bf16Kernel::Avx512Bf16);
    return true;
}

}  // namespace hfk::kern
