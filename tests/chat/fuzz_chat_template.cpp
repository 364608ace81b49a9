// Fuzz target: parse and render arbitrary bytes as a template, with a small conversation and
// tight limits. Any TemplateError is fine; a crash, a hang or another exception is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "chat/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    using json = nlohmann::ordered_json;
    static const json vars = json::parse(R"({
        "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi {{ x }}"},
                     {"role": "assistant", "content": "", "tool_calls": [{"type": "function",
                      "function": {"name": "f", "arguments": {"a": 1}}}]},
                     {"role": "tool", "content": "42"}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
    hfk::chat::RenderOptions opt;
    opt.limits.max_output_bytes = 1 << 20;
    opt.limits.max_loop_iterations = 100000;
    opt.limits.max_steps = 2000000;
    opt.limits.max_range = 10000;
    opt.strftime_now = [](const std::string &) { return std::string("26 Jul 2024"); };
    try {
        hfk::chat::Template tpl(std::string(reinterpret_cast<const char *>(data), size));
        tpl.render_json(vars, opt);
    } catch (const hfk::chat::TemplateError &) {
    }
    return 0;
}
