// Block-quantized weight matrices (quantized at load) and their int8 dot-product kernels.
//
// Formats (blocks of 32 weights along the input dimension; a row whose length is not a multiple
// of 32 ends in a zero-padded block):
//   Q8_0: {f16 d; int8 q[32]}        w = d * q, q in [-127, 127]       (34 bytes, 8.5 bits/w)
//   Q4_1: {f16 d, m; uint8 q[16]}    w = d * q + m, q in [0, 15]       (20 bytes, 5 bits/w)
//   Q4_1F: {f32 d, m; uint8 q[16]}   w = d * q + m, q in [0, 15]       (24 bytes, 6 bits/w)
// Q4_1F holds pre-quantized checkpoints exactly (model/prequant.h): a GPTQ/AWQ minimum
// -scale * zero (an F16 times an integer up to 16) or a BF16 MLX scale is exact in F32 but not
// always in F16. Its nibbles and kernels are Q4_1's; only the scale and minimum are wider.
// The layouts are llama.cpp's block_q8_0 and block_q4_1 (Q4_1's byte j holds element j in its
// low nibble and element j + 16 in its high nibble).
//
// Scales are F16: a block is then 34 bytes rather than 36 (decode reads every weight byte once per
// token, so 6% fewer bytes), and an F16 scale's 11-bit significand (relative rounding <= 2^-11)
// is far finer than the int8 step (1/254 of the block's range). Each block is quantized against
// its *rounded* scale, so the rounding moves the grid instead of adding error on top of it. Blocks
// whose largest magnitude is below ~8e-3 get a subnormal scale (coarser, still exact for zero).
//
// Q4_1 rather than Q4_0 (scale only): measured on the shared aidreams260K checkpoint, the relative
// RMS error of the weights is 6.8% for Q4_1 against 7.2% for Q4_0 (7.8% vs 8.6% on Gaussian
// weights), for 11% more bytes; and its unsigned nibbles feed vpdpbusd/vpmaddubsw directly.
//
// Activations are quantized per block of 32 as well (as llama.cpp does): d = amax / 127 (F32),
// q = round(x / d). A product is then, per block b, an exact int32 sum of 32 products and a fixed
// float sequence (dot_scalar in quant_kernels.cpp defines it; every instruction set reproduces
// it bit for bit):
//   lane sums  L[b][j] = sum_{t<4} w[b][4j+t] * xq[b][4j+t]          j < 8   (exact int32)
//   acc[(b % 2) * 8 + j] = fma(float(L[b][j]), d_w[b] * d_x[b], acc[(b % 2) * 8 + j])
//   Q4_1 only: mins[b % 2] = fma(m_w[b], s_x[b], mins[b % 2]),  s_x[b] = d_x[b] * sum(xq[b]);
//              after the last block acc[0] += mins[0], acc[8] += mins[1]
//   y = tree sum of acc (16 -> 8 -> 4 -> 2 -> 1, halves added)
// (The minima's terms ride in lanes of a second accumulator rather than in the lane sums' one:
// two dependent fmas per block pair made a 1-thread Q4_1 decode wait on fma latency, slower
// than Q8_0's although it reads 40% fewer bytes.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/simd.h"

