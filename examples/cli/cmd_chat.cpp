// hfkit chat [MODEL]: an interactive multi-turn loop on one session (plain prompt format until
// chat templates exist: each turn is "User: ...\nAssistant:" and the reply stops at "\nUser:").
#include <cstdio>
#include <string>

#include "cli.h"
#include "generate_options.h"
#include "line_input.h"

namespace cli {
namespace {

int32_t print_piece(const char *piece, size_t len, void *) {
    std::fwrite(piece, 1, len, stdout);
    std::fflush(stdout);
    return 0;
}

}  // namespace

int cmd_chat(int argc, char **argv) {
    std::vector<std::string> value_options = kGenValueOptions;
    value_options.insert(value_options.end(), kHubValueOptions.begin(), kHubValueOptions.end());
    const Args a = parse_args(argc, argv, 2, value_options, {"help", "offline"});
    if (a.flag("help")) {
        std::printf(
            "usage: hfkit chat [MODEL] [options]\n\n"
            "A conversation on one session: the model keeps the whole exchange in its\n"
            "context. Type /reset to start over, /quit or Ctrl-D to leave; Ctrl-C stops a\n"
            "reply. MODEL is a checkpoint directory or a Hub id (downloaded first).\n\n"
            "options:\n%s%s",
            kGenOptionsHelp, kHubOptionsHelp);
        return kOk;
    }
    if (a.positional.size() > 1) throw UsageError{"chat takes at most one MODEL"};
    const std::string model_dir = a.positional.empty() ? default_model_dir() : a.positional[0];
    hfk_gen_params gp;
    HFK_GEN_PARAMS_INIT(&gp);
    std::vector<std::string> stops = {"\nUser:"};
    std::vector<const char *> stop_ptrs;
    apply_gen_options(a, gp, stops, stop_ptrs);
    const int32_t n_threads = thread_option(a);
    const int32_t n_ctx = context_option(a);  // checked before the model loads

    const HubOptions hub(a);
    hfk_model *model = nullptr;
    if (hfk_status s = load_model(model_dir, n_threads, false, &model, &hub.params))
        return fail("cannot load " + model_dir, s);
    hfk_session_params sp;
    HFK_SESSION_PARAMS_INIT(&sp);
    sp.n_ctx = n_ctx;
    sp.n_threads = n_threads;
    // A line longer than the context's worth of bytes cannot fit: refuse it before reading more.
    const size_t max_line =
        max_prompt_bytes(sp.n_ctx > 0 ? sp.n_ctx : hfk_model_context_length(model));
    hfk_session *session = nullptr;
    hfk_status s = hfk_session_create(&session, model, &sp);
    hfk_model_free(model);
    if (s != HFK_OK) return fail("cannot start a session", s);

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
        s = hfk_session_generate(session, turn.c_str(), &gp, print_piece, nullptr, nullptr,
                                 nullptr);
        std::printf("\n");
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

}  // namespace cli
