// Pre-quantized checkpoints (prequant.h): which method config.json names, and the matrix the
// kernels take from an unpacked layer.
#include "model/prequant.h"

#include <cmath>
#include <cstring>

#include "kernels/quant.h"
#include "kernels/simd.h"
#include "model/message_text.h"
#include "util/error.h"

namespace hfk {

namespace {

const char *kHint =
    "; hfkit loads F32, F16 and BF16 checkpoints, MLX affine (2, 4, 8 bits), GPTQ (2, 4, 8 bits) "
    "and AWQ (4-bit GEMM) checkpoints, and can quantize F32/F16/BF16 itself at load (q8, q4)";

[[noreturn]] void unsupported(const std::string &what) {
    fail(HFK_E_UNSUPPORTED, "unsupported model: the checkpoint is pre-quantized with " + what +
                                " (config.json): such checkpoints are not supported" + kHint);
}

[[noreturn]] void bad_block(const std::string &block, const std::string &what) {
    fail(HFK_E_FORMAT, "config.json: \"" + block + "\" " + what);
}

// An integer field: absent -> fallback (or HFK_E_FORMAT when required).
int64_t int_field(const nlohmann::json &o, const char *key, const std::string &block,
                  std::optional<int64_t> fallback) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) {
        if (fallback) return *fallback;
        bad_block(block, std::string("has no integer field \"") + key + "\"");
    }
    if (!it->is_number_integer())
        bad_block(block, std::string("field \"") + key + "\" is not an integer");
    return it->get<int64_t>();
}

bool bool_field(const nlohmann::json &o, const char *key, const std::string &block, bool fallback) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) bad_block(block, std::string("field \"") + key + "\" is not a boolean");
    return it->get<bool>();
}

std::string string_field(const nlohmann::json &o, const char *key, const std::string &block) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return "";
    if (!it->is_string()) bad_block(block, std::string("field \"") + key + "\" is not a string");
    return it->get<std::string>();
}

std::string lower(std::string s) {
    for (char &c : s)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return s;
}

// MLX's group size and bits, of the whole model or of one module.
void check_mlx_params(int64_t group, int64_t bits, const std::string &where) {
    if (group != 32 && group != 64 && group != 128)
        bad_block(where, "has group_size " + std::to_string(group) + " (MLX uses 32, 64, 128)");
    if (bits != 2 && bits != 4 && bits != 8) {
        if (bits >= 1 && bits <= 8)
            unsupported("MLX affine " + std::to_string(bits) + "-bit quantization");
        bad_block(where, "has bits " + std::to_string(bits));
    }
}

std::shared_ptr<const PrequantConfig> mlx_config(const nlohmann::json &q) {
    const std::string block = "quantization";
    const std::string mode = string_field(q, "mode", block);
    if (!mode.empty() && mode != "affine")
        unsupported("MLX " + printable(mode) + " quantization (only \"affine\" is loaded)");
    auto c = std::make_shared<PrequantConfig>();
    c->method = PrequantConfig::Method::Mlx;
    c->group_size = int_field(q, "group_size", block, std::nullopt);
    const int64_t bits = int_field(q, "bits", block, std::nullopt);
    check_mlx_params(c->group_size, bits, block);
    c->bits = int(bits);
    c->mlx_layers = nlohmann::json::object();
    for (auto it = q.begin(); it != q.end(); ++it) {
        if (it.key() == "group_size" || it.key() == "bits" || it.key() == "mode") continue;
        if (it->is_boolean()) {
            c->mlx_layers[it.key()] = *it;
        } else if (it->is_object()) {
            const std::string where = block + "." + printable(it.key(), 100);
            const std::string m = string_field(*it, "mode", where);
            if (!m.empty() && m != "affine")
                unsupported("MLX " + printable(m) + " quantization (module " +
                            printable(it.key(), 100) + ")");
            const int64_t g = int_field(*it, "group_size", where, c->group_size);
            const int64_t b = int_field(*it, "bits", where, c->bits);
            check_mlx_params(g, b, where);
            c->mlx_layers[it.key()] = {{"group_size", g}, {"bits", b}};
        }
        // Anything else (a future scalar setting) does not describe a module: ignored.
    }
    return c;
}

