#include "runtime/sentence_transformers.h"

#include <system_error>

#include "model/config.h"
#include "util/error.h"

namespace hfk {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr size_t kMaxFileBytes = 64 * 1024;

json read_json(const fs::path &path, const std::string &shown) {
    return parse_untrusted_json(read_small_file(path, kMaxFileBytes), shown, kMaxFileBytes);
}

// A module folder named by modules.json: relative, no "..", no backslash (it is joined to the
// checkpoint directory, which it must not leave).
bool safe_module_path(const std::string &p) {
    if (p.empty() || p.size() > 200 || p.front() == '/' || p.find('\\') != std::string::npos)
        return false;
    for (const auto &part : fs::path(p))
        if (part == ".." || part == ".") return false;
    return p.find('\0') == std::string::npos;
}

void read_pooling(const fs::path &dir, const std::string &module_path, EmbeddingDefaults &d) {
    const std::string shown = module_path + "/config.json";
    std::error_code ec;
    if (!fs::exists(dir / module_path / "config.json", ec)) {
        d.unsupported = "modules.json names a Pooling module but " + shown + " is missing";
        return;
    }
    const json j = read_json(dir / module_path / "config.json", shown);
    if (!j.is_object()) fail(HFK_E_FORMAT, shown + ": must be a JSON object");
    auto flag = [&](const char *key) {
        auto it = j.find(key);
        if (it == j.end() || it->is_null()) return false;
        if (!it->is_boolean()) fail(HFK_E_FORMAT, shown + ": \"" + key + "\" must be true/false");
        return it->get<bool>();
    };
    int modes = 0;
    if (flag("pooling_mode_cls_token")) d.pooling = Pooling::Cls, ++modes;
    if (flag("pooling_mode_mean_tokens")) d.pooling = Pooling::Mean, ++modes;
    if (flag("pooling_mode_max_tokens")) d.pooling = Pooling::Max, ++modes;
    if (flag("pooling_mode_lasttoken")) d.pooling = Pooling::LastToken, ++modes;
    if (flag("pooling_mode_mean_sqrt_len_tokens"))
        d.unsupported = shown + " asks for mean_sqrt_len_tokens pooling";
    else if (flag("pooling_mode_weightedmean_tokens"))
        d.unsupported = shown + " asks for weightedmean_tokens pooling";
    else if (modes > 1)
        d.unsupported = shown + " concatenates several pooling modes";
    else if (modes == 0)
        d.unsupported = shown + " enables no pooling mode";
    if (auto it = j.find("include_prompt"); it != j.end() && !it->is_null()) {
        if (!it->is_boolean())
            fail(HFK_E_FORMAT, shown + ": \"include_prompt\" must be true/false");
        d.include_prompt = it->get<bool>();
    }
}

}  // namespace

EmbeddingDefaults read_sentence_transformers(const fs::path &dir) {
    EmbeddingDefaults d;
    std::error_code ec;
    if (fs::exists(dir / "sentence_bert_config.json", ec)) {
        const json j = read_json(dir / "sentence_bert_config.json", "sentence_bert_config.json");
        if (!j.is_object()) fail(HFK_E_FORMAT, "sentence_bert_config.json: must be a JSON object");
        if (auto it = j.find("max_seq_length"); it != j.end() && !it->is_null()) {
            if (!it->is_number_integer() || it->get<int64_t>() <= 0 ||
                it->get<int64_t>() > kConfigMaxDim)
                fail(HFK_E_FORMAT,
                     "sentence_bert_config.json: \"max_seq_length\" must be a positive integer");
            d.max_seq_length = it->get<int64_t>();
        }
        if (auto it = j.find("do_lower_case"); it != j.end() && it->is_boolean() && it->get<bool>())
            d.unsupported = "sentence_bert_config.json sets do_lower_case";
    }
    if (!fs::exists(dir / "modules.json", ec)) return d;
    d.sentence_transformers = true;
    d.normalize = false;  // only a Normalize module normalises
    bool pooling = false;
    const json mods = read_json(dir / "modules.json", "modules.json");
    if (!mods.is_array() || mods.size() > 64)
        fail(HFK_E_FORMAT, "modules.json: must be a list of at most 64 modules");
    for (const json &m : mods) {
        if (!m.is_object() || !m.contains("type") || !m["type"].is_string())
            fail(HFK_E_FORMAT, "modules.json: every module needs a string \"type\"");
        const std::string type = m["type"].get<std::string>();
        const std::string path =
            m.contains("path") && m["path"].is_string() ? m["path"].get<std::string>() : "";
        const std::string cls = type.substr(type.rfind('.') + 1);
        if (cls == "Transformer") continue;  // the model itself
        if (cls == "Normalize") {
            d.normalize = true;
        } else if (cls == "Pooling") {
            if (!safe_module_path(path))
                fail(HFK_E_FORMAT,
                     "modules.json: the Pooling module's path is not a folder "
                     "inside the repository");
            read_pooling(dir, path, d);
            pooling = true;
        } else if (d.unsupported.empty()) {
            d.unsupported = "modules.json has a " + cls.substr(0, 80) + " module";
        }
    }
    if (!pooling && d.unsupported.empty()) d.unsupported = "modules.json has no Pooling module";
    return d;
}

}  // namespace hfk
