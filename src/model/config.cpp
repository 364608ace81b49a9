// config.json -> ModelConfig. There is no reference validator for config.json, so these are our
// rules (RELIABILITY.md a.2): JSON limits first (size, depth, duplicate keys), then types, ranges
// and divisibility, each error naming the field.
#include "model/config.h"

#include <cmath>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <unordered_set>

#include "model/message_text.h"
#include "model/prequant.h"
#include "util/error.h"

namespace hfk {

using json = nlohmann::json;
namespace fs = std::filesystem;

std::string read_small_file(const fs::path &path, size_t max_bytes) {
    std::error_code ec;
    if (!fs::exists(path, ec)) fail(HFK_E_NOT_FOUND, path.string() + ": not found");
    uintmax_t size = fs::file_size(path, ec);
    if (ec) fail(HFK_E_IO, path.string() + ": cannot stat: " + ec.message());
    if (size > max_bytes)
        fail(HFK_E_FORMAT, path.string() + ": " + std::to_string(size) + " bytes exceeds the " +
                               std::to_string(max_bytes) + "-byte limit");
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(HFK_E_IO, path.string() + ": cannot open");
    std::string text;
    text.resize(size_t(size));
    in.read(text.data(), std::streamsize(size));
    if (in.gcount() != std::streamsize(size)) fail(HFK_E_IO, path.string() + ": short read");
    return text;
}

json parse_untrusted_json(std::string_view text, std::string_view file_name, size_t max_bytes) {
    const std::string file(file_name);
    if (text.size() > max_bytes)
        fail(HFK_E_FORMAT, file + ": " + std::to_string(text.size()) + " bytes exceeds the " +
                               std::to_string(max_bytes) + "-byte limit");
    // nlohmann's lexer stops at a NUL byte as if the input ended; valid JSON never holds one.
    if (text.find('\0') != std::string_view::npos)
        fail(HFK_E_FORMAT, file + ": not valid JSON: contains a NUL byte");
    // The parser is iterative; this callback keeps the DOM shallow enough that copying and
    // dumping it (both recursive) are safe, and sees duplicate keys before the DOM merges them.
    std::vector<std::unordered_set<std::string>> keys;  // one set per open object or array
    auto cb = [&](int depth, json::parse_event_t ev, json &parsed) -> bool {
        switch (ev) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                if (depth >= kJsonMaxDepth)
                    fail(HFK_E_FORMAT, file + ": JSON nested deeper than " +
                                           std::to_string(kJsonMaxDepth) + " levels");
                keys.emplace_back();
                break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                if (!keys.empty()) keys.pop_back();
                break;
            case json::parse_event_t::key:
                if (!keys.empty() && parsed.is_string() &&
                    !keys.back().insert(parsed.get_ref<const std::string &>()).second)
                    fail(HFK_E_FORMAT, file + ": duplicate JSON key " +
                                           printable(parsed.get_ref<const std::string &>()));
                break;
            case json::parse_event_t::value:
                break;
        }
        return true;
    };
    try {
        return json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true,
                           /*ignore_comments=*/false);
    } catch (const json::exception &e) {
        std::string what = e.what();
        if (what.size() > 200) what = what.substr(0, 200) + "...";
        fail(HFK_E_FORMAT, file + ": not valid JSON: " + printable(what, 300));
    }
}

namespace {

// Looks fields up in the text sub-config first (multimodal), then the top level. A field that is
// present but null counts as absent, as in transformers.
class Fields {
  public:
    Fields(std::vector<const json *> objs, std::string file)
        : objs_(std::move(objs)), file_(std::move(file)) {}

    // The first alias present (and not null), with the alias actually used.
    const json *find(std::initializer_list<const char *> names, std::string *used = nullptr) const {
        for (const json *o : objs_)
            for (const char *n : names) {
                auto it = o->find(n);
                if (it != o->end() && !it->is_null()) {
                    if (used) *used = n;
                    return &*it;
                }
            }
        return nullptr;
    }

    [[noreturn]] void bad(const std::string &field, const std::string &what) const {
        fail(HFK_E_FORMAT, file_ + ": field \"" + field + "\" " + what);
    }

    std::optional<int64_t> integer(std::initializer_list<const char *> names) const {
        std::string used;
        const json *v = find(names, &used);
        if (!v) return std::nullopt;
        if (v->is_number_unsigned()) {
            if (v->get<uint64_t>() > uint64_t(INT64_MAX)) bad(used, "does not fit in int64");
            return int64_t(v->get<uint64_t>());
        }
        if (v->is_number_integer()) return v->get<int64_t>();
        bad(used, std::string("must be an integer, found ") + v->type_name());
    }

