// inspect_model: config + safetensors headers -> parameters, bytes, KV cache, fit. The formulas
// are written out in inspect.h.
#include "inspect/inspect.h"

#include <algorithm>
#include <cstring>
#include <set>
#include <system_error>

#include <nlohmann/json.hpp>

#include "inspect/family.h"
#include "inspect/machine.h"
#include "inspect/model_files.h"
#include "inspect/weight_headers.h"
#include "model/prequant.h"
#include "util/error.h"

namespace hfk {

namespace fs = std::filesystem;
using inspect::ModelFiles;

namespace {

constexpr uint64_t kFixedOverhead = 32ull << 20;

bool ends_with(const std::string &s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Saved tensors that are not parameters: GPT-2's causal mask and its masked_bias (old exports),
// rotary inverse frequencies, BERT's position_ids. transformers' num_parameters() skips them.
bool is_buffer(const TensorInfo &t) {
    return ends_with(t.name, ".attn.masked_bias") ||
           (ends_with(t.name, ".attn.bias") && t.shape.size() == 4) ||
           ends_with(t.name, "rotary_emb.inv_freq") || ends_with(t.name, "embeddings.position_ids");
}

bool is_input_embedding(const std::string &n) {
    return ends_with(n, "embed_tokens.weight") || ends_with(n, "wte.weight") ||
           ends_with(n, "word_embeddings.weight") || ends_with(n, "tok_embeddings.weight");
}

// Checked a * b (+ c); sizes here come from untrusted configs and headers.
uint64_t mul(uint64_t a, uint64_t b, const char *what) {
    uint64_t r;
    if (__builtin_mul_overflow(a, b, &r)) fail(HFK_E_FORMAT, std::string(what) + " overflows");
    return r;
}
uint64_t add(uint64_t a, uint64_t b, const char *what) {
    uint64_t r;
    if (__builtin_add_overflow(a, b, &r)) fail(HFK_E_FORMAT, std::string(what) + " overflows");
    return r;
}

// Bytes per element of a torch_dtype, 0 when unknown.
uint64_t torch_dtype_bytes(const std::string &d) {
    if (d == "float32") return 4;
    if (d == "float16" || d == "bfloat16") return 2;
    return 0;
}
std::string torch_dtype_as_safetensors(const std::string &d) {
    if (d == "float32") return "F32";
    if (d == "float16") return "F16";
    if (d == "bfloat16") return "BF16";
    return d;
}

void check_options(const InspectOptions &o) {
    if (o.context_length < 0 || o.context_length > (int64_t(1) << 32))
        fail(HFK_E_INVALID_ARG,
             "context_length must be in [0, 2^32] (0 = the model's maximum), found " +
                 std::to_string(o.context_length));
    if (o.batch < 1 || o.batch > (1 << 20))
        fail(HFK_E_INVALID_ARG, "batch must be in [1, 1048576], found " + std::to_string(o.batch));
    if (o.kv_bytes_per_element != 1 && o.kv_bytes_per_element != 2 && o.kv_bytes_per_element != 4)
        fail(HFK_E_INVALID_ARG, "kv_bytes_per_element must be 1, 2 or 4, found " +
                                    std::to_string(o.kv_bytes_per_element));
}

// A pre-quantized checkpoint's tensors (model/prequant.h) in parameters: packed codes count the
// weights they hold (32 / bits per 32-bit word), scales, biases, zeros and g_idx none (they are
// the quantization's overhead, in stored_weight_bytes). Returns the count, or numel for an
// ordinary tensor.
uint64_t prequant_parameters(const TensorInfo &t, const PrequantConfig *q,
                             const std::set<std::string> &mlx_scaled) {
    const uint64_t n = uint64_t(t.numel());
    if (!q) return n;
    const bool packed = t.dtype == DType::I32 || t.dtype == DType::U32;
    if (q->method == PrequantConfig::Method::Mlx) {
        for (const char *suffix : {".weight", ".scales", ".biases"}) {
            if (!ends_with(t.name, suffix)) continue;
            const std::string base = t.name.substr(0, t.name.size() - std::strlen(suffix));
            if (!mlx_scaled.count(base)) return n;  // an unquantized module's own parameters
            if (std::strcmp(suffix, ".weight") != 0) return 0;
            int bits = q->bits;
            if (auto it = q->mlx_layers.find(base); it != q->mlx_layers.end() && it->is_object())
                bits = it->at("bits").get<int>();
            return packed ? n * uint64_t(32 / bits) : n;
        }
        return n;
    }
    if (ends_with(t.name, ".qweight") && packed) return n * uint64_t(32 / q->bits);
    if (ends_with(t.name, ".qzeros") || ends_with(t.name, ".g_idx")) return 0;
    if (ends_with(t.name, ".scales")) return 0;
    return n;
}

// What a tensor of a pre-quantized checkpoint holds once loaded as stored (model/prequant.h):
// 4-bit codes whose groups cover blocks of 32 become Q4_1 or Q4_1F blocks (20 or 24 bytes per 32
// weights, which one depends on the scale values: the larger is counted), other codes F16
// (2 bytes per weight); scales, biases, zeros and g_idx are consumed; 1-D tensors become F32;
// anything else is mapped as stored. `act_order`: GPTQ desc_act (groups that cross blocks).
uint64_t prequant_resident_bytes(const TensorInfo &t, const PrequantConfig &q,
                                 const std::set<std::string> &mlx_scaled, bool act_order) {
    if (t.shape.size() == 1) return uint64_t(t.numel()) * 4;
    const bool packed = t.dtype == DType::I32 || t.dtype == DType::U32;
    int bits = q.bits;
    int64_t group = q.group_size;
    int64_t rows = 0, cols = 0;  // the layer's [out, in]
    if (q.method == PrequantConfig::Method::Mlx) {
        for (const char *suffix : {".scales", ".biases"})
            if (ends_with(t.name, suffix) &&
                mlx_scaled.count(t.name.substr(0, t.name.size() - std::strlen(suffix))))
                return 0;
        if (!ends_with(t.name, ".weight") || !packed || t.shape.size() != 2) return t.nbytes;
        const std::string base = t.name.substr(0, t.name.size() - 7);
        if (!mlx_scaled.count(base)) return t.nbytes;
        if (auto it = q.mlx_layers.find(base); it != q.mlx_layers.end() && it->is_object()) {
            bits = it->value("bits", bits);
            group = it->value("group_size", group);
        }
        rows = t.shape[0];
        cols = t.shape[1] * (32 / bits);
    } else {
        if (ends_with(t.name, ".qzeros") || ends_with(t.name, ".g_idx") ||
            ends_with(t.name, ".scales"))
            return 0;
        if (!ends_with(t.name, ".qweight") || !packed || t.shape.size() != 2) return t.nbytes;
        if (q.method == PrequantConfig::Method::Gptq) {  // [in * bits / 32, out]
            rows = t.shape[1];
            cols = t.shape[0] * (32 / bits);
        } else {  // AWQ: [in, out * bits / 32]
            rows = t.shape[1] * (32 / bits);
            cols = t.shape[0];
        }
    }
    const bool blocks = bits == 4 && !act_order && (group < 0 || group % 32 == 0);
    if (blocks) return uint64_t(rows) * uint64_t((cols + 31) / 32) * 24;
    return uint64_t(rows) * uint64_t(cols) * 2;
}

// The parameter count and dtypes from the headers.
void from_headers(const inspect::WeightHeaders &h, const ModelConfig &cfg, Inspection &r) {
    std::shared_ptr<const PrequantConfig> q;
    try {
        q = prequant_config(cfg.raw);
    } catch (const Error &) {  // refused: supported_for_inference says why
    }
    std::set<std::string> mlx_scaled;  // MLX modules with scales: quantized
    if (q)
        for (const TensorInfo &t : h.tensors)
            if (ends_with(t.name, ".scales"))
                mlx_scaled.insert(t.name.substr(0, t.name.size() - 7));
    if (q)
        r.notes.push_back("pre-quantized (" + q->describe() +
                          "): parameters count the packed weights; resident_weight_bytes is what "
                          "loading it as stored holds (4-bit blocks counted with F32 scales)");
    const TensorInfo *embedding = nullptr;
    for (const TensorInfo &t : h.tensors)
        if (!is_buffer(t) && is_input_embedding(t.name)) embedding = &t;
    uint64_t total = 0;
    bool act_order = false;
    if (q && q->method == PrequantConfig::Method::Gptq)
        if (auto it = cfg.raw.find("quantization_config"); it != cfg.raw.end() && it->is_object())
            act_order = it->value("desc_act", false) == true;
    uint64_t resident = 0;
    for (const TensorInfo &t : h.tensors) {
        if (q)
            resident = add(resident, prequant_resident_bytes(t, *q, mlx_scaled, act_order),
                           "the resident size");
        if (is_buffer(t)) continue;
        // A tied checkpoint that stores its LM head anyway holds one parameter twice.
        if (ends_with(t.name, "lm_head.weight") && tied_embeddings(cfg) && embedding &&
            embedding->shape == t.shape)
            continue;
        const uint64_t n = prequant_parameters(t, q.get(), mlx_scaled);
        if (n == 0) continue;
        total = add(total, n, "the parameter count");
        r.parameters_by_dtype[dtype_name(t.dtype)] += n;
    }
    r.parameters = total;
    r.parameters_exact = true;
    r.parameters_source = "safetensors_headers";
    uint64_t best = 0;
    for (const auto &[name, n] : r.parameters_by_dtype)
        if (n > best || r.stored_dtype.empty()) best = n, r.stored_dtype = name;
    if (r.parameters_by_dtype.size() > 1) r.notes.push_back("the checkpoint mixes dtypes");
    r.stored_weight_bytes = h.file_bytes;
    r.resident_weight_bytes = q ? resident : h.file_bytes;
    r.weight_files = h.files;
}

// `weights_expected`: a directory or Hub repo (a model), not a bare config.json, whose weights
// are not part of the question.
Inspection inspect_files(const std::string &what, ModelFiles &files, const std::string &config_text,
                         const std::string &config_name, const InspectOptions &opts,
                         bool weights_expected) {
    Inspection r;
    r.source = what;
    const ModelConfig cfg = parse_config(config_text, config_name);
    r.model_type = cfg.model_type;
    r.architecture = cfg.architectures.empty() ? std::string() : cfg.architectures.front();
    r.multimodal = cfg.multimodal;
    try {
        check_supported_for_inference(cfg);
        r.supported_for_inference = true;
    } catch (const Error &e) {
        r.unsupported_reason = e.what();
    }
    r.vocab_size = cfg.vocab_size;
    r.context_length = cfg.max_position_embeddings;
    r.layers = cfg.num_layers;
    r.heads = cfg.num_heads;
    r.kv_heads = cfg.num_kv_heads;
    r.head_dim = cfg.head_dim;
    r.hidden_size = cfg.hidden_size;
    r.intermediate_size = cfg.intermediate_size;
    r.num_experts = cfg.num_experts;
    r.experts_per_token = cfg.num_experts_per_tok;
    r.tied_embeddings = tied_embeddings(cfg);

    uint64_t active_from_config = 0;
    const uint64_t from_config = count_parameters_from_config(cfg, &active_from_config);
    const inspect::WeightHeaders headers = inspect::read_weight_headers(files);
    if (weights_expected && headers.files.empty() && r.supported_for_inference) {
        // Without safetensors weights nothing can run, whatever the config says: the same
        // reason prepare and the loader give (pickle-only, or no weights at all).
        const std::string why = hub::missing_weights_reason(files.list(), nullptr);
        if (!why.empty()) {
            r.supported_for_inference = false;
            r.unsupported_reason = why;
        }
    }
    if (!headers.files.empty()) {
        from_headers(headers, cfg, r);
        // MoE: the experts a token does not visit, from the config, off the exact total.
        const uint64_t idle = from_config - active_from_config;
        r.active_parameters =
            from_config > 0 && idle < r.parameters ? r.parameters - idle : r.parameters;
        if (from_config > 0 && from_config != r.parameters)
            r.notes.push_back("the config formula gives " + std::to_string(from_config) +
                              " parameters; the checkpoint holds other heads or layers");
    } else {
        r.parameters = from_config;
        r.active_parameters = active_from_config;
        r.parameters_source = from_config > 0 ? parameter_count_method(cfg) : "unknown";
        r.stored_dtype = torch_dtype_as_safetensors(cfg.torch_dtype);
        uint64_t bpe = torch_dtype_bytes(cfg.torch_dtype);
        if (bpe == 0) {
            bpe = 4;
            r.notes.push_back("no safetensors headers and no known torch_dtype: F32 assumed");
        } else {
            r.notes.push_back("no safetensors headers: the size is estimated from torch_dtype");
        }
        r.stored_weight_bytes = mul(r.parameters, bpe, "the weight size");
        r.resident_weight_bytes = r.stored_weight_bytes;
        if (cfg.multimodal && from_config > 0)
            r.notes.push_back("the parameter count is the language model's only");
        if (from_config == 0) r.notes.push_back("the config lacks the sizes to count parameters");
    }

    const uint64_t p = r.parameters;  // <= 2^50 (config) or a sum of header shapes (< 2^64)
    r.weight_bytes.f32 = mul(p, 4, "the F32 size");
    r.weight_bytes.f16 = mul(p, 2, "the F16 size");
    const uint64_t blocks = p / 32 + (p % 32 != 0);
    r.weight_bytes.q8 = mul(blocks, 34, "the Q8_0 size");
    r.weight_bytes.q4 = mul(blocks, 18, "the Q4_0 size");
    r.weight_bytes.q4_1 = mul(blocks, 20, "the Q4_1 size");

    // KV cache.
    r.kv_bytes_per_element = opts.kv_bytes_per_element;
    r.batch = opts.batch;
    r.kv_context_length =
        opts.context_length > 0 ? opts.context_length : cfg.max_position_embeddings;
    if (opts.context_length > 0 && cfg.max_position_embeddings > 0 &&
        opts.context_length > cfg.max_position_embeddings)
        r.notes.push_back("the requested context is longer than the model's maximum of " +
                          std::to_string(cfg.max_position_embeddings));
    if (encoder_only(cfg)) {
        r.notes.push_back("an encoder: no KV cache");
    } else {
        if (cfg.num_layers > 0 && cfg.num_kv_heads > 0 && cfg.head_dim > 0)
            r.kv_bytes_per_token =
                mul(mul(mul(2 * uint64_t(cfg.num_layers), uint64_t(cfg.num_kv_heads), "KV size"),
                        uint64_t(cfg.head_dim), "KV size"),
                    uint64_t(opts.kv_bytes_per_element), "KV size");
        r.kv_bytes_total = mul(mul(r.kv_bytes_per_token, uint64_t(r.kv_context_length), "KV size"),
                               uint64_t(opts.batch), "KV size");
        r.notes.push_back(opts.kv_bytes_per_element == 2
                              ? "KV cache counted at 2 bytes per element (f16)"
                              : "KV cache counted at " + std::to_string(opts.kv_bytes_per_element) +
                                    " bytes per element");
    }
    if (r.kv_context_length == 0) r.notes.push_back("the config gives no context length");

    // Resident: weights as stored (file bytes; the headers are a rounding error), KV, overhead.
    uint64_t per_row =
        add(add(uint64_t(cfg.vocab_size), mul(4, uint64_t(cfg.hidden_size), "the activation size"),
                "the activation size"),
            mul(2, uint64_t(cfg.intermediate_size), "the activation size"), "the activation size");
    per_row = add(
        per_row, mul(uint64_t(cfg.num_heads), uint64_t(r.kv_context_length), "the activation size"),
        "the activation size");
    r.overhead_bytes = add(
        kFixedOverhead,
        mul(mul(per_row, 4, "the activation size"), uint64_t(opts.batch), "the activation size"),
        "the activation size");
    r.resident_estimate = add(add(r.resident_weight_bytes, r.kv_bytes_total, "the resident size"),
                              r.overhead_bytes, "the resident size");
    return r;
}

void fill_machine(Inspection &r, const fs::path &disk) {
    r.available_memory = inspect::available_memory_bytes();
    r.free_disk = inspect::free_disk_bytes(disk);
    r.fits_memory = r.available_memory > 0 && r.resident_estimate <= r.available_memory;
    r.fits_disk = r.download_bytes == 0 || r.download_bytes <= r.free_disk;
}

Inspection inspect_local_dir(const std::string &what, const fs::path &dir, const fs::path &config,
                             const InspectOptions &opts, bool weights_expected = true) {
    auto files = inspect::local_files(dir);
    std::string text = read_small_file(config, kConfigMaxBytes);
    Inspection r = inspect_files(what, *files, text, config.string(), opts, weights_expected);
    r.download_bytes = 0;
    fill_machine(r, dir);
    return r;
}

Inspection inspect_hub(const std::string &repo_id, const InspectOptions &opts) {
    const std::string cache_dir =
        opts.hub.cache_dir.empty() ? hub::default_cache_dir().string() : opts.hub.cache_dir;
    const std::string revision = opts.hub.revision.empty() ? "main" : opts.hub.revision;
    try {
        auto files = inspect::hub_files(repo_id, opts.hub, opts.write_cache);
        std::string text = files->read_small("config.json", kConfigMaxBytes);
        Inspection r = inspect_files(repo_id, *files, text, repo_id + "/config.json", opts, true);
        r.download_bytes =
            hub::is_downloaded(repo_id, revision, cache_dir) ? 0 : r.stored_weight_bytes;
        fill_machine(r, cache_dir);
        return r;
    } catch (const Error &e) {
        // Offline or unreachable: a complete cached snapshot still answers.
        if (e.status() != HFK_E_OFFLINE && e.status() != HFK_E_NETWORK) throw;
        std::optional<hub::Snapshot> snap = hub::find_cached(repo_id, revision, cache_dir);
        if (!snap) throw;
        Inspection r = inspect_local_dir(repo_id, snap->dir, snap->dir / "config.json", opts);
        r.notes.push_back(std::string("answered from the cache (") +
                          (e.status() == HFK_E_OFFLINE ? "offline" : "Hub unreachable") + ")");
        fill_machine(r, cache_dir);
        return r;
    }
}

}  // namespace

Inspection inspect_model(const std::string &what, const InspectOptions &opts) {
    check_options(opts);
    if (what.empty()) fail(HFK_E_INVALID_ARG, "inspect: empty model id or path");
    std::error_code ec;
    const fs::path p(what);
    if (fs::is_directory(p, ec)) return inspect_local_dir(what, p, p / "config.json", opts);
    if (fs::exists(p, ec)) {
        fs::path dir = p.parent_path();
        if (dir.empty()) dir = ".";
        return inspect_local_dir(what, dir, p, opts, /*weights_expected=*/false);
    }
    if (hub::valid_repo_id(what)) return inspect_hub(what, opts);
    fail(HFK_E_NOT_FOUND,
         "inspect: " + what.substr(0, 300) +
             " is neither a local directory, a config.json path, nor a Hub repo id");
}

std::string Inspection::to_json() const {
    nlohmann::ordered_json j;
    j["source"] = source;
    j["model_type"] = model_type;
    j["architecture"] = architecture;
    j["supported_for_inference"] = supported_for_inference;
    j["unsupported_reason"] = unsupported_reason;
    j["multimodal"] = multimodal;
    j["parameters"] = parameters;
    j["parameters_exact"] = parameters_exact;
    j["parameters_source"] = parameters_source;
    j["active_parameters"] = active_parameters;
    j["vocab_size"] = vocab_size;
    j["context_length"] = context_length;
    j["layers"] = layers;
    j["heads"] = heads;
    j["kv_heads"] = kv_heads;
    j["head_dim"] = head_dim;
    j["hidden_size"] = hidden_size;
    j["intermediate_size"] = intermediate_size;
    j["num_experts"] = num_experts;
    j["experts_per_token"] = experts_per_token;
    j["tied_embeddings"] = tied_embeddings;
    j["stored_dtype"] = stored_dtype;
    j["parameters_by_dtype"] = nlohmann::ordered_json::object();
    for (const auto &[k, v] : parameters_by_dtype) j["parameters_by_dtype"][k] = v;
    j["weight_files"] = weight_files;
    j["stored_weight_bytes"] = stored_weight_bytes;
    j["resident_weight_bytes"] = resident_weight_bytes;
    j["weight_bytes"] = {{"f32", weight_bytes.f32},
                         {"f16", weight_bytes.f16},
                         {"q8_0", weight_bytes.q8},
                         {"q4_0", weight_bytes.q4},
                         {"q4_1", weight_bytes.q4_1}};
    j["kv_bytes_per_element"] = kv_bytes_per_element;
    j["kv_context_length"] = kv_context_length;
    j["batch"] = batch;
    j["kv_bytes_per_token"] = kv_bytes_per_token;
    j["kv_bytes_total"] = kv_bytes_total;
    j["overhead_bytes"] = overhead_bytes;
    j["resident_estimate"] = resident_estimate;
    j["download_bytes"] = download_bytes;
    j["available_memory"] = available_memory;
    j["free_disk"] = free_disk;
    j["fits_memory"] = fits_memory;
    j["fits_disk"] = fits_disk;
    j["notes"] = notes;
    // `source` is whatever the caller passed: replace invalid UTF-8 rather than throw.
    return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace hfk