std::shared_ptr<const PrequantConfig> gptq_config(const nlohmann::json &q) {
    const std::string block = "quantization_config";
    auto c = std::make_shared<PrequantConfig>();
    c->method = PrequantConfig::Method::Gptq;
    const int64_t bits = int_field(q, "bits", block, std::nullopt);
    if (bits != 2 && bits != 4 && bits != 8) {
        if (bits == 3) unsupported("GPTQ 3-bit quantization");
        bad_block(block, "has bits " + std::to_string(bits));
    }
    c->bits = int(bits);
    c->group_size = int_field(q, "group_size", block, -1);
    if (c->group_size != -1 && (c->group_size < 1 || c->group_size > (int64_t(1) << 30)))
        bad_block(block, "has group_size " + std::to_string(c->group_size));
    bool_field(q, "desc_act", block, false);  // checked: the groups come from g_idx itself
    bool_field(q, "sym", block, true);        // the zeros are stored either way
    const std::string fmt = lower(string_field(q, "checkpoint_format", block));
    if (fmt.empty() || fmt == "gptq")
        c->zero_plus_one = true;
    else if (fmt == "gptq_v2")
        c->zero_plus_one = false;
    else
        unsupported("GPTQ in the " + printable(fmt) + " checkpoint format");
    return c;
}

std::shared_ptr<const PrequantConfig> awq_config(const nlohmann::json &q) {
    const std::string block = "quantization_config";
    auto c = std::make_shared<PrequantConfig>();
    c->method = PrequantConfig::Method::Awq;
    const int64_t bits = int_field(q, "bits", block, std::nullopt);
    if (bits != 4) unsupported("AWQ " + std::to_string(bits) + "-bit quantization");
    c->bits = 4;
    c->group_size = int_field(q, "group_size", block, std::nullopt);
    if (c->group_size < 1 || c->group_size > (int64_t(1) << 30))
        bad_block(block, "has group_size " + std::to_string(c->group_size));
    const std::string version = lower(string_field(q, "version", block));
    if (!version.empty() && version != "gemm")
        unsupported("AWQ version " + printable(version) + " (only \"gemm\" is loaded)");
    if (!bool_field(q, "zero_point", block, true))
        unsupported("AWQ without zero points (zero_point false)");
    return c;
}

uint16_t f32_to_bf16(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet NaN
    return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);                 // nearest even
}

bool exact_in_f16(float x) {
    return kern::f16_to_f32(kern::f32_to_f16(x)) == x;
}

// Every block of 32 inputs lies in one group (groups are runs of whole blocks).
bool groups_cover_blocks(const UnpackedLinear &u) {
    for (int64_t c = 0; c < u.in; ++c)
        if (u.group[size_t(c)] != u.group[size_t(c - c % kern::kQBlock)]) return false;
    return true;
}

}  // namespace

std::string PrequantConfig::describe() const {
    const std::string groups =
        group_size < 0 ? "one group per row" : "groups of " + std::to_string(group_size);
    switch (method) {
        case Method::Mlx:
            return "MLX affine " + std::to_string(bits) + "-bit, " + groups;
        case Method::Gptq:
            return "GPTQ " + std::to_string(bits) + "-bit, " + groups;
        case Method::Awq:
            return "AWQ " + std::to_string(bits) + "-bit, " + groups;
    }
    return "?";
}