    // A size: 1 <= v <= cap.
    int64_t size(std::initializer_list<const char *> names, int64_t cap, bool required,
                 int64_t fallback = 0) const {
        std::string used;
        find(names, &used);
        std::optional<int64_t> v = integer(names);
        if (!v) {
            if (required) bad(*names.begin(), "is missing");
            return fallback;
        }
        if (*v <= 0) bad(used, "must be positive, found " + std::to_string(*v));
        if (*v > cap)
            bad(used, "is " + std::to_string(*v) + ", above the limit of " + std::to_string(cap));
        return *v;
    }

    std::optional<double> number(std::initializer_list<const char *> names) const {
        std::string used;
        const json *v = find(names, &used);
        if (!v) return std::nullopt;
        if (!v->is_number()) bad(used, std::string("must be a number, found ") + v->type_name());
        double d = v->get<double>();
        if (!std::isfinite(d)) bad(used, "must be finite");
        return d;
    }

    double positive(std::initializer_list<const char *> names, double fallback) const {
        std::string used;
        find(names, &used);
        std::optional<double> v = number(names);
        if (!v) return fallback;
        if (!(*v > 0)) bad(used, "must be > 0");
        return *v;
    }

    std::optional<bool> boolean(std::initializer_list<const char *> names) const {
        std::string used;
        const json *v = find(names, &used);
        if (!v) return std::nullopt;
        if (!v->is_boolean())
            bad(used, std::string("must be true or false, found ") + v->type_name());
        return v->get<bool>();
    }

    std::string string(std::initializer_list<const char *> names) const {
        std::string used;
        const json *v = find(names, &used);
        if (!v) return {};
        if (!v->is_string()) bad(used, std::string("must be a string, found ") + v->type_name());
        return v->get<std::string>();
    }

    // An id or a list of ids (eos_token_id is often a list), each in [0, vocab).
    std::vector<int32_t> token_ids(const char *name, int64_t vocab,
                                   bool allow_minus_one = false) const {
        const json *v = find({name});
        std::vector<int32_t> out;
        if (!v) return out;
        auto one = [&](const json &x) {
            if (!x.is_number_integer()) bad(name, "must be an integer or a list of integers");
            int64_t id = x.is_number_unsigned() && x.get<uint64_t>() > uint64_t(INT64_MAX)
                             ? INT64_MAX
                             : x.get<int64_t>();
            if (allow_minus_one && id == -1) return;
            if (id < 0 || (vocab > 0 && id >= vocab) || id > INT32_MAX)
                bad(name, "token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                              std::to_string(vocab) + ")");
            out.push_back(int32_t(id));
        };
        if (v->is_array()) {
            if (v->size() > 1024) bad(name, "has too many entries");
            for (const json &x : *v) one(x);
        } else {
            one(*v);
        }
        return out;
    }

