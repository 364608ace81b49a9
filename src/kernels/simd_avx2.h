// AVX2 pieces shared by the kernels of simd.cpp and attention_heads_avx2.cpp: 8 elements of a row
// of F32, F16 or BF16 as F32 (exact), and the order in which dot_rows sums one output (its four
// accumulators, their sum across lanes, the scalar tail). The heads kernels use the same pieces so
// that they give dot_rows' bits. Internal to src/kernels (x86-64 only).
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/simd.h"
#include "model/dtype.h"

namespace hfk::kern::avx2 {

#define HFK_AVX2 __attribute__((target("avx2,fma,f16c")))

template <DType T>
HFK_AVX2 inline __m256 load8(const void *p, int64_t i) {
    if constexpr (T == DType::F32) {
        return _mm256_loadu_ps(static_cast<const float *>(p) + i);
    } else if constexpr (T == DType::F16) {
        return _mm256_cvtph_ps(_mm_loadu_si128(
            reinterpret_cast<const __m128i *>(static_cast<const uint16_t *>(p) + i)));
    } else {
        __m128i b = _mm_loadu_si128(
            reinterpret_cast<const __m128i *>(static_cast<const uint16_t *>(p) + i));
        return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16));
    }
}

// One element (the tails past the last whole vector of 8).
template <DType T>
inline float load1(const void *p, int64_t i) {
    if constexpr (T == DType::F32) {
        float f;
        std::memcpy(&f, static_cast<const float *>(p) + i, 4);
        return f;
    } else {
        uint16_t h;
        std::memcpy(&h, static_cast<const uint16_t *>(p) + i, 2);
        return T == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
    }
}

HFK_AVX2 inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// The partial sums of one output of dot_rows: four accumulators over consecutive blocks of 8
// (four independent FMA chains hide the FMA latency).
struct Sums8 {
    __m256 a0, a1, a2, a3;
};

// One block of 32 elements of a row into its sums.
template <DType T>
HFK_AVX2 inline void dot_block32(const void *w, const float *x, int64_t i, Sums8 &s) {
    s.a0 = _mm256_fmadd_ps(load8<T>(w, i), _mm256_loadu_ps(x + i), s.a0);
    s.a1 = _mm256_fmadd_ps(load8<T>(w, i + 8), _mm256_loadu_ps(x + i + 8), s.a1);
    s.a2 = _mm256_fmadd_ps(load8<T>(w, i + 16), _mm256_loadu_ps(x + i + 16), s.a2);
    s.a3 = _mm256_fmadd_ps(load8<T>(w, i + 24), _mm256_loadu_ps(x + i + 24), s.a3);
}

// The whole vectors of 8 left from i (a multiple of 32) into the first chain, then the four
// chains added pairwise: the vector hsum8 reduces to the output.
template <DType T>
HFK_AVX2 inline __m256 dot_rest8(const void *w, const float *x, int64_t i, int64_t k, Sums8 s) {
    for (; i + 8 <= k; i += 8) s.a0 = _mm256_fmadd_ps(load8<T>(w, i), _mm256_loadu_ps(x + i), s.a0);
    return _mm256_add_ps(_mm256_add_ps(s.a0, s.a1), _mm256_add_ps(s.a2, s.a3));
}

// The elements past the last whole vector of 8 (k % 8 of them), added one by one to the sum.
template <DType T>
HFK_AVX2 inline float dot_tail1(const void *w, const float *x, int64_t k, float sum) {
    for (int64_t i = k & ~int64_t(7); i < k; ++i) sum += load1<T>(w, i) * x[i];
    return sum;
}

// The rest of a row from i (a multiple of 32), then the output.
template <DType T>
HFK_AVX2 inline float dot_finish8(const void *w, const float *x, int64_t i, int64_t k, Sums8 s) {
    return dot_tail1<T>(w, x, k, hsum8(dot_rest8<T>(w, x, i, k, s)));
}

}  // namespace hfk::kern::avx2
#endif  // __x86_64__
