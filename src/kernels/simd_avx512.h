// AVX-512 loads shared by the kernels of simd.cpp and attention_heads.cpp: 16 elements of a
// row of F32, F16 or BF16 as F32 (exact), whole or masked. Internal to src/kernels (x86-64 only).
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#include "model/dtype.h"

namespace hfk::kern::avx512 {

#define HFK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")))

template <DType T>
HFK_AVX512 inline __m512 load16(const void *p, int64_t i) {
    if constexpr (T == DType::F32) {
        return _mm512_loadu_ps(static_cast<const float *>(p) + i);
    } else if constexpr (T == DType::F16) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(
            reinterpret_cast<const __m256i *>(static_cast<const uint16_t *>(p) + i)));
    } else {
        __m256i b = _mm256_loadu_si256(
            reinterpret_cast<const __m256i *>(static_cast<const uint16_t *>(p) + i));
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
    }
}

template <DType T>
HFK_AVX512 inline __m512 load16_mask(const void *p, int64_t i, __mmask16 m) {
    if constexpr (T == DType::F32) {
        return _mm512_maskz_loadu_ps(m, static_cast<const float *>(p) + i);
    } else if constexpr (T == DType::F16) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t *>(p) + i));
    } else {
        __m256i b = _mm256_maskz_loadu_epi16(m, static_cast<const uint16_t *>(p) + i);
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16));
    }
}

HFK_AVX512 inline __mmask16 tail_mask(int64_t left) {
    return __mmask16((1u << left) - 1u);
}

// The first n elements of a row times x, in pieces of 16 (the last masked) into one accumulator
// of 16 lanes: a row's head in dot_rows, a whole KV row in attention_heads.cpp.
template <DType T>
HFK_AVX512 inline __m512 dot_masked16(const void *w, const float *x, int64_t n) {
    __m512 s = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = tail_mask(n - i < 16 ? n - i : 16);
        s = _mm512_fmadd_ps(load16_mask<T>(w, i, m), _mm512_maskz_loadu_ps(m, x + i), s);
    }
    return s;
}

}  // namespace hfk::kern::avx512
#endif  // __x86_64__
