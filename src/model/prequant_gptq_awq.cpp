// GPTQ and AWQ checkpoints (quantization_config.quant_method "gptq" / "awq"), both
// w = scale * (q - zero) per group of inputs.
//
// GPTQ (AutoGPTQ / optimum QuantLinear, "gptq" checkpoint format): qweight int32
// [in * bits / 32, out] packs the codes along the INPUT dimension (code of input i is bits
// [bits * (i % (32 / bits)), ...) of row i / (32 / bits)); qzeros int32 [groups, out * bits / 32]
// packs the zeros along the output dimension the same way, stored as zero - 1 (read back as
// (stored & mask) + 1, so a stored 15 is a zero of 16); scales [groups, out]; g_idx int32 [in] the
// group of each input (with desc_act the groups follow the activation order, not the input
// order); groups = ceil(in / group_size), or 1 when group_size is -1. "gptq_v2" stores the zero
// itself.
//
// AWQ (AutoAWQ WQLinear_GEMM, version "gemm"): qweight int32 [in, out / 8] packs the codes along
// the OUTPUT dimension in AWQ's interleaved order: the nibble at bits [4k, 4k + 4) of word j holds
// output 8j + order[k], order = [0, 2, 4, 6, 1, 3, 5, 7]; qzeros int32 [in / group, out / 8] in
// the same order (the zero itself); scales [in / group, out].
#include "model/message_text.h"
#include "model/prequant.h"
#include "util/error.h"

