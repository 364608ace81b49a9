// The Q8_0x16 products (quant.h): the portable definition and the AVX-512 VNNI kernel, which
// each QuantOps set (quant_kernels.cpp) calls for that type.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/quant.h"

namespace hfk::kern {

// y[i * ldy + r] = row r of W . x[i], r < rows, i < m; w the start of a group of 16 rows, rows
// a multiple of 16. The float sequence of quant.h, in portable C.
void gemm_q8_0x16_portable(const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x,
                           int64_t m, float *y, int64_t ldy);
#if defined(__x86_64__)
// The same bits, 16 rows a register; only on a CPU with AVX-512 VNNI.
void gemm_q8_0x16_avx512(const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x,
                         int64_t m, float *y, int64_t ldy);
#endif

}  // namespace hfk::kern
