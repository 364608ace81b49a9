// hfkit run [MODEL] PROMPT: stream a continuation of PROMPT to stdout.
#include <unistd.h>

#include <cstdio>
#include <string>

#include "cli.h"
#include "constraint_options.h"
#include "generate_options.h"
#include "line_input.h"
#include "run_input.h"

namespace cli {
namespace {

const char *const kHelp =
    "usage: hfkit run [MODEL] PROMPT [options]\n"
    "\n"
    "Streams a continuation of PROMPT to stdout. MODEL is a checkpoint directory or a Hub id\n"
    "(\"gpt2\", \"org/name\"; downloaded into the cache first, with progress on stderr);\n"
    "without it, the small model shipped with hfkit runs. PROMPT \"-\" reads the prompt from\n"
    "stdin (one trailing newline dropped), and so does a lone MODEL when stdin is not a\n"
    "terminal; a lone word that names a model on a terminal is an error (prompt missing).\n"
    "\n"
    "options:\n";

int32_t print_piece(const char *piece, size_t len, void *) {
    std::fwrite(piece, 1, len, stdout);
    std::fflush(stdout);
    return 0;
}

const char *stop_reason_name(hfk_stop_reason r) {
    switch (r) {
        case HFK_STOP_EOS:  // the C API's names (HFK_STOP_*), as the Python package has them
            return "eos";
        case HFK_STOP_STRING:
            return "stop_string";
        case HFK_STOP_MAX_TOKENS:
            return "max_tokens";
        case HFK_STOP_CONTEXT_FULL:
            return "context_full";
        case HFK_STOP_CALLBACK:
            return "callback";
        case HFK_STOP_CANCELLED:
            return "cancelled";
        case HFK_STOP_CONSTRAINT_INCOMPLETE:
            return "constraint_incomplete";
        default:
            return "none";
    }
}

}  // namespace

int cmd_run(int argc, char **argv) {
    std::vector<std::string> value_options = kGenValueOptions;
    value_options.insert(value_options.end(), kHubValueOptions.begin(), kHubValueOptions.end());
    value_options.insert(value_options.end(), {"system", "chat-template"});
    value_options.insert(value_options.end(), kConstraintValueOptions.begin(),
                         kConstraintValueOptions.end());
    const Args a = parse_args(argc, argv, 2, value_options,
                              {"help", "stats", "json", "quiet", "offline", "chat",
                               "skip-resource-check", "keep-embeddings"});
    if (a.flag("help")) {
        std::printf(
            "%s%s  --stats                print tokens/s and time to first token to stderr\n"
            "  --json                 print one JSON object instead of streaming\n"
            "  --quiet                no progress on stderr\n"
            "  --chat                 PROMPT is a user message: one chat turn with the model's\n"
            "                         chat template (--system TEXT, --chat-template FILE)\n%s%s",
            kHelp, kGenOptionsHelp, kConstraintOptionsHelp, kHubOptionsHelp);
        return kOk;
    }
    const RunInput input = resolve_run_input(a.positional, isatty(0) == 1);
    const std::string model_dir = input.model.empty() ? default_model_dir() : input.model;

    hfk_gen_params gp;
    HFK_GEN_PARAMS_INIT(&gp);
    std::vector<std::string> stops;
    std::vector<const char *> stop_ptrs;
    apply_gen_options(a, gp, stops, stop_ptrs);
    std::string constraint_text;
    apply_constraint_options(a, gp, constraint_text);
    const int32_t n_threads = thread_option(a);
    const int32_t n_ctx = context_option(a);
    const int32_t kv_dtype = kv_dtype_option(a);
    const int32_t compute = compute_option(a);
    const bool json = a.flag("json");
    std::string prompt = input.prompt;
    if (input.prompt_from_stdin) {
        prompt = read_prompt(stdin, n_ctx > 0 ? max_prompt_bytes(n_ctx) : kMaxStdinPrompt);
        if (prompt.empty() && !input.model.empty() && a.positional.size() == 1)
            throw UsageError{"'" + terminal_safe(input.model) +
                             "' names a model but the prompt is missing (stdin was empty)"};
    }

    const HubOptions hub(a);
    hfk_model *model = nullptr;
    if (hfk_status s =
            load_model(model_dir, n_threads, a.flag("quiet") || json, &model, &hub.params, n_ctx,
                       a.flag("skip-resource-check"), quant_option(a), a.flag("keep-embeddings")))
        return fail("cannot load " + model_dir, s);
    hfk_session_params sp;
    HFK_SESSION_PARAMS_INIT(&sp);
    sp.n_ctx = n_ctx;
    sp.n_threads = n_threads;
    sp.kv_dtype = kv_dtype;
    sp.compute = compute;
    if (input.prompt_from_stdin) {
        try {
            check_prompt_size(prompt, n_ctx > 0 ? n_ctx : hfk_model_context_length(model));
        } catch (const UsageError &) {
            hfk_model_free(model);
            throw;
        }
    }
    hfk_session *session = nullptr;
    hfk_status s = hfk_session_create(&session, model, &sp);
    hfk_model_free(model);  // the session keeps what it needs
    if (s != HFK_OK) return fail("cannot start a session", s);

    hfk_gen_result result;
    HFK_GEN_RESULT_INIT(&result);
    char *text = nullptr;
    {
        InterruptGuard guard([session] { hfk_session_cancel(session); });
        if (a.flag("chat"))
            s = chat_turn(session, prompt, a.get("system").value_or(""),
                          a.get("chat-template").value_or(""), gp, json ? nullptr : print_piece,
                          &text, &result);
        else
            s = hfk_session_generate(session, prompt.c_str(), &gp, json ? nullptr : print_piece,
                                     nullptr, &text, &result);
    }
    if (!json && s != HFK_E_CANCELLED && text && *text) std::printf("\n");
    int code = kOk;
    if (s == HFK_E_CANCELLED) {
        std::fprintf(stderr, "\nhfkit: interrupted\n");
        code = kInterrupted;
    } else if (s != HFK_OK) {
        code = fail("generation failed", s);
    } else if (result.stop_reason == HFK_STOP_CONSTRAINT_INCOMPLETE) {
        std::fprintf(stderr,
                     "hfkit: the output is incomplete: the tokens (--max-tokens) or the context "
                     "ran out before it matched the constraint\n");
        code = kError;
    }
    if (json && (s == HFK_OK || s == HFK_E_CANCELLED)) {
        std::printf(
            "{\"text\": %s, \"stop_reason\": \"%s\", \"n_prompt_tokens\": %d, "
            "\"n_reused_tokens\": %d, \"n_generated_tokens\": %d, "
            "\"time_to_first_token_ms\": %.3f, "
            "\"prefill_tokens_per_s\": %.1f, \"decode_tokens_per_s\": %.1f}\n",
            json_string(text ? text : "").c_str(), stop_reason_name(result.stop_reason),
            result.n_prompt_tokens, result.n_reused_tokens, result.n_generated_tokens,
            result.time_to_first_token_ms, result.prefill_tokens_per_s, result.decode_tokens_per_s);
    }
    if (a.flag("stats") && (s == HFK_OK || s == HFK_E_CANCELLED))
        std::fprintf(stderr,
                     "[%d prompt tokens, %d generated, stop: %s; first token %.1f ms, "
                     "prefill %.1f tok/s, decode %.1f tok/s]\n",
                     result.n_prompt_tokens, result.n_generated_tokens,
                     stop_reason_name(result.stop_reason), result.time_to_first_token_ms,
                     result.prefill_tokens_per_s, result.decode_tokens_per_s);
    hfk_free(text);
    hfk_session_free(session);
    return code;
}

}  // namespace cli
