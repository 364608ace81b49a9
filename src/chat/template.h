// A compiled Jinja chat template: parse once, render many times (thread-safe: render is const).
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "chat/error.h"
#include "chat/interpreter.h"

namespace hfk::chat {

struct RenderOptions {
    Limits limits;
    // strftime_now(format); empty -> the local clock. Tests pass a fixed clock.
    std::function<std::string(const std::string &)> strftime_now;
};

class Template {
  public:
    // Throws TemplateError(Syntax).
    explicit Template(const std::string &source);

    // Throws TemplateError (Runtime, Raised, Resource).
    std::string render(const Dict &vars, const RenderOptions &opt = {}) const;
    // `vars` is a JSON object; each key becomes a template variable.
    std::string render_json(const nlohmann::ordered_json &vars,
                            const RenderOptions &opt = {}) const;

  private:
    std::shared_ptr<Program> program_;
};

// The real clock's strftime (local time), as transformers' strftime_now.
std::string strftime_local_now(const std::string &format);

}  // namespace hfk::chat