std::shared_ptr<const PrequantConfig> prequant_config(const nlohmann::json &raw) {
    if (!raw.is_object()) return nullptr;
    auto qc = raw.find("quantization_config");
    auto mlx = raw.find("quantization");
    const bool has_qc = qc != raw.end() && !qc->is_null();
    std::string method;
    if (has_qc && qc->is_object())
        if (auto m = qc->find("quant_method"); m != qc->end() && m->is_string())
            method = m->get<std::string>();
    if (method.empty() && mlx != raw.end() && mlx->is_object()) return mlx_config(*mlx);
    if (!has_qc) return nullptr;
    const std::string m = lower(method);
    if (m == "gptq") return gptq_config(*qc);
    if (m == "awq") return awq_config(*qc);
    if (method.empty() && qc->is_object() &&
        (qc->contains("load_in_4bit") || qc->contains("load_in_8bit")))
        method = "bitsandbytes";
    unsupported(method.empty() ? std::string("an unnamed method (\"quantization_config\")")
                               : printable(method) + " (\"quantization_config.quant_method\")");
}

std::optional<UnpackedLinear> unpack_prequant(const PrequantConfig &cfg, WeightBinder &binder,
                                              const std::string &base, int64_t rows, int64_t cols) {
    switch (cfg.method) {
        case PrequantConfig::Method::Mlx:
            return unpack_mlx(cfg, binder, base, rows, cols);
        case PrequantConfig::Method::Gptq:
            return unpack_gptq(cfg, binder, base, rows, cols);
        case PrequantConfig::Method::Awq:
            return unpack_awq(cfg, binder, base, rows, cols);
    }
    return std::nullopt;
}

std::vector<float> prequant_floats(const TensorInfo &t) {
    if (t.dtype != DType::F32 && t.dtype != DType::F16 && t.dtype != DType::BF16)
        fail(HFK_E_FORMAT, t.file + ": tensor " + printable(t.name) + " has dtype " +
                               dtype_name(t.dtype) + "; scales and biases are F16, BF16 or F32");
    const size_t n = size_t(t.numel());
    std::vector<float> out(n);
    for (size_t i = 0; i < n; ++i) {
        if (t.dtype == DType::F32) {
            std::memcpy(&out[i], t.data + i * 4, 4);
        } else {
            uint16_t h;
            std::memcpy(&h, t.data + i * 2, 2);
            out[i] = t.dtype == DType::F16 ? kern::f16_to_f32(h) : kern::bf16_to_f32(h);
        }
        if (!std::isfinite(out[i]))
            fail(HFK_E_FORMAT, t.file + ": tensor " + printable(t.name) +
                                   " holds a non-finite value at index " + std::to_string(i));
    }
    return out;
}

std::vector<uint32_t> prequant_words(const TensorInfo &t) {
    if (t.dtype != DType::I32 && t.dtype != DType::U32)
        fail(HFK_E_FORMAT, t.file + ": tensor " + printable(t.name) + " has dtype " +
                               dtype_name(t.dtype) + "; packed weights are I32 or U32");
    std::vector<uint32_t> out(size_t(t.numel()));
    if (!out.empty()) std::memcpy(out.data(), t.data, out.size() * 4);  // little-endian host
    return out;
}

void prequant_expect_shape(const TensorInfo &t, const std::vector<int64_t> &shape,
                           const std::string &why) {
    if (t.shape != shape)
        fail(HFK_E_FORMAT, t.file + ": tensor " + printable(t.name) + " has shape " +
                               shape_string(t.shape) + " but " + why + " needs " +
                               shape_string(shape));
}