  private:
    std::vector<const json *> objs_;
    std::string file_;
};

bool is_one_of(const std::string &s, std::initializer_list<const char *> set) {
    for (const char *x : set)
        if (s == x) return true;
    return false;
}

// The architecture family we would run: model_type, else the first architectures entry.
std::string family(const ModelConfig &c) {
    if (c.model_type == "gemma3") return "gemma3_text";  // the language model of Gemma 3
    if (!c.model_type.empty()) return c.model_type;
    if (c.architectures.empty()) return {};
    const std::string &a = c.architectures.front();
    auto starts = [&](const char *p) { return a.rfind(p, 0) == 0; };
    if (starts("GPT2")) return "gpt2";
    if (starts("Llama")) return "llama";
    if (starts("Mistral")) return "mistral";
    if (starts("Qwen2") && !starts("Qwen2Moe") && !starts("Qwen2VL") && !starts("Qwen2_5"))
        return "qwen2";
    if (starts("Qwen3") && !starts("Qwen3Moe") && !starts("Qwen3VL")) return "qwen3";
    if (starts("Qwen3MoeFor")) return "qwen3_moe";
    if (starts("Mixtral")) return "mixtral";
    if (starts("Gemma3ForCausalLM")) return "gemma3_text";
    if (starts("Gemma3ForConditionalGeneration")) return "gemma3_text";
    if (starts("Gemma2")) return "gemma2";
    if (starts("GemmaFor")) return "gemma";
    if (starts("SmolLM3")) return "smollm3";
    if (starts("Phi3")) return "phi3";
    if (starts("PhiFor")) return "phi";
    if (starts("Bert")) return "bert";
    if (starts("XLMRoberta")) return "xlm-roberta";
    if (starts("Roberta")) return "roberta";
    if (starts("DistilBert")) return "distilbert";
    if (starts("ModernBert")) return "modernbert";
    return {};
}

constexpr const char *kSupported =
    "gpt2, llama, mistral, qwen2, bert, roberta, xlm-roberta, distilbert, modernbert, qwen3, "
    "gemma, gemma2, gemma3_text, smollm3, phi3, phi, mixtral, qwen3_moe";

// The BERT-family encoders (src/models/encoder.h).
bool is_encoder(const std::string &f) {
    return is_one_of(f, {"bert", "roberta", "xlm-roberta", "distilbert", "modernbert"});
}

// Pre-norm decoders with rotary attention and a gated MLP (src/models/decoder.h).
bool is_rotary_decoder(const std::string &f) {
    return is_one_of(f, {"llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text",
                         "smollm3", "phi3", "mixtral", "qwen3_moe"});
}

bool is_supported_family(const std::string &f) {
    return f == "gpt2" || f == "phi" || is_encoder(f) || is_rotary_decoder(f);
}

// The sparse MoE fields of Mixtral and Qwen3-MoE (ModelConfig::layer_sparse and the rest), with
// MixtralConfig's / Qwen3MoeConfig's defaults.
void parse_sparse_layers(const Fields &f, const std::string &fam, ModelConfig &c) {
    const int64_t n = c.num_layers;
    c.layer_sparse.assign(size_t(n), true);
    if (fam == "mixtral") {
        if (c.num_experts == 0) c.num_experts = 8;
        if (c.num_experts_per_tok == 0) c.num_experts_per_tok = 2;
        c.moe_intermediate_size = c.intermediate_size;
        c.norm_topk_prob = true;
    } else {
        if (c.num_experts == 0) c.num_experts = 128;
        if (c.num_experts_per_tok == 0) c.num_experts_per_tok = 8;
        c.moe_intermediate_size = f.size({"moe_intermediate_size"}, kConfigMaxDim, false, 768);
        c.norm_topk_prob = f.boolean({"norm_topk_prob"}).value_or(false);
        const int64_t step = f.size({"decoder_sparse_step"}, kConfigMaxLayers, false, 1);
        for (int64_t i = 0; i < n; ++i) c.layer_sparse[size_t(i)] = (i + 1) % step == 0;
        if (const json *only = f.find({"mlp_only_layers"})) {
            if (!only->is_array() && !only->is_null())
                f.bad("mlp_only_layers", "must be a list of layer indices");
            if (only->is_array())
                for (const json &v : *only) {
                    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= n)
                        f.bad("mlp_only_layers", "must hold layer indices below num_hidden_layers");
                    c.layer_sparse[size_t(v.get<int64_t>())] = false;
                }
        }
        // Qwen3MoeConfig keeps sliding_window only with use_sliding_window, and its modeling
        // code and max_window_layers disagree across transformers versions: refused, not guessed.
        if (f.boolean({"use_sliding_window"}).value_or(false) && c.unsupported_reason.empty())
            c.unsupported_reason = "field \"use_sliding_window\" is true for qwen3_moe";
    }
    if (c.num_experts_per_tok > c.num_experts)
        f.bad("num_experts_per_tok", "is larger than the number of experts");
    if (c.moe_intermediate_size <= 0) f.bad("moe_intermediate_size", "must be > 0");
}

// max_position_embeddings when config.json leaves it out: the family's configuration class
// default in transformers (LlamaConfig 2048, MistralConfig 4096 * 32, ...).
int64_t default_context(const std::string &f) {
    if (f == "llama") return 2048;
    if (f == "mistral" || f == "gemma3_text" || f == "mixtral") return 131072;
    if (f == "qwen2" || f == "qwen3" || f == "qwen3_moe") return 32768;
    if (f == "gemma" || f == "gemma2") return 8192;
    if (f == "smollm3") return 32768;
    if (f == "phi3") return 4096;
    if (f == "phi") return 2048;
    return 0;
}

