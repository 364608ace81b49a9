// MLX affine quantization (mlx.core.quantize, mode "affine"; mlx-lm's nn.quantize): a quantized
// Linear or Embedding holds `weight` (uint32 [out, in * bits / 32], the codes of each row as a
// little-endian bit stream: code c of a row is bits [c * bits, (c + 1) * bits) of the row's
// words), `scales` and `biases` ([out, in / group_size], the model's float type), and
// w = scale * q + bias per group of group_size inputs. Modules mlx-lm left unquantized (their
// input size not a multiple of the group, or a per-module `false` in config.json) keep an
// ordinary `weight`; a module's own {group_size, bits} entry overrides the model's.
#include "model/message_text.h"
#include "model/prequant.h"
#include "util/error.h"

namespace hfk {

std::optional<UnpackedLinear> unpack_mlx(const PrequantConfig &cfg, WeightBinder &binder,
                                         const std::string &base, int64_t rows, int64_t cols) {
    if (!binder.has(base + ".scales")) {
        if (binder.has(base + ".biases"))
            fail(HFK_E_FORMAT, "checkpoint has " + printable(base + ".biases") + " but no " +
                                   printable(base + ".scales") +
                                   " (an MLX-quantized layer needs both)");
        return std::nullopt;  // not quantized: an ordinary weight
    }
    const TensorInfo &scales = *binder.take_raw(base + ".scales");
    const std::string module = scales.name.substr(0, scales.name.size() - 7);  // minus ".scales"
    int64_t group = cfg.group_size;
    int bits = cfg.bits;
    if (auto it = cfg.mlx_layers.find(module); it != cfg.mlx_layers.end() && it->is_object()) {
        group = it->at("group_size").get<int64_t>();
        bits = it->at("bits").get<int>();
    }
    const TensorInfo *weight = binder.take_raw(base + ".weight");
    const TensorInfo *biases = binder.take_raw(base + ".biases");
    if (!weight)
        fail(HFK_E_FORMAT, "checkpoint is missing tensor " + printable(base + ".weight") +
                               " (the packed codes of an MLX-quantized layer)");
    if (!biases)
        fail(HFK_E_FORMAT, "checkpoint is missing tensor " + printable(base + ".biases") +
                               " (an MLX-quantized layer has scales and biases)");
    const std::string why = "MLX " + std::to_string(bits) + "-bit groups of " +
                            std::to_string(group) + " for a [" + std::to_string(rows) + ", " +
                            std::to_string(cols) + "] layer";
    if (cols % group != 0)
        fail(HFK_E_FORMAT, scales.file + ": " + printable(module) + " is MLX-quantized but its " +
                               std::to_string(cols) + " inputs are not a multiple of the group " +
                               "size " + std::to_string(group));
    const int64_t words = cols * bits / 32, n_groups = cols / group;
    prequant_expect_shape(*weight, {rows, words}, why);
    prequant_expect_shape(scales, {rows, n_groups}, why);
    prequant_expect_shape(*biases, {rows, n_groups}, why);
    const std::vector<uint32_t> w = prequant_words(*weight);
    UnpackedLinear u;
    u.out = rows;
    u.in = cols;
    u.n_groups = n_groups;
    u.bits = bits;
    u.has_bias = true;
    u.sources = {weight, &scales, biases};
    u.scale = prequant_floats(scales);
    u.shift = prequant_floats(*biases);
    u.group.resize(size_t(cols));
    for (int64_t c = 0; c < cols; ++c) u.group[size_t(c)] = int32_t(c / group);
    u.q.resize(size_t(rows) * size_t(cols));
    const uint32_t mask = (1u << bits) - 1;
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
            const int64_t bit = c * bits;  // bits divides 32: a code never straddles two words
            u.q[size_t(r * cols + c)] =
                uint8_t((w[size_t(r * words + bit / 32)] >> (bit % 32)) & mask);
        }
    return u;
}

}  // namespace hfk
