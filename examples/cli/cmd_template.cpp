// hfkit template MODEL --messages FILE.json [--tools FILE.json]: prints a conversation rendered
// with the model's chat template (or --chat-template FILE), for debugging prompts.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli.h"

namespace cli {
namespace {

std::string read_file_or_throw(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw UsageError{"cannot read " + path};
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

nlohmann::ordered_json parse_json_file(const std::string &path) {
    auto j = nlohmann::ordered_json::parse(read_file_or_throw(path), nullptr, false);
    if (j.is_discarded()) throw UsageError{path + " is not valid JSON"};
    return j;
}

}  // namespace

int cmd_template(int argc, char **argv) {
    std::vector<std::string> value_options = kHubValueOptions;
    for (const char *o : {"messages", "tools", "chat-template", "extra"})
        value_options.push_back(o);
    const Args a =
        parse_args(argc, argv, 2, value_options,
                   {"help", "offline", "add-generation-prompt", "continue-final-message"});
    if (a.flag("help")) {
        std::printf(
            "usage: hfkit template MODEL --messages FILE.json [options]\n\n"
            "Prints the conversation in FILE.json (a list of messages, or an object with\n"
            "\"messages\", \"tools\", ...) rendered by MODEL's chat template.\n\n"
            "options:\n"
            "  --tools FILE.json         tool JSON schemas (a list)\n"
            "  --extra FILE.json         more template variables (an object, e.g. "
            "enable_thinking)\n"
            "  --add-generation-prompt   end with the assistant's header\n"
            "  --continue-final-message  leave the final message open\n"
            "  --chat-template FILE      use this Jinja template instead of the model's\n%s",
            kHubOptionsHelp);
        return kOk;
    }
    if (a.positional.size() != 1) throw UsageError{"template takes one MODEL"};
    auto messages_file = a.get("messages");
    if (!messages_file) throw UsageError{"template needs --messages FILE.json"};
    nlohmann::ordered_json conv = parse_json_file(*messages_file);
    if (conv.is_array()) conv = {{"messages", conv}};
    if (auto tools = a.get("tools")) conv["tools"] = parse_json_file(*tools);
    if (auto extra = a.get("extra")) conv["extra"] = parse_json_file(*extra);
    if (a.flag("add-generation-prompt")) conv["add_generation_prompt"] = true;
    if (a.flag("continue-final-message")) conv["continue_final_message"] = true;
    std::string tpl_source;
    if (auto file = a.get("chat-template")) tpl_source = read_file_or_throw(*file);
    const char *tpl = tpl_source.empty() ? nullptr : tpl_source.c_str();

    const std::string &model_arg = a.positional[0];
    char *out = nullptr;
    hfk_status s;
    if (std::filesystem::is_directory(model_arg)) {
        s = hfk_chat_render_dir(model_arg.c_str(), conv.dump().c_str(), tpl, &out);
    } else {  // a Hub id: fetch it (or find it in the cache) first
        const HubOptions hub(a);
        hfk_model *model = nullptr;
        if (hfk_status ls = load_model(model_arg, 0, true, &model, &hub.params))
            return fail("cannot load " + model_arg, ls);
        s = hfk_chat_render(model, conv.dump().c_str(), tpl, &out);
        hfk_model_free(model);
    }
    if (s != HFK_OK) return fail("cannot render the template", s);
    std::fwrite(out, 1, std::strlen(out), stdout);
    hfk_free(out);
    return kOk;
}

}  // namespace cli
