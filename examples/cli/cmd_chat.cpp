// hfkit chat [MODEL]: an interactive multi-turn loop on one session. The conversation is
// rendered with the model's chat template each turn (the session reuses the common prefix);
// --no-template keeps the plain format ("User: ...\nAssistant:", stopping at "\nUser:").
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli.h"
#include "constraint_options.h"
#include "generate_options.h"
#include "line_input.h"

namespace cli {
namespace {

int32_t print_piece(const char *piece, size_t len, void *) {
    std::fwrite(piece, 1, len, stdout);
    std::fflush(stdout);
    return 0;
}

// A constrained reply cut short is not a valid output: say so (the turn still counts).
void note_incomplete(const hfk_gen_result &result) {
    if (result.stop_reason == HFK_STOP_CONSTRAINT_INCOMPLETE)
        std::fprintf(stderr,
                     "hfkit: the reply is incomplete: the tokens (--max-tokens) or the context "
                     "ran out before it matched the constraint\n");
}

}  // namespace

// The templated loop: the whole conversation as messages, one hfk_session_chat per turn.
static int chat_with_template(hfk_session *session, const char *tpl, const std::string &system,
                              const hfk_gen_params &gp) {
    using json = nlohmann::ordered_json;
    json messages = json::array();
    auto restart = [&] {
        messages = json::array();
        if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
    };
    restart();
    InterruptGuard guard([session] { hfk_session_cancel(session); });
    std::string line;
    for (;;) {
        std::printf("> ");
        std::fflush(stdout);
        if (!std::getline(std::cin, line) || line == "/quit") break;
        if (line == "/reset") {
            if (hfk_session_reset(session) != HFK_OK) return fail("reset", HFK_E_INTERNAL);
            restart();
            std::printf("(conversation cleared)\n");
            continue;
        }
        if (line.rfind("/save ", 0) == 0) {
            const std::string file = line.substr(6);
            std::ofstream f(file, std::ios::binary);
            f << messages.dump(2) << "\n";
            if (!f)
                std::fprintf(stderr, "hfkit: cannot write %s\n", file.c_str());
            else
                std::printf("(conversation saved to %s)\n", file.c_str());
            continue;
        }
        messages.push_back({{"role", "user"}, {"content", line}});
        const std::string conv = json{{"messages", messages}}.dump();
        char *reply = nullptr;
        hfk_gen_result result;
        HFK_GEN_RESULT_INIT(&result);
        hfk_status s = hfk_session_chat(session, conv.c_str(), tpl, &gp, print_piece, nullptr,
                                        &reply, &result);
        std::printf("\n");
        if (s == HFK_OK) note_incomplete(result);
        if (s == HFK_OK || s == HFK_E_CANCELLED) {
            messages.push_back({{"role", "assistant"}, {"content", reply ? reply : ""}});
            if (s == HFK_E_CANCELLED) std::fprintf(stderr, "(reply stopped)\n");
        } else if (s == HFK_E_CONTEXT_FULL) {
            messages.erase(messages.end() - 1);
            std::fprintf(stderr, "hfkit: the context is full; type /reset to start over\n");
        } else {
            hfk_free(reply);
            return fail("chat failed", s);
        }
        hfk_free(reply);
    }
    return kOk;
}

static std::string read_text_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw UsageError{"cannot read " + path};
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

int cmd_chat(int argc, char **argv) {
    std::vector<std::string> value_options = kGenValueOptions;
    value_options.insert(value_options.end(), kHubValueOptions.begin(), kHubValueOptions.end());
    value_options.push_back("system");
    value_options.push_back("chat-template");
    value_options.insert(value_options.end(), kConstraintValueOptions.begin(),
                         kConstraintValueOptions.end());
    const Args a =
        parse_args(argc, argv, 2, value_options,
                   {"help", "offline", "no-template", "skip-resource-check", "keep-embeddings"});
    if (a.flag("help")) {
        std::printf(
            "usage: hfkit chat [MODEL] [options]\n\n"
            "A conversation on one session, formatted by the model's own chat template;\n"
            "each turn reuses the context of the previous ones. Type /reset to start over,\n"
            "/save FILE to write the conversation as JSON, /quit or Ctrl-D to leave; Ctrl-C\n"
            "stops a reply. MODEL is a checkpoint directory or a Hub id (downloaded first).\n\n"
            "options:\n"
            "  --system TEXT         a system message first\n"
            "  --chat-template FILE  a Jinja chat template to use (required for base models)\n"
            "  --no-template         the plain \"User: ...\\nAssistant:\" format instead\n"
            "%s%s"
            "                         (in chat: each assistant turn is constrained on its\n"
            "                         own; an incomplete one is reported and the chat goes on)\n"
            "%s",
            kGenOptionsHelp, kConstraintOptionsHelp, kHubOptionsHelp);
        return kOk;
    }
    if (a.positional.size() > 1) throw UsageError{"chat takes at most one MODEL"};
    const std::string model_dir = a.positional.empty() ? default_model_dir() : a.positional[0];
    hfk_gen_params gp;
    HFK_GEN_PARAMS_INIT(&gp);
    const bool plain = a.flag("no-template");
    std::vector<std::string> stops;
    if (plain) stops.push_back("\nUser:");
    std::vector<const char *> stop_ptrs;
    apply_gen_options(a, gp, stops, stop_ptrs);
    std::string constraint_text;
    apply_constraint_options(a, gp, constraint_text);
    const int32_t n_threads = thread_option(a);
    const int32_t n_ctx = context_option(a);  // checked before the model loads
    const int32_t kv_dtype = kv_dtype_option(a);
    const int32_t compute = compute_option(a);

    const HubOptions hub(a);
    hfk_model *model = nullptr;
    if (hfk_status s =
            load_model(model_dir, n_threads, false, &model, &hub.params, n_ctx,
                       a.flag("skip-resource-check"), quant_option(a), a.flag("keep-embeddings")))
        return fail("cannot load " + model_dir, s);
    std::string tpl_source;
    if (auto file = a.get("chat-template")) tpl_source = read_text_file(*file);
    const char *tpl = tpl_source.empty() ? nullptr : tpl_source.c_str();
    if (!plain) {
        char *probe = nullptr;
        hfk_status ps = hfk_chat_render(model, "[]", tpl, &probe);
        hfk_free(probe);
        if (ps == HFK_E_NOT_FOUND) {
            hfk_model_free(model);
            std::fprintf(stderr,
                         "hfkit: %s has no chat template (a base model?): give one with "
                         "--chat-template FILE, or use --no-template for a plain "
                         "User:/Assistant: exchange\n",
                         model_dir.c_str());
            return kUsage;
        }
    }
    hfk_session_params sp;
    HFK_SESSION_PARAMS_INIT(&sp);
    sp.n_ctx = n_ctx;
    sp.n_threads = n_threads;
    sp.kv_dtype = kv_dtype;
    sp.compute = compute;
    // A line longer than the context's worth of bytes cannot fit: refuse it before reading more.
    const size_t max_line =
        max_prompt_bytes(sp.n_ctx > 0 ? sp.n_ctx : hfk_model_context_length(model));
    hfk_session *session = nullptr;
    hfk_status s = hfk_session_create(&session, model, &sp);
    hfk_model_free(model);
    if (s != HFK_OK) return fail("cannot start a session", s);

    if (!plain) {
        const int rc = chat_with_template(session, tpl, a.get("system").value_or(""), gp);
        hfk_session_free(session);
        return rc;
    }
    int code = kOk;
    InterruptGuard guard([session] { hfk_session_cancel(session); });
    std::string line;
    bool first_turn = true;
    for (;;) {
        std::printf("> ");
        std::fflush(stdout);
        const LineStatus got = read_line(stdin, max_line, line);
        if (got == LineStatus::kTooLong) {
            std::fprintf(stderr,
                         "\nhfkit chat: a line longer than %zu bytes cannot fit the context\n",
                         max_line);
            code = kUsage;
            break;
        }
        if (got == LineStatus::kEnd || line == "/quit") break;
        if (line == "/reset") {
            if (hfk_session_reset(session) != HFK_OK) return fail("reset", HFK_E_INTERNAL);
            std::printf("(conversation cleared)\n");
            first_turn = true;
            continue;
        }
        // The reply stopped before "\nUser:", so the next turn starts on a new line.
        const std::string turn = (first_turn ? "User: " : "\nUser: ") + line + "\nAssistant:";
        first_turn = false;
        hfk_gen_result result;
        HFK_GEN_RESULT_INIT(&result);
        s = hfk_session_generate(session, turn.c_str(), &gp, print_piece, nullptr, nullptr,
                                 &result);
        std::printf("\n");
        if (s == HFK_OK) note_incomplete(result);
        if (s == HFK_E_CANCELLED) {
            std::fprintf(stderr, "(reply stopped)\n");
        } else if (s == HFK_E_CONTEXT_FULL) {
            std::fprintf(stderr, "hfkit: the context is full; type /reset to start over\n");
        } else if (s != HFK_OK) {
            code = fail("generation failed", s);
            break;
        }
    }
    hfk_session_free(session);
    return code;
}

hfk_status chat_turn(hfk_session *session, const std::string &user, const std::string &system,
                     const std::string &template_file, const hfk_gen_params &gp,
                     hfk_piece_cb on_piece, char **text, hfk_gen_result *result) {
    using json = nlohmann::ordered_json;
    json messages = json::array();
    if (!system.empty()) messages.push_back({{"role", "system"}, {"content", system}});
    messages.push_back({{"role", "user"}, {"content", user}});
    const std::string tpl = template_file.empty() ? "" : read_text_file(template_file);
    const std::string conv = json{{"messages", messages}}.dump();
    return hfk_session_chat(session, conv.c_str(), tpl.empty() ? nullptr : tpl.c_str(), &gp,
                            on_piece, nullptr, text, result);
}

}  // namespace cli
