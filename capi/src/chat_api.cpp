// C ABI: chat templates. Rendering a JSON conversation with a model's own template (or the
// caller's), and a chat turn on a session that re-renders the whole conversation and reuses
// the KV cache for the common token prefix.
#include <filesystem>
#include <string>

#include "chat/chat_render.h"
#include "chat/model_templates.h"
#include "guard.h"
#include "handles.h"
#include "hub/hub.h"
#include "runtime/model_opening.h"
#include "session_run.h"

using hfk::capi::guard;
using hfk::capi::set_error;
using json = nlohmann::ordered_json;

namespace {

// Template errors as hfk::Error, so guard() gives the documented statuses.
[[noreturn]] void rethrow_template_error(const hfk::chat::TemplateError &e) {
    using hfk::chat::ErrorKind;
    switch (e.kind()) {
        case ErrorKind::Resource:
            throw hfk::Error(HFK_E_RESOURCE, std::string("chat template: ") + e.what());
        case ErrorKind::Raised:
            throw hfk::Error(HFK_E_FORMAT, e.what());
        case ErrorKind::Syntax:
            throw hfk::Error(HFK_E_FORMAT, std::string("chat template syntax: ") + e.what());
        case ErrorKind::Runtime:
            break;
    }
    throw hfk::Error(HFK_E_FORMAT, std::string("chat template: ") + e.what());
}

struct Rendered {
    std::string text;
    std::string terminator;  // the template's end of an assistant turn
};

hfk::chat::ChatRequest parse_request(const char *conversation_json) {
    try {
        return hfk::chat::parse_chat_request(conversation_json);
    } catch (const hfk::chat::TemplateError &e) {
        throw hfk::Error(HFK_E_INVALID_ARG, e.what());
    }
}

// Renders with the template found in `dir` (may be empty) or `caller_template`.
Rendered render(const std::string &dir, const char *caller_template,
                const hfk::chat::ChatRequest &req, bool want_terminator) {
    hfk::chat::ModelTemplates mt;
    try {
        if (!dir.empty()) mt = hfk::chat::load_model_templates(dir);
    } catch (const hfk::chat::TemplateError &e) {
        throw hfk::Error(HFK_E_FORMAT, e.what());
    }
    std::string source;
    if (caller_template) {
        source = caller_template;
    } else {
        auto picked = mt.pick("", !req.tools.is_null());
        if (!picked)
            throw hfk::Error(HFK_E_NOT_FOUND,
                             "the model has no chat template (a base model?): pass one as "
                             "chat_template");
        source = *picked;
    }
    Rendered r;
    try {
        hfk::chat::Template tpl(source);
        r.text = hfk::chat::render_chat(tpl, source, mt.special_tokens, req);
        if (want_terminator) r.terminator = hfk::chat::turn_terminator(tpl, mt.special_tokens);
    } catch (const hfk::chat::TemplateError &e) {
        rethrow_template_error(e);
    }
    return r;
}

// The directory of an opened model: its local path, or its snapshot in the Hub cache.
std::string model_dir(const hfk_model *model) {
    if (hfk::is_local_model_path(model->source)) return model->source;
    auto snap =
        hfk::hub::find_cached(model->source, model->source_revision, model->source_cache_dir);
    if (!snap) throw hfk::Error(HFK_E_NOT_FOUND, "the model's files are not in the cache");
    return snap->dir.string();
}

}  // namespace

hfk::capi::ChatTurn hfk::capi::prepare_chat_turn(const std::string &dir, const char *chat_template,
                                                 const char *conversation_json,
                                                 const hfk::Tokenizer &tok) {
    hfk::chat::ChatRequest req = parse_request(conversation_json);
    if (!req.continue_final_message) req.add_generation_prompt = true;
    // A caller's template still gets the model's special tokens (bos_token, ...), as in
    // hfk_chat_render.
    if (!chat_template && dir.empty())
        throw hfk::Error(HFK_E_NOT_FOUND, "the model's files are not known: pass chat_template");
    Rendered r = render(dir, chat_template, req, true);
    ChatTurn turn;
    turn.text = std::move(r.text);
    turn.terminator = std::move(r.terminator);
    if (!turn.terminator.empty()) {
        // The terminator as one vocabulary entry (special tokens such as <|im_end|>, or plain
        // ones); else only the stop string catches it in the text.
        int32_t id = tok.token_to_id(turn.terminator);
        if (id < 0) {
            auto ids = tok.encode(turn.terminator, false);
            if (ids.size() == 1) id = ids[0];
        }
        if (id >= 0) turn.stop_ids.push_back(id);
    }
    return turn;
}

std::string hfk::capi::model_source_dir(const hfk_model *model) noexcept {
    try {
        return model_dir(model);
    } catch (...) {
        return "";
    }
}

extern "C" {

HFK_API hfk_status hfk_chat_render_dir(const char *model_dir_path, const char *conversation_json,
                                       const char *chat_template, char **text_out) noexcept {
    HFK_REQUIRE_ARG(text_out);
    *text_out = nullptr;
    HFK_REQUIRE_ARG(conversation_json);
    if (!model_dir_path && !chat_template)
        return set_error(HFK_E_INVALID_ARG, "give a model directory or a chat_template");
    return guard([&]() -> hfk_status {
        if (model_dir_path && !std::filesystem::is_directory(model_dir_path))
            throw hfk::Error(HFK_E_NOT_FOUND, std::string("not a directory: ") + model_dir_path);
        Rendered r = render(model_dir_path ? model_dir_path : "", chat_template,
                            parse_request(conversation_json), false);
        *text_out = hfk::capi::dup_string(r.text);
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_chat_render(const hfk_model *model, const char *conversation_json,
                                   const char *chat_template, char **text_out) noexcept {
    HFK_REQUIRE_ARG(text_out);
    *text_out = nullptr;
    HFK_REQUIRE_ARG(model);
    HFK_REQUIRE_ARG(conversation_json);
    return guard([&]() -> hfk_status {
        if (!hfk::capi::ready_core(model))
            return set_error(HFK_E_STATE, "the model is not ready (hfk_model_wait)");
        Rendered r =
            render(model_dir(model), chat_template, parse_request(conversation_json), false);
        *text_out = hfk::capi::dup_string(r.text);
        return HFK_OK;
    });
}

HFK_API hfk_status hfk_session_chat(hfk_session *session, const char *conversation_json,
                                    const char *chat_template, const hfk_gen_params *params,
                                    hfk_piece_cb on_piece, void *user_data, char **text_out,
                                    hfk_gen_result *result_out) noexcept {
    if (text_out) *text_out = nullptr;
    HFK_REQUIRE_ARG(session);
    HFK_REQUIRE_ARG(conversation_json);
    hfk::capi::ChatTurn turn;
    hfk_status s = guard([&]() -> hfk_status {
        // The session's model was opened from a path or the Hub cache; the tokenizer knows no
        // directory, so the template comes from where the model handle came from.
        turn = hfk::capi::prepare_chat_turn(session->source_dir, chat_template, conversation_json,
                                            *session->core->lm->tokenizer);
        return HFK_OK;
    });
    if (s != HFK_OK) return s;
    return hfk::capi::session_generate(
        session, "", params, on_piece, user_data, text_out, result_out,
        [&](hfk::Session &sess, hfk::GenerateOptions &opts) {
            sess.replace_conversation(turn.text);
            opts.add_special_tokens = false;
            opts.stop_ids.insert(opts.stop_ids.end(), turn.stop_ids.begin(), turn.stop_ids.end());
            if (!turn.terminator.empty()) opts.stop_strings.push_back(turn.terminator);
        });
}

}  // extern "C"
