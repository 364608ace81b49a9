// Render time of the longest shared chat template (with tools) over a 10-message conversation
// with tool calls and results, and the parse time of the same template. Prints only.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "chat/chat_render.h"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

fs::path longest_template() {
    const char *e = std::getenv("HFK_SHARED_DIR");
    fs::path dir = fs::path(e && *e ? e : HFK_SHARED_DIR_DEFAULT) / "reference/chat/templates";
    fs::path best;
    uintmax_t size = 0;
    for (const auto &f : fs::directory_iterator(dir))
        if (f.path().extension() == ".jinja" && f.file_size() > size) {
            size = f.file_size();
            best = f.path();
        }
    return best;
}

std::string read(const fs::path &p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

hfk::chat::ChatRequest ten_messages() {
    json tool = {{"type", "function"},
                 {"function",
                  {{"name", "get_weather"},
                   {"description", "Get the weather"},
                   {"parameters",
                    {{"type", "object"},
                     {"properties", {{"city", {{"type", "string"}}}}},
                     {"required", {"city"}}}}}}};
    json call = {{"type", "function"},
                 {"function", {{"name", "get_weather"}, {"arguments", {{"city", "Paris"}}}}}};
    json msgs = json::array({{{"role", "system"}, {"content", "You are helpful."}}});
    for (int i = 0; i < 3; ++i) {
        msgs.push_back(
            {{"role", "user"}, {"content", "Weather in Paris, turn " + std::to_string(i) + "?"}});
        msgs.push_back({{"role", "assistant"}, {"content", ""}, {"tool_calls", {call}}});
        msgs.push_back({{"role", "tool"}, {"content", "{\"temp\": 21}"}});
    }
    msgs.push_back({{"role", "user"}, {"content", "Thanks!"}});
    hfk::chat::ChatRequest r;
    r.messages = msgs;
    r.tools = json::array({tool, tool});
    r.add_generation_prompt = true;
    return r;
}

void BM_RenderLongestTemplateWithTools(benchmark::State &state) {
    const fs::path path = longest_template();
    const std::string source = read(path);
    const hfk::chat::Template tpl(source);
    const auto req = ten_messages();
    const json tokens = {{"bos_token", "<s>"}, {"eos_token", "</s>"}};
    hfk::chat::RenderOptions opt;
    opt.strftime_now = [](const std::string &) { return std::string("26 Jul 2024"); };
    size_t bytes = 0;
    for (auto _ : state) {
        std::string out = hfk::chat::render_chat(tpl, source, tokens, req, opt);
        bytes = out.size();
        benchmark::DoNotOptimize(out);
    }
    state.SetLabel(path.filename().string() + ", " + std::to_string(bytes) + " bytes out");
}
BENCHMARK(BM_RenderLongestTemplateWithTools)->Unit(benchmark::kMicrosecond);

void BM_ParseLongestTemplate(benchmark::State &state) {
    const std::string source = read(longest_template());
    for (auto _ : state) {
        hfk::chat::Template tpl(source);
        benchmark::DoNotOptimize(tpl);
    }
}
BENCHMARK(BM_ParseLongestTemplate)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
