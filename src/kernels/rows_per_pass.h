// How many weight rows the matrix-vector kernels read side by side in one pass (concurrent
// memory streams) when decoding 16-bit (BF16 / F16) weights. The choice changes the speed only:
// every output is summed in the same order whatever it is (simd.h), so the bits never change.
#pragma once

#include "model/dtype.h"

namespace hfk::kern {

// Rows per pass for 16-bit weights stored [out, in]: 1, 2 or 4. Chosen once by CPU family
// (rows_per_pass.cpp says why), unless HFK_DECODE_ROWS=1|2|4 is set in the environment, or
// set_decode_rows() was called.
int decode_rows();
// Rows per pass of the kernels for weights of `type`, stored [out, in] (dot_rows) or [in, out]
// (axpy_rows). F32 keeps its measured fixed choice (one row for dot_rows, four for axpy_rows).
// F16/BF16: dot_rows takes decode_rows(); axpy_rows takes one row, its measured best, unless
// HFK_DECODE_ROWS or set_decode_rows() asks for another choice (both layouts then take it).
int dot_rows_per_pass(DType type);
int axpy_rows_per_pass(DType type);
// Overrides decode_rows() for the whole process (1, 2 or 4; 0 or any other value goes back to
// the default).
// Benchmarks and tests use it to compare the choices in one run.
void set_decode_rows(int rows);
// Where decode_rows() came from: "HFK_DECODE_ROWS", "set_decode_rows" or "CPU family <name>".
const char *decode_rows_source();

// Software prefetch of the 16-bit decode kernels (AVX-512 matrix-vector products): how many bytes
// ahead of its loads each weight stream asks for the next lines (into L2, _MM_HINT_T1); 0: none.
// Chosen once by CPU family (rows_per_pass.cpp says why), unless HFK_DECODE_PREFETCH=BYTES
// (0..65536, a multiple of 64) is set, or set_decode_prefetch() was called. Speed only: a
// prefetch never changes a result.
int decode_prefetch_bytes();
// Overrides decode_prefetch_bytes() for the whole process; a negative value goes back to the
// default. Benchmarks and tests use it to compare the choices in one run.
void set_decode_prefetch(int bytes);
// Where decode_prefetch_bytes() came from, as decode_rows_source().
const char *decode_prefetch_source();

}  // namespace hfk::kern
