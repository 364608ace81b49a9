// Pre-quantized checkpoints as published on the Hub, loaded as they are (issue 18): MLX affine
// quantization (config.json "quantization"), GPTQ and AWQ ("quantization_config.quant_method").
//
// Each format's packed tensors are first unpacked into one neutral form (UnpackedLinear: integer
// codes, a group per input column, a scale and a bias or an integer zero per output and group),
// then turned into what the kernels take (prequant_matrix):
//   - as stored (WeightFormat::Auto): 4-bit codes whose groups cover whole blocks of 32 inputs
//     become Q4_1 blocks (d = scale, m = bias or -scale * zero) when every d and m is exact in
//     F16, else Q4_1F blocks (F32 d and m, always exact for these formats). Dequantizing them gives
//     the format's weights bit for bit. Anything else (8 or 2 bits, GPTQ act-order groups that
//     cross blocks, groups smaller than 32) is dequantized to F16 (BF16 if a value exceeds F16's
//     range): rounded, so not exact; it never keeps an F32 copy.
//   - F32 / BF16: the format's weights, computed in F32 (then rounded to BF16).
//   - Q8 / Q4: those weights requantized to Q8_0 / Q4_1 (the embedding too unless
//     quantize_embeddings is false: then it stays as stored, as for unquantized checkpoints).
// The weights are defined as each format's reference dequantization computes them in F32:
//   MLX:  w = scale * q + bias        (two roundings: the product, then the sum)
//   GPTQ: w = scale * (q - zero)      (exact in F32), zero = stored + 1 for AutoGPTQ's format
//   AWQ:  w = scale * (q - zero)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/matmul.h"
#include "model/model.h"
#include "model/weight_arena.h"
#include "model/weights.h"

namespace hfk {

struct PrequantConfig {
    enum class Method { Mlx, Gptq, Awq };
    Method method = Method::Mlx;
    int bits = 4;
    int64_t group_size = 64;       // -1: one group per row (GPTQ)
    bool zero_plus_one = true;     // GPTQ "gptq" (v1) checkpoints store zero - 1; "gptq_v2" do not
    nlohmann::json mlx_layers;     // MLX per-module entries: path -> false or {group_size, bits}
    std::string describe() const;  // "MLX affine 4-bit, groups of 64"
};

// nullptr when config.json has neither "quantization_config" nor MLX's "quantization".
// HFK_E_UNSUPPORTED naming the method for any other method (bitsandbytes, fp8, eetq, hqq, ...),
// for MLX modes other than affine, and for bit widths the loaders do not unpack; HFK_E_FORMAT
// for a malformed block.
std::shared_ptr<const PrequantConfig> prequant_config(const nlohmann::json &raw);

// A quantized linear layer [out, in], unpacked.
struct UnpackedLinear {
    int64_t out = 0, in = 0, n_groups = 0;
    int bits = 4;
    bool has_bias = false;       // MLX: w = scale * q + bias; GPTQ/AWQ: w = scale * (q - zero)
    std::vector<uint8_t> q;      // [out][in]
    std::vector<int32_t> group;  // [in]: the group of each input column
    std::vector<float> scale;    // [out][n_groups]
    std::vector<float> shift;    // [out][n_groups]: the bias (MLX) or the zero (GPTQ/AWQ)
    std::vector<const TensorInfo *> sources;  // the packed tensors read (their pages can go)
    float value(int64_t r, int64_t c) const {
        const size_t g = size_t(r) * size_t(n_groups) + size_t(group[size_t(c)]);
        const float s = scale[g], q_ = float(q[size_t(r) * size_t(in) + size_t(c)]);
        if (has_bias) {
            const float p = s * q_;  // rounded, then the bias added: MLX's two operations
            return p + shift[g];
        }
        return s * (q_ - shift[g]);  // exact: an F16 times an integer below 2^9
    }
};

// The unpackers, one per format (prequant_mlx.cpp, prequant_gptq_awq.cpp). `base` is the layer
// name without ".weight" (e.g. "model.layers.0.self_attn.q_proj"); rows x cols the shape the
// architecture expects ([out, in]). nullopt when the layer is not quantized in this checkpoint
// (it is then bound as an ordinary tensor). Malformed tensors: HFK_E_FORMAT naming the tensor.
std::optional<UnpackedLinear> unpack_mlx(const PrequantConfig &cfg, WeightBinder &binder,
                                         const std::string &base, int64_t rows, int64_t cols);
std::optional<UnpackedLinear> unpack_gptq(const PrequantConfig &cfg, WeightBinder &binder,
                                          const std::string &base, int64_t rows, int64_t cols);
std::optional<UnpackedLinear> unpack_awq(const PrequantConfig &cfg, WeightBinder &binder,
                                         const std::string &base, int64_t rows, int64_t cols);
std::optional<UnpackedLinear> unpack_prequant(const PrequantConfig &cfg, WeightBinder &binder,
                                              const std::string &base, int64_t rows, int64_t cols);

// The matrix the kernels take, in memory of `arena` (its bytes added to
// `bytes`). `requantize`: the caller asked for Q8/Q4 for this matrix.
kern::Mat prequant_matrix(const UnpackedLinear &u, WeightFormat format, bool requantize,
                          WeightArena &arena, uint64_t &bytes);

// Scale/bias tensors as F32 (F16, BF16 or F32 stored; HFK_E_FORMAT otherwise).
std::vector<float> prequant_floats(const TensorInfo &t);
// Little-endian 32-bit words of an I32/U32 tensor (HFK_E_FORMAT for another dtype).
std::vector<uint32_t> prequant_words(const TensorInfo &t);
// HFK_E_FORMAT "<file>: tensor X has shape [..] but ... expects [..]".
void prequant_expect_shape(const TensorInfo &t, const std::vector<int64_t> &shape,
                           const std::string &why);

}  // namespace hfk
