// Where a model's chat template comes from: chat_template in tokenizer_config.json (a string,
// or a list of {name, template}), chat_template.jinja, chat_template.json; and the special-token
// strings the template may use (bos_token, eos_token, ... any *_token in the config).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace hfk::chat {

struct ModelTemplates {
    std::map<std::string, std::string> named;  // "default", "tool_use", ...
    nlohmann::ordered_json special_tokens = nlohmann::ordered_json::object();

    bool empty() const { return named.empty(); }
    // The template for `name` ("" -> "default"; with tools and no name, "tool_use" if present).
    std::optional<std::string> pick(const std::string &name, bool has_tools) const;
};

// Reads the files of a local model directory; missing files are fine (empty result).
// Throws TemplateError(Runtime) when a file exists but is malformed.
ModelTemplates load_model_templates(const std::string &model_dir);

}  // namespace hfk::chat