void parse_rope(const json *rs, const std::string &file, RopeScaling &out) {
    if (!rs) return;
    auto bad = [&](const std::string &what) {
        fail(HFK_E_FORMAT, file + ": field \"rope_scaling\" " + what);
    };
    if (!rs->is_object()) bad("must be an object or null");
    Fields f({rs}, file);
    std::string type = f.string({"rope_type", "type"});
    if (type == "default") type.clear();
    if (type == "su") type = "longrope";  // Phi-3's first name for it
    out.type = type;
    for (auto [name, dst] : {std::pair{"short_factor", &out.short_factor},
                             std::pair{"long_factor", &out.long_factor}}) {
        const json *v = f.find({name});
        if (!v) continue;
        if (!v->is_array() || v->size() > 4096)
            bad(std::string(name) + " must be a list of numbers");
        for (const json &x : *v) {
            if (!x.is_number() || !(x.get<double>() > 0))
                bad(std::string(name) + " must be a list of positive numbers");
            dst->push_back(x.get<double>());
        }
    }
    if (auto v = f.number({"attention_factor"})) {
        if (!(*v > 0)) bad("attention_factor must be > 0");
        out.attention_factor = *v;
    }
    if (auto v = f.number({"factor"})) {
        if (!(*v > 0)) bad("factor must be > 0");
        if ((type == "linear" || type == "llama3" || type == "dynamic" || type == "yarn") && *v < 1)
            bad("factor must be >= 1");
        out.factor = *v;
        out.factor_given = true;
    }
    for (auto [name, dst] :
         {std::pair{"beta_fast", &out.beta_fast}, std::pair{"beta_slow", &out.beta_slow}}) {
        const json *v = f.find({name});
        if (!v || v->is_null()) continue;
        if (!v->is_number() || !(v->get<double>() > 0)) bad(std::string(name) + " must be > 0");
        *dst = v->get<double>();
    }
    for (auto [name, dst] :
         {std::pair{"mscale", &out.mscale}, std::pair{"mscale_all_dim", &out.mscale_all_dim}}) {
        const json *v = f.find({name});
        if (!v || v->is_null()) continue;
        if (!v->is_number() || !(v->get<double>() >= 0)) bad(std::string(name) + " must be >= 0");
        *dst = v->get<double>();
    }
    if (auto v = f.boolean({"truncate"})) out.truncate = *v;
    if (auto v = f.number({"low_freq_factor"})) out.low_freq_factor = *v;
    if (auto v = f.number({"high_freq_factor"})) out.high_freq_factor = *v;
    if (type == "llama3" &&
        !(out.high_freq_factor > out.low_freq_factor && out.low_freq_factor > 0))
        bad("llama3 needs high_freq_factor > low_freq_factor > 0");
    if (auto v = f.integer({"original_max_position_embeddings"})) {
        if (*v < 0 || *v > kConfigMaxDim) bad("original_max_position_embeddings out of range");
        out.original_max_position_embeddings = *v;
    }
}

