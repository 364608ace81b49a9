// Shared pieces of the hfkit command: argument parsing, errors, exit codes, Ctrl-C.
// The CLI uses only the public C API (hfkit.h): it is also the API's first real client.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hfkit/hfkit.h"

namespace cli {

// Exit codes (documented in `hfkit --help` and the README).
enum Exit : int {
    kOk = 0,
    kError = 1,        // any other failure
    kUsage = 2,        // bad command line
    kNotFound = 3,     // model, revision or file not found
    kAuth = 4,         // gated repository or bad token
    kNetwork = 5,      // network down, offline and not cached, server errors
    kBadModel = 6,     // malformed or unsupported checkpoint
    kInterrupted = 130 // Ctrl-C
};

// Maps a failed status to an exit code after printing "hfkit: <what>: <message> (<NAME>)".
int fail(const std::string &what, hfk_status status);

// A parsed command line: positional words and --options (value or flag).
struct Args {
    std::vector<std::string> positional;
    std::map<std::string, std::vector<std::string>> options;  // repeated options keep all values
    bool flag(const std::string &name) const { return options.count(name) > 0; }
    std::optional<std::string> get(const std::string &name) const;
    // Numeric getters print a usage error and throw UsageError on a malformed number.
    std::optional<long long> get_int(const std::string &name) const;
    std::optional<double> get_double(const std::string &name) const;
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

// `s` as a quoted JSON string.
std::string json_string(std::string_view s);

// The model shipped with hfkit: $HFK_DEFAULT_MODEL, else the installed copy, else the source tree.
std::string default_model_dir();

// Loads MODEL (a local checkpoint directory) with a progress line on stderr.
hfk_status load_model(const std::string &model, int32_t n_threads, bool quiet, hfk_model **out);

int cmd_run(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);

}  // namespace cli