namespace hfk {

namespace {

const TensorInfo &need(WeightBinder &binder, const std::string &name, const char *method) {
    const TensorInfo *t = binder.take_raw(name);
    if (!t)
        fail(HFK_E_FORMAT, "checkpoint is missing tensor " + printable(name) + " (every " + method +
                               "-quantized layer has qweight, qzeros and scales)");
    return *t;
}

}  // namespace

std::optional<UnpackedLinear> unpack_gptq(const PrequantConfig &cfg, WeightBinder &binder,
                                          const std::string &base, int64_t rows, int64_t cols) {
    if (!binder.has(base + ".qweight")) return std::nullopt;  // not quantized
    const TensorInfo &qweight = need(binder, base + ".qweight", "GPTQ");
    const TensorInfo &qzeros = need(binder, base + ".qzeros", "GPTQ");
    const TensorInfo &scales = need(binder, base + ".scales", "GPTQ");
    const TensorInfo *g_idx = binder.take_raw(base + ".g_idx");
    const int bits = cfg.bits;
    const int64_t per_word = 32 / bits;
    const std::string why = "GPTQ " + std::to_string(bits) + "-bit for a [" + std::to_string(rows) +
                            ", " + std::to_string(cols) + "] layer";
    if (cols % per_word != 0 || rows % per_word != 0)
        fail(HFK_E_FORMAT, qweight.file + ": " + printable(base) +
                               " is GPTQ-quantized but its shape [" + std::to_string(rows) + ", " +
                               std::to_string(cols) + "] does not pack into 32-bit words of " +
                               std::to_string(bits) + "-bit codes");
    const int64_t gs = cfg.group_size < 0 ? cols : cfg.group_size;
    const int64_t n_groups = (cols + gs - 1) / gs;
    prequant_expect_shape(qweight, {cols / per_word, rows}, why);
    prequant_expect_shape(qzeros, {n_groups, rows / per_word}, why);
    prequant_expect_shape(scales, {n_groups, rows}, why);
    UnpackedLinear u;
    u.out = rows;
    u.in = cols;
    u.n_groups = n_groups;
    u.bits = bits;
    u.sources = {&qweight, &qzeros, &scales};
    if (g_idx) u.sources.push_back(g_idx);
    u.group.resize(size_t(cols));
    if (g_idx) {
        prequant_expect_shape(*g_idx, {cols}, why);
        const std::vector<uint32_t> g = prequant_words(*g_idx);
        for (int64_t c = 0; c < cols; ++c) {
            const int64_t v = int64_t(int32_t(g[size_t(c)]));
            if (v < 0 || v >= n_groups)
                fail(HFK_E_FORMAT, g_idx->file + ": tensor " + printable(g_idx->name) +
                                       " gives input " + std::to_string(c) + " the group " +
                                       std::to_string(v) + ", outside [0, " +
                                       std::to_string(n_groups) + ")");
            u.group[size_t(c)] = int32_t(v);
        }
    } else {
        for (int64_t c = 0; c < cols; ++c) u.group[size_t(c)] = int32_t(c / gs);
    }
    const std::vector<float> s = prequant_floats(scales);  // [groups][out]
    const std::vector<uint32_t> qw = prequant_words(qweight), qz = prequant_words(qzeros);
    const uint32_t mask = (1u << bits) - 1;
    u.scale.resize(size_t(rows * n_groups));
    u.shift.resize(size_t(rows * n_groups));
    for (int64_t g = 0; g < n_groups; ++g)
        for (int64_t r = 0; r < rows; ++r) {
            const uint32_t word = qz[size_t(g * (rows / per_word) + r / per_word)];
            const uint32_t z = (word >> (bits * (r % per_word))) & mask;
            u.scale[size_t(r * n_groups + g)] = s[size_t(g * rows + r)];
            u.shift[size_t(r * n_groups + g)] = float(z + (cfg.zero_plus_one ? 1 : 0));
        }
    u.q.resize(size_t(rows) * size_t(cols));
    for (int64_t c = 0; c < cols; ++c) {
        const uint32_t *row = qw.data() + size_t((c / per_word) * rows);
        const int shift = int(bits * (c % per_word));
        for (int64_t r = 0; r < rows; ++r)
            u.q[size_t(r * cols + c)] = uint8_t((row[r] >> shift) & mask);
    }
    return u;
}

std::optional<UnpackedLinear> unpack_awq(const PrequantConfig &cfg, WeightBinder &binder,
                                         const std::string &base, int64_t rows, int64_t cols) {
    if (!binder.has(base + ".qweight")) return std::nullopt;  // not quantized
    const TensorInfo &qweight = need(binder, base + ".qweight", "AWQ");
    const TensorInfo &qzeros = need(binder, base + ".qzeros", "AWQ");
    const TensorInfo &scales = need(binder, base + ".scales", "AWQ");
    const int64_t gs = cfg.group_size;
    const std::string why = "AWQ 4-bit groups of " + std::to_string(gs) + " for a [" +
                            std::to_string(rows) + ", " + std::to_string(cols) + "] layer";
    if (rows % 8 != 0 || cols % gs != 0)
        fail(HFK_E_FORMAT, qweight.file + ": " + printable(base) +
                               " is AWQ-quantized but its shape [" + std::to_string(rows) + ", " +
                               std::to_string(cols) +
                               "] has outputs not a multiple of 8 or inputs not a multiple of " +
                               "the group size " + std::to_string(gs));
    const int64_t n_groups = cols / gs, words = rows / 8;
    prequant_expect_shape(qweight, {cols, words}, why);
    prequant_expect_shape(qzeros, {n_groups, words}, why);
    prequant_expect_shape(scales, {n_groups, rows}, why);
    // The nibble position of output 8j + k: the inverse of AWQ's order [0, 2, 4, 6, 1, 3, 5, 7].
    constexpr int kNibbleOf[8] = {0, 4, 1, 5, 2, 6, 3, 7};
    auto code = [&](const std::vector<uint32_t> &w, int64_t row, int64_t out) {
        return uint8_t((w[size_t(row * words + out / 8)] >> (4 * kNibbleOf[out % 8])) & 15u);
    };
    const std::vector<float> s = prequant_floats(scales);
    const std::vector<uint32_t> qw = prequant_words(qweight), qz = prequant_words(qzeros);
    UnpackedLinear u;
    u.out = rows;
    u.in = cols;
    u.n_groups = n_groups;
    u.bits = 4;
    u.sources = {&qweight, &qzeros, &scales};
    u.group.resize(size_t(cols));
    for (int64_t c = 0; c < cols; ++c) u.group[size_t(c)] = int32_t(c / gs);
    u.scale.resize(size_t(rows * n_groups));
    u.shift.resize(size_t(rows * n_groups));
    for (int64_t g = 0; g < n_groups; ++g)
        for (int64_t r = 0; r < rows; ++r) {
            u.scale[size_t(r * n_groups + g)] = s[size_t(g * rows + r)];
            u.shift[size_t(r * n_groups + g)] = float(code(qz, g, r));
        }
    u.q.resize(size_t(rows) * size_t(cols));
    for (int64_t c = 0; c < cols; ++c)
        for (int64_t r = 0; r < rows; ++r) u.q[size_t(r * cols + c)] = code(qw, c, r);
    return u;
}

}  // namespace hfk