// Which layers use a sliding window and which apply RoPE (ModelConfig::layer_window/layer_rope).
void parse_layer_kinds(const Fields &f, const std::string &fam, ModelConfig &c) {
    const int64_t n = c.num_layers;
    c.layer_window.assign(size_t(n), 0);
    c.layer_rope.assign(size_t(n), true);
    if (const json *lt = f.find({"layer_types"})) {
        if (!lt->is_array() || int64_t(lt->size()) != n)
            f.bad("layer_types", "must be a list of num_hidden_layers strings");
        for (int64_t i = 0; i < n; ++i) {
            const json &t = (*lt)[size_t(i)];
            if (!t.is_string()) f.bad("layer_types", "must be a list of strings");
            const std::string kind = t.get<std::string>();
            if (kind == "sliding_attention") {
                if (c.sliding_window <= 0)
                    c.sliding_window = f.size({"sliding_window"}, kConfigMaxDim, true);
                c.layer_window[size_t(i)] = c.sliding_window;
            } else if (kind != "full_attention" && c.unsupported_reason.empty()) {
                c.unsupported_reason = "field \"layer_types\" has the layer type " +
                                       printable(kind) +
                                       "; hfkit runs full_attention and sliding_attention";
            }
        }
    } else if (c.sliding_window > 0) {
        const int64_t first_window_layer =
            fam == "qwen2" || fam == "qwen3"
                ? f.size({"max_window_layers"}, kConfigMaxLayers, false, 28)
                : 0;
        // Gemma 2/3: layer i slides unless (i + 1) is a multiple of the pattern (2 for Gemma 2;
        // a pattern of 1 makes every layer global, as in transformers).
        const int64_t pattern = fam == "gemma3_text"
                                    ? f.size({"sliding_window_pattern"}, kConfigMaxLayers, false, 6)
                                : fam == "gemma2" ? 2
                                                  : 0;
        for (int64_t i = 0; i < n; ++i)
            if (i >= first_window_layer && (pattern == 0 || (i + 1) % pattern != 0))
                c.layer_window[size_t(i)] = c.sliding_window;
    } else if (fam == "smollm3" && f.boolean({"use_sliding_window"}).value_or(false) &&
               c.unsupported_reason.empty()) {
        c.unsupported_reason =
            "field \"use_sliding_window\" is true without \"layer_types\" for smollm3";
    }
    if (fam == "smollm3") {
        if (const json *nr = f.find({"no_rope_layers"})) {
            if (!nr->is_array() || int64_t(nr->size()) < n)
                f.bad("no_rope_layers", "must be a list of at least num_hidden_layers 0/1 flags");
            for (int64_t i = 0; i < n; ++i) {
                const json &v = (*nr)[size_t(i)];
                if (!v.is_number_integer() || (v.get<int64_t>() != 0 && v.get<int64_t>() != 1))
                    f.bad("no_rope_layers", "entries must be 0 or 1");
                c.layer_rope[size_t(i)] = v.get<int64_t>() == 1;  // 1: the layer uses RoPE
            }
        } else {
            const int64_t every = f.size({"no_rope_layer_interval"}, kConfigMaxLayers, false, 4);
            for (int64_t i = 0; i < n; ++i) c.layer_rope[size_t(i)] = (i + 1) % every != 0;
        }
    }
}

}  // namespace

