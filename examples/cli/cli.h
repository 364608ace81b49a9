// Shared pieces of the hfkit command: argument parsing, errors, exit codes, Ctrl-C.
// The CLI uses only the public C API (hfkit.h): it is also the API's first real client.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "exit_codes.h"
#include "hfkit/hfkit.h"
#include "output.h"

namespace cli {

// Maps a failed status to its exit code (exit_codes.cpp) after printing
// "hfkit: <what>: <message> (<NAME>)".
int fail(const std::string &what, hfk_status status);

// A parsed command line: positional words and --options (value or flag).
struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::vector<std::string>> options;  // repeated options keep all values
    bool flag(const std::string &name) const { return options.count(name) > 0; }
    std::optional<std::string> get(const std::string &name) const;
    // Numeric getters (numeric_options.cpp): the whole value must be a number within the
    // range, else UsageError naming the option. Never truncated, wrapped or saturated.
    std::optional<int64_t> get_int(const std::string &name, int64_t min, int64_t max) const;
    std::optional<uint64_t> get_uint64(const std::string &name) const;
    std::optional<double> get_double(const std::string &name, double min, double max,
                                     bool min_excluded = false) const;
};

struct UsageError {
    std::string message;
};

// `value_options` names the options that take a value; anything else starting with -- is a flag.
Args parse_args(int argc, char **argv, int first, const std::vector<std::string> &value_options,
                const std::vector<std::string> &flags);

// Calls `on_interrupt` (from a watcher thread) when SIGINT or SIGTERM arrives while alive.
class InterruptGuard {
  public:
    explicit InterruptGuard(std::function<void()> on_interrupt);
    ~InterruptGuard();
    bool interrupted() const;
};

// The model shipped with hfkit: $HFK_DEFAULT_MODEL, else the installed copy, else the source tree.
std::string default_model_dir();

// Where and how to reach the Hub: --revision, --cache-dir and --offline on top of the
// environment (HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE, HF_HUB_OFFLINE), for every command that
// touches the Hub or its cache. `params` points into this object: keep it alive while used.
extern const std::vector<std::string> kHubValueOptions;
extern const char *const kHubOptionsHelp;
extern const char *const kCacheOptionsHelp;  // kHubOptionsHelp without --revision
struct HubOptions {
    explicit HubOptions(const Args &a);
    HubOptions(const HubOptions &) = delete;
    HubOptions &operator=(const HubOptions &) = delete;
    std::string revision, cache_dir;
    hfk_hub_params params;
};

// Loads MODEL (a checkpoint directory or a Hub id) with download and load progress on stderr.
// Ctrl-C during the download or load cancels it (HFK_E_CANCELLED).
// n_ctx is the context the memory check sizes the KV cache for (and the sessions' default);
// skip_resource_check turns the check off (--ctx-size, --skip-resource-check); keep_embeddings
// leaves a q8/q4 model's embedding and lm_head as stored (--keep-embeddings).
hfk_status load_model(const std::string &model, int32_t n_threads, bool quiet, hfk_model **out,
                      const hfk_hub_params *hub = nullptr, int32_t n_ctx = 0,
                      bool skip_resource_check = false, int32_t quantization = 0,
                      bool keep_embeddings = false);

// Prints `text` and leaves with the interrupted exit code at once: used once a download was
// cancelled, so no thread finishing the cancelled transfer outlives main (the partial file stays
// in the cache and the next pull resumes it).
[[noreturn]] void exit_interrupted(const char *text);

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_template(int argc, char **argv);
// One chat turn (hfkit run --chat): `user` as the only user message after an optional system
// message, rendered with the model's template or the one in `template_file`.
hfk_status chat_turn(hfk_session *session, const std::string &user, const std::string &system,
                     const std::string &template_file, const hfk_gen_params &gp,
                     hfk_piece_cb on_piece, char **text, hfk_gen_result *result);
int cmd_embed(int argc, char **argv);
int cmd_rerank(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_du(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_serve(int argc, char **argv);

}  // namespace cli
