// Loading chat templates and special tokens from a model directory.
#include "chat/model_templates.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/error.h"

namespace hfk::chat {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

namespace {

std::optional<std::string> read_file(const fs::path &p) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec)) return std::nullopt;
    std::ifstream f(p, std::ios::binary);
    if (!f) return std::nullopt;
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

json parse(const std::string &text, const fs::path &p) {
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded())
        throw TemplateError(ErrorKind::Runtime, p.string() + " is not valid JSON");
    return j;
}

// chat_template as a string or a list of {name, template}.
void add_templates(const json &ct, ModelTemplates &out, const fs::path &p) {
    if (ct.is_string()) {
        out.named["default"] = ct.get<std::string>();
    } else if (ct.is_array()) {
        for (const auto &t : ct) {
            if (!t.is_object() || !t.contains("name") || !t.contains("template") ||
                !t["name"].is_string() || !t["template"].is_string())
                throw TemplateError(
                    ErrorKind::Runtime,
                    p.string() + ": chat_template list items need name and template");
            out.named[t["name"].get<std::string>()] = t["template"].get<std::string>();
        }
    } else if (!ct.is_null()) {
        throw TemplateError(ErrorKind::Runtime,
                            p.string() + ": chat_template must be a string or a list");
    }
}

}  // namespace

std::optional<std::string> ModelTemplates::pick(const std::string &name, bool has_tools) const {
    if (!name.empty()) {
        auto it = named.find(name);
        if (it == named.end()) return std::nullopt;
        return it->second;
    }
    if (has_tools) {
        auto it = named.find("tool_use");
        if (it != named.end()) return it->second;
    }
    auto it = named.find("default");
    if (it != named.end()) return it->second;
    if (named.size() == 1) return named.begin()->second;
    return std::nullopt;
}

ModelTemplates load_model_templates(const std::string &model_dir) {
    ModelTemplates out;
    fs::path dir(model_dir);
    if (auto text = read_file(dir / "tokenizer_config.json")) {
        json cfg = parse(*text, dir / "tokenizer_config.json");
        if (cfg.is_object()) {
            if (cfg.contains("chat_template"))
                add_templates(cfg["chat_template"], out, dir / "tokenizer_config.json");
            for (auto it = cfg.begin(); it != cfg.end(); ++it) {
                const std::string &k = it.key();
                if (k.size() < 6 || k.compare(k.size() - 6, 6, "_token") != 0) continue;
                const json &v = it.value();
                if (v.is_string())
                    out.special_tokens[k] = v;
                else if (v.is_object() && v.contains("content") && v["content"].is_string())
                    out.special_tokens[k] = v["content"];
            }
        }
    }
    // The separate files take precedence over the config, as in transformers.
    if (auto text = read_file(dir / "chat_template.json")) {
        json j = parse(*text, dir / "chat_template.json");
        if (j.is_object() && j.contains("chat_template"))
            add_templates(j["chat_template"], out, dir / "chat_template.json");
    }
    if (auto text = read_file(dir / "chat_template.jinja")) out.named["default"] = *text;
    return out;
}

}  // namespace hfk::chat