ModelConfig parse_config(std::string_view json_text, std::string_view file_name) {
    const std::string file(file_name);
    ModelConfig c;
    c.raw = parse_untrusted_json(json_text, file_name);
    if (!c.raw.is_object())
        fail(HFK_E_FORMAT, file + ": must be a JSON object, found " + c.raw.type_name());
    const json &top = c.raw;

    // Multimodal checkpoints nest the language model's settings in text_config.
    std::vector<const json *> objs;
    if (auto tc = top.find("text_config"); tc != top.end() && !tc->is_null()) {
        if (!tc->is_object())
            fail(HFK_E_FORMAT, file + ": field \"text_config\" must be an object");
        objs.push_back(&*tc);
    }
    objs.push_back(&top);
    for (const char *k : {"vision_config", "audio_config", "speech_config", "vision_tower",
                          "mm_vision_tower", "visual"}) {
        auto it = top.find(k);
        if (it != top.end() && !it->is_null()) {
            c.multimodal = true;
            c.multimodal_reason = std::string("the config has a \"") + k +
                                  "\" (a vision/audio model), which hfkit cannot run";
            break;
        }
    }
    Fields top_only({&top}, file);
    Fields f(objs, file);

    c.model_type = top_only.string({"model_type"});
    if (auto a = top.find("architectures"); a != top.end() && !a->is_null()) {
        if (!a->is_array() || a->size() > 64)
            fail(HFK_E_FORMAT, file + ": field \"architectures\" must be a list of strings");
        for (const json &x : *a) {
            if (!x.is_string())
                fail(HFK_E_FORMAT, file + ": field \"architectures\" must be a list of strings");
            c.architectures.push_back(x.get<std::string>());
        }
    }
    const std::string fam = family(c);
    if (c.model_type == "gemma3" && objs.size() == 2) {
        c.text_part_only = true;
        if (c.multimodal)
            c.load_note =
                "gemma3: only the language model (text_config, language_model.* weights) is "
                "loaded; the vision tower is ignored, so images are not supported";
    }
    // For the families we run, the core sizes must be there; other configs (inspector) are lenient.
    const bool strict = is_supported_family(fam) && (!c.multimodal || c.text_part_only);

    c.vocab_size = f.size({"vocab_size"}, kConfigMaxVocab, strict);
    // DistilBertConfig names its sizes dim / n_layers / n_heads / hidden_dim (the FFN width).
    const bool distil = fam == "distilbert";
    c.hidden_size = distil ? f.size({"dim", "hidden_size"}, kConfigMaxDim, strict)
                           : f.size({"hidden_size", "n_embd", "d_model"}, kConfigMaxDim, strict);
    c.num_layers = f.size({"num_hidden_layers", "n_layer", "num_layers", "n_layers"},
                          kConfigMaxLayers, strict);
    c.num_heads =
        f.size({"num_attention_heads", "n_head", "num_heads", "n_heads"}, kConfigMaxDim, strict);
    c.num_kv_heads = f.size({"num_key_value_heads", "n_kv_heads", "num_kv_heads"}, kConfigMaxDim,
                            false, c.num_heads);
    c.head_dim = f.size({"head_dim"}, kConfigMaxDim, false, 0);
    if (c.head_dim == 0 && c.num_heads > 0 && c.hidden_size > 0) {
        if (c.hidden_size % c.num_heads != 0)
            f.bad("num_attention_heads", std::to_string(c.num_heads) +
                                             " does not divide hidden_size " +
                                             std::to_string(c.hidden_size));
        c.head_dim = c.hidden_size / c.num_heads;
    }
    if (c.num_kv_heads > 0 && c.num_heads > 0 && c.num_heads % c.num_kv_heads != 0)
        f.bad("num_key_value_heads", std::to_string(c.num_kv_heads) +
                                         " does not divide num_attention_heads " +
                                         std::to_string(c.num_heads));
    if (c.num_kv_heads > c.num_heads && c.num_heads > 0)
        f.bad("num_key_value_heads", "is larger than num_attention_heads");
    // GPT-2's n_inner: null means 4 * n_embd.
    const bool gpt2 = fam == "gpt2";
    c.intermediate_size = distil
                              ? f.size({"hidden_dim"}, kConfigMaxDim, strict)
                              : f.size({"intermediate_size", "n_inner", "ffn_dim"}, kConfigMaxDim,
                                       strict && !gpt2, gpt2 ? 4 * c.hidden_size : 0);
    // Decoders without the field get their family's documented default (issue 15 item 6: never
    // a model with context 0); GPT-2 and BERT need it to size their position tables.
    c.max_position_embeddings =
        f.size({"max_position_embeddings", "n_positions", "n_ctx", "max_seq_len", "seq_length"},
               kConfigMaxDim, strict && (gpt2 || is_encoder(fam)), default_context(fam));
    c.type_vocab_size = f.size({"type_vocab_size"}, 1 << 16, false,
                               fam == "bert" || fam == "roberta" || fam == "xlm-roberta" ? 2 : 0);

    const bool llama_like = is_rotary_decoder(fam);
    const bool gemma = is_one_of(fam, {"gemma", "gemma2", "gemma3_text"});
    const double eps_default = fam == "modernbert" ? 1e-5
                               : is_encoder(fam)   ? 1e-12
                               : llama_like        ? 1e-6
                                                   : 1e-5;
    c.norm_eps = f.positive({"rms_norm_eps", "layer_norm_epsilon", "layer_norm_eps", "norm_eps"},
                            eps_default);
    if (c.norm_eps >= 1) f.bad("rms_norm_eps", "must be < 1");
    c.rope_theta = f.positive({"rope_theta"}, fam == "gemma3_text" ? 1000000.0 : 10000.0);
    c.rope_local_base_freq =
        fam == "gemma3_text" ? f.positive({"rope_local_base_freq"}, 10000.0) : 0;
    parse_rope(f.find({"rope_scaling"}), file, c.rope_scaling);
    const json *rp = f.find({"rope_parameters"});
    if (rp && rp->is_object() &&
        (rp->contains("full_attention") || rp->contains("sliding_attention"))) {
        // transformers >= 5, per layer type (Gemma 3): global layers' base and scaling, the
        // sliding layers' base (their scaling must be the default).
        for (const char *kind : {"full_attention", "sliding_attention"}) {
            auto it = rp->find(kind);
            if (it == rp->end() || it->is_null()) continue;
            if (!it->is_object())
                f.bad(std::string("rope_parameters.") + kind, "must be an object");
            Fields r({&*it}, file);
            const bool full = std::string(kind) == "full_attention";
            if (auto th = r.number({"rope_theta"})) {
                if (!(*th > 0))
                    f.bad(std::string("rope_parameters.") + kind + ".rope_theta", "must be > 0");
                (full ? c.rope_theta : c.rope_local_base_freq) = *th;
            }
            RopeScaling scaling;
            parse_rope(&*it, file, scaling);
            if (full)
                c.rope_scaling = scaling;
            else if (!scaling.type.empty() && c.unsupported_reason.empty())
                c.unsupported_reason = "field \"rope_parameters.sliding_attention\" scales RoPE (" +
                                       printable(scaling.type) + ") on sliding layers";
        }
    } else if (rp && rp->is_object()) {
        // transformers >= 5 spells it rope_parameters, with rope_theta inside.
        Fields r({rp}, file);
        if (auto th = r.number({"rope_theta"})) {
            if (!(*th > 0)) f.bad("rope_parameters.rope_theta", "must be > 0");
            c.rope_theta = *th;
        }
        if (c.rope_scaling.type.empty()) parse_rope(rp, file, c.rope_scaling);
    }

    c.tie_word_embeddings =
        f.boolean({"tie_word_embeddings"}).value_or(!llama_like || gemma || fam == "smollm3");
    c.attention_bias = f.boolean({"attention_bias"}).value_or(false);
    c.mlp_bias = f.boolean({"mlp_bias"}).value_or(false);
    c.qkv_bias = c.attention_bias || fam == "qwen2";
    // Gemma 2/3 name it hidden_activation (and may carry a stale hidden_act); Gemma 1's
    // modeling code uses the tanh approximation when hidden_activation is unset.
    c.hidden_act = gemma    ? f.string({"hidden_activation"})
                   : distil ? f.string({"activation"})
                            : f.string({"hidden_act", "activation_function", "hidden_activation"});
    if (gemma && c.hidden_act.empty()) c.hidden_act = "gelu_pytorch_tanh";
    c.torch_dtype = f.string({"torch_dtype", "dtype"});
    const bool qwen = fam == "qwen2" || fam == "qwen3";
    if (fam == "phi") {
        // PhiConfig: untied head (with a bias), RoPE over half of each head by default.
        c.tie_word_embeddings = f.boolean({"tie_word_embeddings"}).value_or(false);
        c.qk_layernorm = f.boolean({"qk_layernorm"}).value_or(false);
        if (c.hidden_act.empty()) c.hidden_act = "gelu_new";
    }
    if (fam == "phi3" || fam == "phi") {
        c.partial_rotary_factor = f.positive({"partial_rotary_factor"}, fam == "phi" ? 0.5 : 1.0);
        if (c.partial_rotary_factor > 1) f.bad("partial_rotary_factor", "must be <= 1");
        // Phi-3 keeps the pretrained context beside rope_scaling, not inside it.
        if (fam == "phi3" && c.rope_scaling.original_max_position_embeddings == 0)
            c.rope_scaling.original_max_position_embeddings =
                f.size({"original_max_position_embeddings"}, kConfigMaxDim, false,
                       c.max_position_embeddings);
    }
    if (fam == "mistral" || fam == "mixtral" || fam == "phi3" || fam == "gemma2" ||
        fam == "gemma3_text" || (qwen && f.boolean({"use_sliding_window"}).value_or(false)))
        c.sliding_window = f.size({"sliding_window"}, kConfigMaxDim, false, gemma ? 4096 : 0);
    if (llama_like) parse_layer_kinds(f, fam, c);
    if (gemma) {
        if (fam != "gemma") c.query_pre_attn_scalar = f.positive({"query_pre_attn_scalar"}, 256);
        if (fam == "gemma2") {
            // Gemma2Config's defaults are 50 and 30; an explicit null turns a cap off.
            auto cap = [&](const char *name, double fallback) {
                auto it = top.find(name);
                if (it != top.end() && it->is_null()) return 0.0;
                return f.positive({name}, fallback);
            };
            c.attn_logit_softcapping = cap("attn_logit_softcapping", 50.0);
            c.final_logit_softcapping = cap("final_logit_softcapping", 30.0);
        } else if (fam == "gemma3_text") {
            // Gemma 3's modeling code never passes attn_logit_softcapping to attention.
            c.final_logit_softcapping = f.positive({"final_logit_softcapping"}, 0);
        }
    }

    c.bos_token_ids = f.token_ids("bos_token_id", c.vocab_size);
    c.eos_token_ids = f.token_ids("eos_token_id", c.vocab_size);
    std::vector<int32_t> pad = f.token_ids("pad_token_id", c.vocab_size, /*allow_minus_one=*/true);
    if (pad.size() > 1) f.bad("pad_token_id", "must be a single id");
    c.pad_token_id = pad.empty() ? -1 : pad[0];

    if (const json *labels = top_only.find({"id2label"})) {
        if (!labels->is_object() || labels->size() > (1 << 16))
            f.bad("id2label", "must be an object of at most 65536 \"id\": \"label\" entries");
        c.id2label.assign(labels->size(), std::string());
        std::vector<bool> seen(labels->size(), false);
        for (auto it = labels->begin(); it != labels->end(); ++it) {
            const std::string &k = it.key();
            size_t id = 0;
            bool ok = !k.empty() && k.size() <= 6 && (k == "0" || k[0] != '0');
            for (char ch : k) ok = ok && ch >= '0' && ch <= '9';
            if (ok) id = std::stoul(k);
            if (!ok || id >= seen.size() || seen[id])
                f.bad("id2label", "keys must be the class ids 0..n-1, found " + printable(k));
            if (!it.value().is_string()) f.bad("id2label", "values must be strings");
            seen[id] = true;
            c.id2label[id] = it.value().get<std::string>();
        }
    }

    c.num_experts =
        f.size({"num_local_experts", "num_experts", "n_routed_experts"}, 1 << 16, false);
    c.num_experts_per_tok = f.size({"num_experts_per_tok"}, 1 << 16, false);
    if (c.num_experts > 0 && c.num_experts_per_tok > c.num_experts)
        f.bad("num_experts_per_tok", "is larger than the number of experts");
    if (fam == "mixtral" || fam == "qwen3_moe") parse_sparse_layers(f, fam, c);
    return c;
}

