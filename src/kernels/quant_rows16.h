// The products of the interleaved types Q8_0x16 and Q4_1x16 (quant.h): the portable definition
// and the AVX-512 VNNI, AVX-VNNI and AVX2 kernels, which the QuantOps sets (quant_kernels.cpp)
// call for them.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/quant.h"

namespace hfk::kern {

// y[i * ldy + r] = row r of W . x[i], r < rows, i < m; t Q8_0x16 or Q4_1x16, w the start of a
// group of 16 rows, rows a multiple of 16. The float sequence of quant.h, in portable C.
void gemm_rows16_portable(QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x,
                          int64_t m, float *y, int64_t ldy);
#if defined(__x86_64__)
// The same bits, 16 rows a register; only on a CPU with AVX-512 VNNI.
void gemm_rows16_avx512(QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x,
                        int64_t m, float *y, int64_t ldy);
// The same bits in 256-bit registers: AVX2 (vpmaddubsw) and AVX-VNNI (vpdpbusd).
void gemm_rows16_avx2(QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x,
                      int64_t m, float *y, int64_t ldy);
void gemm_rows16_avxvnni(QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x,
                         int64_t m, float *y, int64_t ldy);
// For tests: gemm_rows16_avxvnni's arithmetic through the EVEX vpdpbusd (AVX512_VNNI + VL), on
// CPUs that have it but not AVX-VNNI.
void gemm_rows16_vnni256_evex(QType t, const uint8_t *w, size_t row_bytes, int64_t rows,
                              const QActs *x, int64_t m, float *y, int64_t ldy);
#endif

}  // namespace hfk::kern
