// Block formats (quant.h): F16 rounding, quantization of weights and activations, dequantization.
#include "kernels/quant.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/simd.h"

namespace hfk::kern {

const char *qtype_name(QType t) {
    switch (t) {
        case QType::Q8_0:
            return "q8_0";
        case QType::Q4_1:
            return "q4_1";
        case QType::Q4_1F:
            return "q4_1f";
        case QType::Q8_0x16:
            return "q8_0x16";
        case QType::Q4_1x16:
            return "q4_1x16";
        default:
            return "none";
    }
}

size_t q_block_bytes(QType t) {
    switch (t) {
        case QType::Q8_0:
        case QType::Q8_0x16:
            return 2 + 32;
        case QType::Q4_1:
        case QType::Q4_1x16:
            return 4 + 16;
        case QType::Q4_1F:
            return 8 + 16;
        default:
            return 0;
    }
}

uint16_t f32_to_f16(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return uint16_t(sign | 0x7e00u);   // NaN
    if (x >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds beyond 65504: inf
    if (x >= 0x38800000u) {                                 // normal F16
        x += 0xfffu + ((x >> 13) & 1u);                     // round to nearest even
        return uint16_t(sign | ((x - 0x38000000u) >> 13));
    }
    float a;
    std::memcpy(&a, &x, 4);
    // Subnormal F16: a multiple of 2^-24 (1024 of them carries into the smallest normal).
    return uint16_t(sign | uint32_t(std::nearbyint(a * 16777216.0f)));
}

namespace {

// The block's values (zero past k).
void block_values(const float *x, int64_t k, int64_t b, float v[kQBlock]) {
    const int64_t n = std::min(kQBlock, k - b * kQBlock);
    for (int64_t i = 0; i < kQBlock; ++i) v[i] = i < n ? x[b * kQBlock + i] : 0.0f;
}

}  // namespace

// std::nearbyint(y) (round to nearest, ties to even: the default mode) once clamped to
// [lo, hi] within +-127, without a libm call per weight (one was 27% of a Q8 load's time): a
// float sum at 1.5 * 2^23 keeps no fraction bits. Exact for |y| < 2^22; beyond, it may be off
// by one, which the clamp makes the same (|y| >= 2^22 clamps to lo or hi either way), as it
// does for infinities. quant.cpp is built with -ffp-contract=off, so the product the callers
// round is never fused into the sum.
inline float round_clamped(float y, float lo, float hi) {
    constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23
    return std::clamp((y + kMagic) - kMagic, lo, hi);
}

void quantize_row_reference(QType t, const float *x, int64_t k, uint8_t *dst) {
    const int64_t nb = q_blocks(k);
    const size_t bb = q_block_bytes(t);
    for (int64_t b = 0; b < nb; ++b) {
        uint8_t *out = dst + size_t(b) * bb;
        float v[kQBlock];
        block_values(x, k, b, v);
        const int64_t n = std::min(kQBlock, k - b * kQBlock);
        if (t == QType::Q8_0) {
            float amax = 0;
            for (float f : v) amax = std::max(amax, std::fabs(f));
            const uint16_t dh = f32_to_f16(amax / 127.0f);
            const float d = f16_to_f32(dh), id = d != 0 ? 1.0f / d : 0.0f;
            std::memcpy(out, &dh, 2);
            for (int64_t i = 0; i < kQBlock; ++i)
                out[2 + i] = uint8_t(int8_t(round_clamped(v[i] * id, -127.0f, 127.0f)));
        } else {
            float lo = v[0], hi = v[0];
            for (int64_t i = 1; i < n; ++i) {
                lo = std::min(lo, v[i]);
                hi = std::max(hi, v[i]);
            }
            float d = (hi - lo) / 15.0f, m = lo;
            size_t nib = 8;  // offset of the nibbles
            if (t == QType::Q4_1) {
                const uint16_t dh = f32_to_f16(d), mh = f32_to_f16(m);
                d = f16_to_f32(dh);
                m = f16_to_f32(mh);
                std::memcpy(out, &dh, 2);
                std::memcpy(out + 2, &mh, 2);
                nib = 4;
            } else {
                std::memcpy(out, &d, 4);
                std::memcpy(out + 4, &m, 4);
            }
            const float id = d != 0 ? 1.0f / d : 0.0f;
            uint8_t q[kQBlock];
            for (int64_t i = 0; i < kQBlock; ++i)
                q[i] = i < n ? uint8_t(round_clamped((v[i] - m) * id, 0.0f, 15.0f)) : 0;
            for (int64_t j = 0; j < 16; ++j) out[nib + j] = uint8_t(q[j] | (q[j + 16] << 4));
        }
    }
}

void dequantize_row(QType t, const uint8_t *src, int64_t k, float *dst) {
    const size_t bb = q_block_bytes(t);
    for (int64_t i = 0; i < k; ++i) {
        const uint8_t *blk = src + size_t(i / kQBlock) * bb;
        const int64_t j = i % kQBlock;
        uint16_t dh;
        std::memcpy(&dh, blk, 2);
        const float d = f16_to_f32(dh);
        if (t == QType::Q8_0) {
            dst[i] = d * float(int8_t(blk[2 + j]));
        } else if (t == QType::Q4_1F) {
            float df, mf;
            std::memcpy(&df, blk, 4);
            std::memcpy(&mf, blk + 4, 4);
            const int q = j < 16 ? blk[8 + j] & 15 : blk[8 + j - 16] >> 4;
            dst[i] = df * float(q) + mf;
        } else {
            uint16_t mh;
            std::memcpy(&mh, blk + 2, 2);
            const int q = j < 16 ? blk[4 + j] & 15 : blk[4 + j - 16] >> 4;
            dst[i] = d * float(q) + f16_to_f32(mh);
        }
    }
}

void quantize_acts_reference(const float *x, int64_t k, int8_t *q, float *d, float *s,
                             int32_t *sums) {
    const int64_t nb = q_blocks(k);
    for (int64_t b = 0; b < nb; ++b) {
        float v[kQBlock];
        block_values(x, k, b, v);
        float amax = 0;
        for (float f : v) amax = std::max(amax, std::fabs(f));
        const float db = amax / 127.0f, id = db != 0 ? 1.0f / db : 0.0f;
        int sum = 0;
        for (int64_t i = 0; i < kQBlock; ++i) {
            const int qi = int(std::clamp(std::nearbyint(v[i] * id), -127.0f, 127.0f));
            q[b * kQBlock + i] = int8_t(qi);
            sum += qi;
        }
        d[b] = db;
        s[b] = db * float(sum);
        if (sums) sums[b] = sum;
    }
}

}  // namespace hfk::kern
