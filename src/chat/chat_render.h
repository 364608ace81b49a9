// Rendering a conversation the way transformers' apply_chat_template does: the variables it
// passes (messages, tools, documents, add_generation_prompt, special tokens, extra kwargs) and
// continue_final_message (render with a tag after the final message, then cut there).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "chat/template.h"

namespace hfk::chat {

struct ChatRequest {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    nlohmann::ordered_json tools;      // null: no tools (the template sees tools = none)
    nlohmann::ordered_json documents;  // null: none
    bool add_generation_prompt = false;
    bool continue_final_message = false;
    nlohmann::ordered_json extra = nlohmann::ordered_json::object();  // enable_thinking, ...
};

// Parses {"messages": [...], "tools": [...], "documents": [...], "add_generation_prompt": b,
// "continue_final_message": b, "extra": {...}} (or a bare list of messages). Throws
// TemplateError(Runtime) with a clear message on a malformed request.
ChatRequest parse_chat_request(const std::string &json_text);

// `special_tokens` is an object of name -> string (bos_token, eos_token, ...).
std::string render_chat(const Template &tpl, const std::string &template_source,
                        const nlohmann::ordered_json &special_tokens, const ChatRequest &req,
                        const RenderOptions &opt = {});

// The text a template puts right after an assistant message (up to the line end), e.g.
// "<|im_end|>" or "<|eot_id|>": where a generated turn ends. "" when it cannot be found.
std::string turn_terminator(const Template &tpl, const nlohmann::ordered_json &special_tokens);

}  // namespace hfk::chat
