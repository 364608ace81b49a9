// apply_chat_template's rendering step.
#include "chat/chat_render.h"

namespace hfk::chat {

using json = nlohmann::ordered_json;

namespace {
[[noreturn]] void bad(const std::string &m) {
    throw TemplateError(ErrorKind::Runtime, m);
}

std::string rstrip(const std::string &s) {
    size_t e = s.size();
    while (e > 0 && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\n' || s[e - 1] == '\r' ||
                     s[e - 1] == '\f' || s[e - 1] == '\v'))
        --e;
    return s.substr(0, e);
}

std::string strip(const std::string &s) {
    std::string r = rstrip(s);
    size_t b = 0;
    while (b < r.size() && (r[b] == ' ' || r[b] == '\t' || r[b] == '\n' || r[b] == '\r' ||
                            r[b] == '\f' || r[b] == '\v'))
        ++b;
    return r.substr(b);
}
}  // namespace

ChatRequest parse_chat_request(const std::string &json_text) {
    json j = json::parse(json_text, nullptr, false);
    if (j.is_discarded()) bad("the conversation is not valid JSON");
    ChatRequest r;
    if (j.is_array()) {
        r.messages = j;
        return r;
    }
    if (!j.is_object()) bad("the conversation must be a JSON object or a list of messages");
    if (!j.contains("messages") || !j["messages"].is_array()) bad("\"messages\" must be a list");
    r.messages = j["messages"];
    if (j.contains("tools") && !j["tools"].is_null()) {
        if (!j["tools"].is_array()) bad("\"tools\" must be a list of JSON schemas");
        r.tools = j["tools"];
    }
    if (j.contains("documents") && !j["documents"].is_null()) {
        if (!j["documents"].is_array()) bad("\"documents\" must be a list");
        for (const auto &d : j["documents"])
            if (!d.is_object()) bad("documents must be objects with title and text");
        r.documents = j["documents"];
    }
    if (j.contains("add_generation_prompt"))
        r.add_generation_prompt =
            j["add_generation_prompt"].is_boolean() && j["add_generation_prompt"].get<bool>();
    if (j.contains("continue_final_message"))
        r.continue_final_message =
            j["continue_final_message"].is_boolean() && j["continue_final_message"].get<bool>();
    if (j.contains("extra") && !j["extra"].is_null()) {
        if (!j["extra"].is_object()) bad("\"extra\" must be an object of template variables");
        r.extra = j["extra"];
    }
    for (const auto &m : r.messages)
        if (!m.is_object()) bad("each message must be an object");
    return r;
}

std::string render_chat(const Template &tpl, const std::string &template_source,
                        const json &special_tokens, const ChatRequest &req,
                        const RenderOptions &opt) {
    static const std::string kTag = "CONTINUE_FINAL_MESSAGE_TAG ";
    json messages = req.messages;
    std::string final_message;
    if (req.continue_final_message) {
        if (req.add_generation_prompt)
            bad("continue_final_message and add_generation_prompt are not compatible");
        if (messages.empty()) bad("continue_final_message needs a final message");
        json &last = messages.back();
        if (!last.contains("content") || last["content"].is_null())
            bad("continue_final_message is set but the final message has no \"content\" to "
                "continue!");
        if (template_source.find("content") == std::string::npos)
            bad("continue_final_message is set to \"content\" but this is not an accepted field in "
                "the chat_template");
        json &content = last["content"];
        if (content.is_array()) {
            bool found = false;
            for (auto it = content.rbegin(); it != content.rend(); ++it) {
                if (it->is_object() && it->contains("text") && (*it)["text"].is_string()) {
                    final_message = (*it)["text"].get<std::string>();
                    (*it)["text"] = final_message + kTag;
                    found = true;
                    break;
                }
            }
            if (!found)
                bad("continue_final_message is set but we could not find any text to continue in "
                    "the final message!");
        } else if (content.is_string()) {
            final_message = content.get<std::string>();
            content = final_message + kTag;
        } else {
            bad("the final message's content must be text to continue it");
        }
    }
    json vars = json::object();
    for (auto it = special_tokens.begin(); it != special_tokens.end(); ++it)
        vars[it.key()] = it.value();
    vars["messages"] = messages;
    vars["tools"] = req.tools;
    vars["documents"] = req.documents;
    vars["add_generation_prompt"] = req.add_generation_prompt;
    for (auto it = req.extra.begin(); it != req.extra.end(); ++it) vars[it.key()] = it.value();
    std::string out = tpl.render_json(vars, opt);
    if (req.continue_final_message) {
        const std::string tag = rstrip(kTag);
        if (out.find(strip(final_message)) == std::string::npos ||
            out.find(tag) == std::string::npos)
            bad("continue_final_message is set but the final message does not appear in the chat "
                "after applying the chat template");
        size_t loc = out.rfind(tag);
        if (out.compare(loc, kTag.size(), kTag) == 0)
            out.resize(loc);
        else
            out = rstrip(out.substr(0, loc));
    }
    return out;
}

std::string turn_terminator(const Template &tpl, const json &special_tokens) {
    static const std::string kMark = "HFK_TURN_END_PROBE_7f3a";
    json vars = json::object();
    for (auto it = special_tokens.begin(); it != special_tokens.end(); ++it) vars[it.key()] = it.value();
    vars["messages"] = json::array({{{"role", "user"}, {"content", "Hi"}},
                                    {{"role", "assistant"}, {"content", kMark}}});
    vars["tools"] = nullptr;
    vars["documents"] = nullptr;
    vars["add_generation_prompt"] = false;
    std::string out;
    try {
        out = tpl.render_json(vars);
    } catch (const TemplateError &) {
        return "";
    }
    size_t at = out.rfind(kMark);
    if (at == std::string::npos) return "";
    std::string rest = out.substr(at + kMark.size());
    rest = rest.substr(0, rest.find('\n'));
    rest = strip(rest);
    return rest.size() <= 64 ? rest : "";
}

}  // namespace hfk::chat
