#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "cli.h"
#include "progress.h"

namespace cli {

int fail(const std::string &what, hfk_status status) {
    std::fprintf(stderr, "hfkit: %s: %s (%s)\n", terminal_safe(what).c_str(),
                 terminal_safe(hfk_last_error_message()).c_str(), hfk_status_name(status));
    return exit_code(status);
}

std::optional<std::string> Args::get(const std::string &name) const {
    auto it = options.find(name);
    if (it == options.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

Args parse_args(int argc, char **argv, int first, const std::vector<std::string> &value_options,
                const std::vector<std::string> &flags) {
    Args a;
    auto is = [](const std::vector<std::string> &set, const std::string &s) {
        for (const auto &x : set)
            if (x == s) return true;
        return false;
    };
    for (int i = first; i < argc; ++i) {
        std::string w = argv[i];
        if (w == "--") {
            for (++i; i < argc; ++i) a.positional.emplace_back(argv[i]);
            break;
        }
        if (w.size() > 2 && w.compare(0, 2, "--") == 0) {
            std::string name = w.substr(2), value;
            const auto eq = name.find('=');
            const bool inline_value = eq != std::string::npos;
            if (inline_value) {
                value = name.substr(eq + 1);
                name.resize(eq);
            }
            if (is(value_options, name)) {
                if (!inline_value) {
                    if (i + 1 >= argc) throw UsageError{"--" + name + " needs a value"};
                    value = argv[++i];
                }
                a.options[name].push_back(value);
            } else if (is(flags, name) && !inline_value) {
                a.options[name];
            } else {
                throw UsageError{"unknown option --" + name};
            }
        } else if (w == "-h") {
            a.options["help"];
        } else {
            a.positional.push_back(std::move(w));
        }
    }
    return a;
}

namespace {
std::atomic<bool> g_interrupted{false};
std::function<void()> g_on_interrupt;
std::thread g_watcher;
int g_pipe[2] = {-1, -1};
struct sigaction g_old_int, g_old_term;

void on_signal(int) {
    const char c = 'i';
    [[maybe_unused]] ssize_t n = write(g_pipe[1], &c, 1);  // async-signal-safe
}
}  // namespace

// The signal handler only writes a byte to a pipe (the self-pipe trick); a watcher thread reads
// it and runs `on_interrupt` as ordinary code, so it may call hfk_session_cancel(). A handler
// rather than a blocked mask, because threads started before main (OpenBLAS) would not block it.
InterruptGuard::InterruptGuard(std::function<void()> on_interrupt) {
    g_on_interrupt = std::move(on_interrupt);
    g_interrupted = false;
    if (pipe(g_pipe) != 0) return;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &g_old_int);
    sigaction(SIGTERM, &sa, &g_old_term);
    g_watcher = std::thread([] {
        char c = 0;
        while (read(g_pipe[0], &c, 1) == 1 && c == 'i') {
            g_interrupted = true;
            if (g_on_interrupt) g_on_interrupt();
        }
    });
}

InterruptGuard::~InterruptGuard() {
    if (g_pipe[0] < 0) return;
    sigaction(SIGINT, &g_old_int, nullptr);
    sigaction(SIGTERM, &g_old_term, nullptr);
    const char q = 'q';
    [[maybe_unused]] ssize_t n = write(g_pipe[1], &q, 1);
    g_watcher.join();
    close(g_pipe[0]);
    close(g_pipe[1]);
    g_pipe[0] = g_pipe[1] = -1;
}

bool InterruptGuard::interrupted() const {
    return g_interrupted;
}

std::string default_model_dir() {
    if (const char *env = std::getenv("HFK_DEFAULT_MODEL"); env && *env) return env;
    struct stat st {};
    if (stat(HFK_INSTALLED_MODEL_DIR, &st) == 0) return HFK_INSTALLED_MODEL_DIR;
    return HFK_SOURCE_MODEL_DIR;
}

const std::vector<std::string> kHubValueOptions = {"revision", "cache-dir"};
#define HFK_CLI_CACHE_OPTIONS_HELP                                                            \
    "  --cache-dir DIR        the Hugging Face cache (default $HF_HUB_CACHE, $HF_HOME/hub,\n" \
    "                         ~/.cache/huggingface/hub)\n"                                    \
    "  --offline              never touch the network; use the cache\n"
const char *const kHubOptionsHelp =
    "  --revision REV         a branch, tag or commit (default main)\n" HFK_CLI_CACHE_OPTIONS_HELP;
const char *const kCacheOptionsHelp = HFK_CLI_CACHE_OPTIONS_HELP;

HubOptions::HubOptions(const Args &a) {
    HFK_HUB_PARAMS_INIT(&params);
    revision = a.get("revision").value_or("");
    cache_dir = a.get("cache-dir").value_or("");
    if (!revision.empty()) params.revision = revision.c_str();
    if (!cache_dir.empty()) params.cache_dir = cache_dir.c_str();
    if (a.flag("offline")) params.offline = 1;
}

hfk_status load_model(const std::string &model, int32_t n_threads, bool quiet, hfk_model **out,
                      const hfk_hub_params *hub, int32_t n_ctx, bool skip_resource_check,
                      int32_t quantization, bool keep_embeddings) {
    ProgressDisplay progress(model, quiet);
    hfk_load_params lp;
    HFK_LOAD_PARAMS_INIT(&lp);
    lp.n_threads = n_threads;
    lp.progress = ProgressDisplay::callback;
    lp.progress_user_data = &progress;
    lp.hub = hub;
    lp.n_ctx = n_ctx;
    lp.skip_resource_check = skip_resource_check ? 1 : 0;
    lp.quantization = quantization;
    lp.keep_embeddings = keep_embeddings ? 1 : 0;
    hfk_status s;
    {
        InterruptGuard guard([] { request_cancel(); });
        s = hfk_model_load(out, model.c_str(), &lp);
    }
    progress.finish(s == HFK_OK);
    if (const char *w = hfk_last_warning(); s == HFK_OK && w && *w)
        std::fprintf(stderr, "hfkit: warning: %s\n", w);
    if (s == HFK_E_CANCELLED)
        exit_interrupted(
            "\nhfkit: interrupted (a partial download stays in the cache and resumes)");
    return s;
}

void exit_interrupted(const char *text) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s\n", text);
    std::fflush(stderr);
    _exit(kInterrupted);
}

}  // namespace cli