ModelConfig load_config(const fs::path &dir) {
    return parse_config(read_small_file(dir / "config.json", kConfigMaxBytes),
                        (dir / "config.json").string());
}

std::string inference_family(const ModelConfig &cfg) {
    return family(cfg);
}

void check_supported_for_inference(const ModelConfig &cfg) {
    const std::string fam = family(cfg);
    if (cfg.multimodal && !cfg.text_part_only)
        fail(HFK_E_UNSUPPORTED, "unsupported model: " + cfg.multimodal_reason);
    if (!is_supported_family(fam)) {
        std::string what = !cfg.model_type.empty() ? "model_type " + printable(cfg.model_type)
                           : !cfg.architectures.empty()
                               ? "architecture " + printable(cfg.architectures.front())
                               : std::string("a config without model_type or architectures");
        fail(HFK_E_UNSUPPORTED, "unsupported model: " + what + "; hfkit runs " + kSupported);
    }
    if (!cfg.unsupported_reason.empty())
        fail(HFK_E_UNSUPPORTED, "unsupported model: config.json " + cfg.unsupported_reason);
    // Issue 15 item 4: an activation the code would not compute is refused, never replaced.
    if ((is_rotary_decoder(fam) || fam == "phi") &&
        !is_one_of(cfg.hidden_act,
                   {"", "silu", "swish", "gelu", "gelu_pytorch_tanh", "gelu_new", "relu"}))
        fail(
            HFK_E_UNSUPPORTED,
            "unsupported model: config.json field \"" +
                std::string(is_one_of(fam, {"gemma", "gemma2", "gemma3_text"}) ? "hidden_activation"
                                                                               : "hidden_act") +
                "\" is " + printable(cfg.hidden_act) +
                "; hfkit runs silu, gelu, gelu_pytorch_tanh, gelu_new and relu");
    if (!is_one_of(cfg.rope_scaling.type, {"", "linear", "dynamic", "yarn", "longrope", "llama3"}))
        fail(HFK_E_UNSUPPORTED,
             "unsupported model: config.json field \"rope_scaling\" has the type " +
                 printable(cfg.rope_scaling.type) +
                 "; hfkit supports none, \"linear\", \"dynamic\", \"yarn\", \"longrope\" and "
                 "\"llama3\"");
    // Pre-quantized checkpoints: MLX affine, GPTQ and AWQ load (model/prequant.h); any other
    // method is refused by name, never loaded as garbage (issue 18).
    // A malformed quantization block is an unsupported model here (this check's one status).
    try {
        prequant_config(cfg.raw);
    } catch (const Error &e) {
        if (e.status() != HFK_E_FORMAT) throw;
        fail(HFK_E_UNSUPPORTED, std::string("unsupported model: ") + e.what());
    }
    if (cfg.num_experts > 1 && fam != "mixtral" && fam != "qwen3_moe")
        fail(HFK_E_UNSUPPORTED,
             "unsupported model: mixture-of-experts models other than "
             "mixtral and qwen3_moe are not supported");
}

}  // namespace hfk
