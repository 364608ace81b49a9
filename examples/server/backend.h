// What the HTTP layer asks of an inference backend: a request goes in, pieces of text stream
// out. SessionPool (a pool of C API sessions per model) implements it, and EngineBackend
// (engine_backend.h), which batches the requests of one model on an hfk_engine and falls back
// to the pool for models the engine cannot run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hfkit/hfkit.h"

namespace server {

struct GenRequest {
    std::string model;  // "" picks the first model
    bool chat = false;  // text is a conversation JSON for the chat template, else a raw prompt
    std::string text;
    std::vector<std::string> stop;
    std::string constraint;  // the constraint's text (params.constraint_kind says which kind)
    hfk_gen_params params;   // stop/n_stop and constraint are filled by the backend from the
                             // fields above; params.logprobs / top_logprobs ask for logprobs
    // Seconds the model stays loaded once idle after this request (ollama's keep_alive; < 0:
    // for good); unset: the backend's default.
    std::optional<double> keep_alive;
    // Asked on the thread that generates (the engine's worker, or the handler's own thread)
    // before each piece is passed on; true stops the generation as an on_piece returning false
    // does. Unset: nobody asks. It must be cheap: it runs once per generated piece.
    std::function<bool()> client_gone;
};

// One generated token's logprob (the model's raw distribution, hfk_session_last_logprobs),
// with its text as it reads in the output, and the most likely alternatives at that step.
struct TokenLogprob {
    std::string token;  // UTF-8 (a token that ends inside a character reads as U+FFFD)
    float logprob = 0;
    struct Alternative {
        std::string token;
        float logprob = 0;
    };
    std::vector<Alternative> top;
};

struct GenOutcome {
    hfk_status status = HFK_OK;
    std::string message;  // when status != HFK_OK
    std::string text;
    hfk_stop_reason stop_reason = HFK_STOP_NONE;
    int32_t prompt_tokens = 0;
    int32_t completion_tokens = 0;
    std::vector<TokenLogprob> logprobs;  // when params.logprobs was set
};

// A request admitted to run: it holds its share of the backend until destroyed.
class Job {
  public:
    virtual ~Job() = default;
    // Tokens of the prompt as the model sees it (chat template applied).
    virtual int32_t prompt_tokens() const = 0;
    // Generates, passing each piece of text to on_piece as it comes; on_piece returning false
    // stops the generation (the client went away). Called once.
    virtual GenOutcome run(const std::function<bool(std::string_view)> &on_piece) = 0;
};

struct EmbedOutcome {
    int32_t dim = 0;
    std::vector<float> vectors;  // inputs x dim, L2-normalised mean pooling
    int32_t prompt_tokens = 0;
};

struct ModelState {
    std::string id;
    hfk_model_state state = HFK_MODEL_PENDING;
    bool requested = false;  // opened (at start for the first model, else on first use)
    double load_fraction = 0;
    int64_t bytes_done = 0, bytes_total = -1;
    std::string error;
    int32_t busy = 0, waiting = 0;   // requests running and queued
    bool unloaded = false;           // was loaded, then unloaded after keep_alive idle time
    int64_t loads = 0, unloads = 0;  // times opened, times unloaded for idleness
    // The batching engine of the model, when it has one (EngineBackend): hfk_engine_statistics.
    bool batching = false;
    int32_t engine_running = 0, engine_queued = 0;
    int32_t last_batch_sequences = 0, max_batch_sequences = 0;
    int64_t kv_blocks_used = 0, kv_blocks_total = 0;
    uint64_t engine_steps = 0, sequence_steps = 0;
    int64_t kv_blocks_cached = 0;        // prefix blocks no request holds (evictable)
    uint64_t prefix_cache_hits = 0;      // prompt tokens read from cached blocks
    uint64_t constraint_cache_hits = 0;  // constrained requests that reused a compiled grammar
};

// What /health and /metrics call the model's state: "pending", "downloading", "loading",
// "ready" or "failed" once requested; "unloaded" after keep_alive idle time; else "not_loaded".
const char *state_label(const ModelState &m);

class Backend {
  public:
    virtual ~Backend() = default;
    virtual std::vector<ModelState> models() = 0;
    // Admits a generation: loads the model on first use, checks the prompt fits, and waits in
    // the bounded queue for capacity. Throws ApiError: 404 unknown model, 400 bad prompt or
    // parameters, 503 queue full, model failed, or shutting down.
    virtual std::unique_ptr<Job> submit(GenRequest request) = 0;
    // Embeds `inputs` with an encoder model (same admission and errors as submit).
    virtual EmbedOutcome embed(const std::string &model,
                               const std::vector<std::string> &inputs) = 0;
    // Requests waiting for capacity, over all models.
    virtual int32_t queue_depth() = 0;
    // Shutdown: refuse new and queued requests (503) ...
    virtual void stop_admitting() = 0;
    // ... and, once the grace period is over, cancel the running ones.
    virtual void cancel_running() = 0;
};

}  // namespace server