kern::Mat prequant_matrix(const UnpackedLinear &u, WeightFormat format, bool requantize,
                          WeightArena &arena, uint64_t &bytes) {
    kern::Mat m{DType::F32, nullptr, u.out, u.in};
    std::vector<float> row(size_t(u.in));
    auto values = [&](int64_t r) {
        for (int64_t c = 0; c < u.in; ++c) row[size_t(c)] = u.value(r, c);
    };
    uint8_t *out = nullptr;
    size_t size = 0;
    const bool as_stored =
        !requantize && format != WeightFormat::F32 && format != WeightFormat::BF16;
    if (requantize || (as_stored && u.bits == 4 && groups_cover_blocks(u))) {
        kern::QType t = format == WeightFormat::Q8 ? kern::QType::Q8_0 : kern::QType::Q4_1;
        if (!requantize) {  // the codes as they are; F16 scales when that is exact
            t = kern::QType::Q4_1;
            for (int64_t r = 0; r < u.out && t == kern::QType::Q4_1; ++r)
                for (int64_t g = 0; g < u.n_groups; ++g) {
                    const size_t i = size_t(r * u.n_groups + g);
                    const float d = u.scale[i], mn = u.has_bias ? u.shift[i] : -(d * u.shift[i]);
                    if (!exact_in_f16(d) || !exact_in_f16(mn)) {
                        t = kern::QType::Q4_1F;
                        break;
                    }
                }
        }
        m.quant = t;
        m.qlayout = kern::Layout::OutIn;
        const size_t rb = kern::q_row_bytes(t, u.in), bb = kern::q_block_bytes(t);
        size = rb * size_t(u.out);
        out = arena.alloc(size);
        for (int64_t r = 0; r < u.out; ++r) {
            uint8_t *dst = out + size_t(r) * rb;
            if (requantize) {
                values(r);
                kern::quantize_row(t, row.data(), u.in, dst);
                continue;
            }
            for (int64_t b = 0; b < kern::q_blocks(u.in); ++b) {
                uint8_t *blk = dst + size_t(b) * bb;
                const int64_t c0 = b * kern::kQBlock;
                const size_t gi = size_t(r * u.n_groups + u.group[size_t(c0)]);
                const float d = u.scale[gi], mn = u.has_bias ? u.shift[gi] : -(d * u.shift[gi]);
                size_t nib = 8;
                if (t == kern::QType::Q4_1) {
                    const uint16_t dh = kern::f32_to_f16(d), mh = kern::f32_to_f16(mn);
                    std::memcpy(blk, &dh, 2);
                    std::memcpy(blk + 2, &mh, 2);
                    nib = 4;
                } else {
                    std::memcpy(blk, &d, 4);
                    std::memcpy(blk + 4, &mn, 4);
                }
                auto code = [&](int64_t c) -> uint8_t {
                    return c < u.in ? u.q[size_t(r * u.in + c)] : 0;
                };
                for (int64_t j = 0; j < 16; ++j)
                    blk[nib + size_t(j)] = uint8_t(code(c0 + j) | (code(c0 + j + 16) << 4));
            }
        }
    } else {
        // F32 asked for, BF16 asked for, or codes that Q4 blocks cannot hold: F16 (BF16 if a
        // value exceeds F16's range).
        DType to = format == WeightFormat::F32 ? DType::F32 : DType::BF16;
        if (as_stored) {
            to = DType::F16;
            for (int64_t r = 0; r < u.out && to == DType::F16; ++r) {
                values(r);
                for (float v : row)
                    if (std::fabs(v) > 65504.0f) to = DType::BF16;
            }
        }
        m.dtype = to;
        const size_t es = compute_elem_size(to);
        size = size_t(u.out) * size_t(u.in) * es;
        out = arena.alloc(size);
        for (int64_t r = 0; r < u.out; ++r) {
            values(r);
            uint8_t *dst = out + size_t(r) * size_t(u.in) * es;
            for (int64_t c = 0; c < u.in; ++c) {
                const float v = row[size_t(c)];
                if (to == DType::F32) {
                    std::memcpy(dst + c * 4, &v, 4);
                } else {
                    const uint16_t h = to == DType::F16 ? kern::f32_to_f16(v) : f32_to_bf16(v);
                    std::memcpy(dst + c * 2, &h, 2);
                }
            }
        }
    }
    bytes += size;
    m.data = out;
    return m;
}

}  // namespace hfk
