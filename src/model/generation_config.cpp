#include "model/generation_config.h"

#include <cmath>

#include "model/config.h"
#include "util/error.h"

namespace hfk {

using json = nlohmann::json;

GenerationDefaults parse_generation_config(std::string_view json_text, std::string_view file_name) {
    const std::string file(file_name);
    json j = parse_untrusted_json(json_text, file_name);
    if (!j.is_object()) fail(HFK_E_FORMAT, file + ": must be a JSON object");
    auto bad = [&](const char *field, const std::string &what) {
        fail(HFK_E_FORMAT, file + ": field \"" + field + "\" " + what);
    };
    auto get = [&](const char *k) -> const json * {
        auto it = j.find(k);
        return it == j.end() || it->is_null() ? nullptr : &*it;
    };
    auto real = [&](const char *k, double lo, double hi, bool lo_open) -> std::optional<float> {
        const json *v = get(k);
        if (!v) return std::nullopt;
        if (!v->is_number()) bad(k, "must be a number");
        double d = v->get<double>();
        if (!std::isfinite(d) || d < lo || (lo_open && d == lo) || d > hi)
            bad(k, "is out of range");
        return float(d);
    };
    auto integer = [&](const char *k, int64_t lo, int64_t hi) -> std::optional<int32_t> {
        const json *v = get(k);
        if (!v) return std::nullopt;
        if (!v->is_number_integer()) bad(k, "must be an integer");
        if (v->is_number_unsigned() ? v->get<uint64_t>() > uint64_t(hi)
                                    : (v->get<int64_t>() < lo || v->get<int64_t>() > hi))
            bad(k, "is out of range");
        return int32_t(v->get<int64_t>());
    };
    GenerationDefaults g;
    g.temperature = real("temperature", 0, 1e6, false);
    g.top_p = real("top_p", 0, 1, true);
    g.min_p = real("min_p", 0, 1, false);
    g.repetition_penalty = real("repetition_penalty", 0, 1e6, true);
    g.top_k = integer("top_k", 0, INT32_MAX);
    g.max_new_tokens = integer("max_new_tokens", 0, INT32_MAX);
    if (const json *v = get("do_sample")) {
        if (!v->is_boolean()) bad("do_sample", "must be true or false");
        g.do_sample = v->get<bool>();
    }
    g.bos_token_id = integer("bos_token_id", 0, INT32_MAX);
    g.pad_token_id = integer("pad_token_id", 0, INT32_MAX);
    if (const json *v = get("eos_token_id")) {
        if (v->is_array()) {
            if (v->size() > 1024) bad("eos_token_id", "has too many entries");
            for (const json &x : *v) {
                if (!x.is_number_integer() || x.get<int64_t>() < 0 ||
                    (x.is_number_unsigned() && x.get<uint64_t>() > INT32_MAX) ||
                    x.get<int64_t>() > INT32_MAX)
                    bad("eos_token_id", "must hold non-negative integer ids");
                g.eos_token_ids.push_back(int32_t(x.get<int64_t>()));
            }
        } else {
            g.eos_token_ids.push_back(*integer("eos_token_id", 0, INT32_MAX));
        }
    }
    return g;
}

GenerationDefaults load_generation_config(const std::filesystem::path &dir) {
    std::filesystem::path p = dir / "generation_config.json";
    std::error_code ec;
    if (!std::filesystem::exists(p, ec)) return {};
    return parse_generation_config(read_small_file(p, kConfigMaxBytes), p.string());
}

}  // namespace hfk