namespace hfk::kern {

enum class QType : uint8_t { None, Q8_0, Q4_1, Q4_1F, Q8_0x16, Q4_1x16 };

constexpr int64_t kQBlock = 32;

// Q8_0x16 and Q4_1x16: Q8_0 and Q4_1 with the rows interleaved by 16 (kQRowGroup), the layout of
// the AVX-512 VNNI, AVX-VNNI and AVX2 kernels (quant_rows16.cpp); the loader repacks a Q8_0 or
// Q4_1 matrix into it when one of those runs (models/common.cpp). As many bytes as the row-by-row
// type (34 or 20 a block a row). Q8_0x16, per group of 16 rows:
//   group g (rows 16g..16g+15) at g * 16 * q_row_bytes; in it the blocks in pairs, a pair's two
//   blocks of weights then their two blocks of scales (1088 bytes; a last odd block: 512 + 32):
//     a block's weights (512 bytes): byte 64 c + 4 r + t = w[r][32 b + 4 c + t] + 128 (as u8),
//                                    c < 8 (a chunk of 4 inputs), r < 16 (the row), t < 4
//     a block's scales (32 bytes):   16 F16, row r's d at 2 r
// Q4_1x16: block b of a group at 320 b (5 cache lines): 256 nibble bytes, byte 64 c + 4 r + t
//   holding input 4 c + t of row r in its low nibble and 16 + 4 c + t in its high one (c < 4:
//   Q4_1's own bytes 4c..4c+3 of the row), then the 16 rows' F16 scales, then their minima.
// So one 64-byte load holds 4 weights (Q4: 8) of each of the 16 rows, one vpdpbusd against 4
// activations broadcast sums them for all 16 rows, and one load gives the block's 16 scales. A
// matrix of these types has a multiple of 16 rows, and row_slice cuts it at multiples of 16 only.
// Their float sequence (not Q8_0's and Q4_1's: per row, one exact int32 sum per block, one fma
// per block):
//   S[b] = sum_{j<32} w[b][j] * xq[b][j]  (exact int32; Q4: the nibbles 0..15)
//   acc = fma(float(S[b]), d_w[b] * d_x[b], acc)      for b = 0, 1, ...
//   Q4_1x16: mins = fma(m_w[b], s_x[b], mins)          for b = 0, 1, ...;  y = acc + mins
//   Q8_0x16: y = acc
// Each block's 32 products summed exactly before one rounding: no less accurate than the per-lane
// sums, and it lets the scales be applied once per block for 16 rows at once.
constexpr int64_t kQRowGroup = 16;

const char *qtype_name(QType t);  // "q8_0", "q4_1", "q4_1f", "q8_0x16", "q4_1x16", "none"
size_t q_block_bytes(QType t);    // 34, 20, 24, 34, 20 (0 for None)
bool q_interleaved(QType t);      // Q8_0x16, Q4_1x16
inline int64_t q_blocks(int64_t k) {
    return (k + kQBlock - 1) / kQBlock;
}
inline size_t q_row_bytes(QType t, int64_t k) {
    return size_t(q_blocks(k)) * q_block_bytes(t);
}

// F32 <-> F16, round to nearest even (exact both ways for F16 values).
uint16_t f32_to_f16(float f);
// The F16 stored at p (a block's scale or minimum: two bytes, any alignment), as F32 (exact).
inline float f16_at(const uint8_t *p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return f16_to_f32(h);
}

// One row of k weights -> q_row_bytes(t, k) bytes (Q8_0, Q4_1 or Q4_1F), and back (k values).
// quantize_row_reference (portable C) defines the bytes; quantize_row is the AVX-512 version of
// Q8_0 and Q4_1 when the kernels are avx512vnni (the same bytes for finite input:
// tests/model/test_quant.cpp, QuantRow), the reference otherwise.
void quantize_row(QType t, const float *x, int64_t k, uint8_t *dst);
void quantize_row_reference(QType t, const float *x, int64_t k, uint8_t *dst);
void dequantize_row(QType t, const uint8_t *src, int64_t k, float *dst);
// Row r (k values) of a matrix of type t whose rows are row_bytes apart (Q8_0x16: whose groups
// of 16 rows are 16 * row_bytes apart).
void dequantize_matrix_row(QType t, const uint8_t *w, size_t row_bytes, int64_t r, int64_t k,
                           float *dst);
// A Q8_0 or Q4_1 matrix (`from`) of `rows` rows (a multiple of kQRowGroup) of k inputs,
// rewritten in place as Q8_0x16 or Q4_1x16.
void interleave_rows16(QType from, uint8_t *w, int64_t rows, int64_t k);

// One row of k activations -> q_blocks(k) blocks: q[32 * nb] int8 (padding zero), d[nb] and
// s[nb] = d * sum(q of the block). quantize_acts_reference (portable C) defines the values;
// quantize_acts is the AVX-512 version of it when the kernels are avx512vnni (the same bits for
// finite input: tests/model/test_quant_speed_paths.cpp), so every kernel sees the same input.
// sums (optional): each block's sum of q, exact.
void quantize_acts(const float *x, int64_t k, int8_t *q, float *d, float *s,
                   int32_t *sums = nullptr);
void quantize_acts_reference(const float *x, int64_t k, int8_t *q, float *d, float *s,
                             int32_t *sums = nullptr);

// Quantized activations of one row.
struct QActs {
    const int8_t *q;
    const float *d;
    const float *s;
    int64_t nb;                     // blocks
    const int32_t *sums = nullptr;  // each block's sum of q, or nullptr (kernels sum it then)
};

struct QuantOps {
    // y[r] = row r of W . x for r < rows; row r's blocks start at w + r * row_bytes.
    void (*dot_rows)(QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs &x,
                     float *y);
    // y[i * ldy + r] = row r of W . x[i] for r < rows, i < m: each the same bits as dot_rows
    // gives for x[i] alone (the kernels share loads between rows, never a sum). Q8_0x16 and
    // Q4_1x16: w is the start of a group and rows a multiple of 16 (every set computes them; the
    // scalar set by the portable definition).
    void (*gemm)(QType t, const uint8_t *w, size_t row_bytes, int64_t rows, const QActs *x,
                 int64_t m, float *y, int64_t ldy);
    // The set reads Q8_0x16 and Q4_1x16 natively (all but the scalar set): the loader repacks
    // matrices into them only then.
    bool rows16 = false;
};

// The kernel set for this CPU: "avx512vnni", "avxvnni", "avx2" or "scalar". HFK_KERNELS forces a
// lower level: scalar, avx2 (vpmaddubsw), avxvnni (256-bit VNNI); avx512 or unset: the best.
const char *quant_isa();
const QuantOps &quant_ops();
// One set by name, or nullptr if this CPU lacks it (tests).
const QuantOps *quant_ops_for(const char *isa);

}  // namespace hfk::kern
