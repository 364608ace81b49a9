// hfkit serve MODEL...: an OpenAI-compatible HTTP server (examples/server) over the C API.
#include <csignal>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "cli.h"
#include "engine_backend.h"
#include "generate_options.h"
#include "http_server.h"

namespace cli {
namespace {

const char *const kHelp =
    "usage: hfkit serve [MODEL...] [options]\n"
    "\n"
    "Serves the models over HTTP with OpenAI's API: POST /v1/chat/completions (the model's\n"
    "chat template; SSE streaming), /v1/completions, /v1/embeddings (encoder models),\n"
    "GET /v1/models, /health (503 until the first model is loaded) and /metrics (Prometheus).\n"
    "A request's \"model\" picks one of the MODELs by the name given here (default: the first);\n"
    "the first loads at start, the others on first use. Without MODEL, the bundled model.\n"
    "Requests may ask for structured output (\"response_format\": json_object or\n"
    "json_schema) and logprobs (chat: \"logprobs\", \"top_logprobs\"; completions:\n"
    "\"logprobs\": N).\n"
    "\n"
    "Generation requests to one model run as one batch (continuous batching: one forward pass\n"
    "per step over every running request), response_format and logprobs included. Not\n"
    "batched, each on a session of its own: GPT-2 and Phi-2 models (and every request with\n"
    "--no-batching).\n"
    "\n"
    "options:\n"
    "  --host ADDR            address to bind (default 127.0.0.1; elsewhere, set a key)\n"
    "  --port N               port (default 8080; 0 picks a free one, printed on stdout)\n"
    "  --api-key KEY          require 'Authorization: Bearer KEY' (default $HFKIT_API_KEY)\n"
    "  --parallel N           requests run at once per model (default 4, as llama-server's\n"
    "                         auto): batched together on the model's engine, else one\n"
    "                         session each (above)\n"
    "  --queue N              requests waiting per model before 503 (default 16)\n"
    "  --ctx-size N           context of each request in tokens (default: the model's)\n"
    "  --kv-budget BYTES      KV memory of a model's batching engine (default: --parallel\n"
    "                         whole contexts); a request waits for its prompt + max_tokens\n"
    "  --kv-dtype TYPE        the KV cache's element type, engines' and sessions': f32 (the\n"
    "                         default), f16 or bf16 (half the bytes: twice the tokens a\n"
    "                         --kv-budget holds)\n"
    "  --no-batching          run every request on a session of its own\n"
    "  --threads N            compute threads per session or engine (default: one per core)\n"
    "  --chat-template FILE   a Jinja chat template for every model instead of its own\n"
    "  --max-body BYTES       largest request body (default 4194304; larger is 413)\n"
    "  --read-timeout SEC     a client that sends nothing for SEC is dropped (default 10)\n"
    "  --shutdown-timeout SEC on SIGTERM/Ctrl-C, running requests get SEC to finish before\n"
    "                         they are cancelled (default 10)\n"
    "  --keep-alive SEC       unload a model idle for SEC seconds (fractions allowed); the\n"
    "                         next request loads it again (default: never; a request's\n"
    "                         \"keep_alive\", as in ollama, overrides it for its model)\n";

std::string read_file(const std::string &path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw UsageError{"cannot read " + path};
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool is_loopback(const std::string &host) {
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

}  // namespace

int cmd_serve(int argc, char **argv) {
    std::vector<std::string> value_options = {
        "host",      "port",         "api-key",          "parallel",
        "queue",     "ctx-size",     "threads",          "chat-template",
        "max-body",  "read-timeout", "shutdown-timeout", "keep-alive",
        "kv-budget", "kv-dtype"};
    value_options.insert(value_options.end(), kHubValueOptions.begin(), kHubValueOptions.end());
    const Args a = parse_args(argc, argv, 2, value_options, {"help", "offline", "no-batching"});
    if (a.flag("help")) {
        std::printf("%s%s", kHelp, kHubOptionsHelp);
        return kOk;
    }
    HubOptions hub(a);
    server::PoolOptions pool;
    pool.model_ids = a.positional;
    if (pool.model_ids.empty()) pool.model_ids.push_back(default_model_dir());
    pool.parallel = static_cast<int32_t>(a.get_int("parallel", 1, 256).value_or(4));
    pool.queue = static_cast<int32_t>(a.get_int("queue", 0, 4096).value_or(16));
    pool.n_ctx = static_cast<int32_t>(a.get_int("ctx-size", 1, 1 << 24).value_or(0));
    pool.n_threads = static_cast<int32_t>(a.get_int("threads", 1, 1024).value_or(0));
    pool.kv_dtype = kv_dtype_option(a);
    if (auto tpl = a.get("chat-template")) pool.chat_template = read_file(*tpl);
    pool.hub = &hub.params;
    if (auto ka = a.get("keep-alive")) {
        char *end = nullptr;
        const double seconds = std::strtod(ka->c_str(), &end);
        if (ka->empty() || *end != '\0' || !(seconds >= 0) || seconds > 1e9)
            throw UsageError{"--keep-alive takes a number of seconds >= 0, got '" + *ka + "'"};
        pool.keep_alive_s = seconds;
    }

    server::HttpOptions http;
    http.host = a.get("host").value_or("127.0.0.1");
    http.port = static_cast<int>(a.get_int("port", 0, 65535).value_or(8080));
    http.api_key = a.get("api-key").value_or("");
    if (http.api_key.empty())
        if (const char *env = std::getenv("HFKIT_API_KEY")) http.api_key = env;
    http.max_body_bytes =
        static_cast<size_t>(a.get_int("max-body", 1024, int64_t(1) << 32).value_or(4 << 20));
    http.read_timeout_s = static_cast<int>(a.get_int("read-timeout", 1, 3600).value_or(10));
    const int shutdown_timeout_s =
        static_cast<int>(a.get_int("shutdown-timeout", 0, 3600).value_or(10));
    // A thread per connection: every running and queued request holds one, plus a few for
    // /health and /metrics.
    const int64_t n_models = static_cast<int64_t>(pool.model_ids.size());
    http.threads =
        static_cast<int>(std::min<int64_t>(1024, n_models * (pool.parallel + pool.queue) + 8));

    std::signal(SIGPIPE, SIG_IGN);  // a client that hangs up is a failed write, not a signal
    server::EngineOptions engine;
    engine.enabled = !a.flag("no-batching");
    engine.max_sequences = pool.parallel;
    engine.max_queued = pool.queue;
    engine.n_ctx = pool.n_ctx;
    engine.n_threads = pool.n_threads;
    engine.kv_dtype = pool.kv_dtype;
    engine.kv_budget_bytes =
        static_cast<uint64_t>(a.get_int("kv-budget", 1, int64_t(1) << 50).value_or(0));
    server::EngineBackend backend(pool, engine);
    server::HttpServer srv(backend, http);
    std::string error;
    const int port = srv.bind(error);
    if (port < 0) {
        std::fprintf(stderr, "hfkit serve: %s\n", error.c_str());
        return kError;
    }
    if (!is_loopback(http.host) && http.api_key.empty())
        std::fprintf(stderr,
                     "hfkit serve: warning: listening on %s without an API key: anyone who can "
                     "reach this address can use the models (set --api-key or HFKIT_API_KEY)\n",
                     http.host.c_str());
    backend.open_default();

    // SIGTERM/Ctrl-C: stop accepting and refuse queued requests; running ones get the grace
    // period, then are cancelled. A second signal cancels at once.
    std::mutex mu;
    std::condition_variable cv;
    bool stopping = false, done = false;
    std::thread deadline;
    // Signals ignored once the guard is gone: a signal that lands while the server is exiting
    // (after it stopped) must not turn the clean exit into a kill.
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
    {
        InterruptGuard guard([&] {
            std::lock_guard<std::mutex> lock(mu);
            if (stopping) {
                backend.cancel_running();
                return;
            }
            stopping = true;
            std::fprintf(stderr, "hfkit serve: stopping (running requests get %d s)\n",
                         shutdown_timeout_s);
            backend.stop_admitting();
            deadline = std::thread([&] {
                std::unique_lock<std::mutex> l(mu);
                if (!cv.wait_for(l, std::chrono::seconds(shutdown_timeout_s), [&] { return done; }))
                    backend.cancel_running();
            });
            srv.stop();
        });
        // Printed once signals are handled: a client may stop the server as soon as it reads it.
        std::printf("hfkit serve: listening on http://%s:%d\n", http.host.c_str(), port);
        std::fflush(stdout);
        srv.serve();  // returns once every connection is finished
        {
            std::lock_guard<std::mutex> lock(mu);  // after the callback that stopped it
            done = true;
        }
        cv.notify_all();
        if (deadline.joinable()) deadline.join();
    }
    std::fprintf(stderr, "hfkit serve: stopped\n");
    return kOk;
}

}  // namespace cli
