// The Backend of `hfkit serve`: generation requests of one model run together on the C API's
// batching engine (hfk_engine: one forward pass per step over every running request), so
// concurrent clients share each read of the weights. What the engine cannot run goes to a
// SessionPool, one session per request as before: models without the batched forward (GPT-2,
// Phi-2) and embeddings (constraints and logprobs run on the engine too). The pool
// also owns the models' lifecycle (loading on first use, keep_alive unloading, /health).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "backend.h"
#include "session_pool.h"

namespace server {

struct EngineOptions {
    bool enabled = true;            // false: every request on the pool (hfkit serve --no-batching)
    int32_t max_sequences = 1;      // requests batched together per model (--parallel)
    int32_t max_queued = 16;        // waiting per model beyond those, then 503 (--queue)
    uint64_t kv_budget_bytes = 0;   // per model; 0: max_sequences whole contexts (--kv-budget)
    int32_t n_ctx = 0;              // per request; <= 0: the model's (--ctx-size)
    int32_t n_threads = 0;          // <= 0: the library's default (--threads)
    int32_t kv_dtype = HFK_KV_F32;  // the pool's element type (--kv-dtype)
};

class EngineJob;

class EngineBackend final : public Backend {
  public:
    EngineBackend(PoolOptions pool, EngineOptions engine);
    ~EngineBackend() override;
    EngineBackend(const EngineBackend &) = delete;
    EngineBackend &operator=(const EngineBackend &) = delete;

    // Starts loading the first model in the background.
    void open_default() { pool_->open_default(); }

    std::vector<ModelState> models() override;
    std::unique_ptr<Job> submit(GenRequest request) override;
    EmbedOutcome embed(const std::string &model, const std::vector<std::string> &inputs) override;
    int32_t queue_depth() override;
    void stop_admitting() override;
    void cancel_running() override;

  private:
    friend class EngineJob;
    // The engine of an opened model handle (created on its first request), or nullptr when the
    // model has no batched forward.
    hfk_engine *engine_for(const ModelUse &use);
    void job_started(EngineJob *job);
    void job_ended(EngineJob *job);
    // The pool's keep_alive thread is about to free `handle`: its engine goes first.
    void model_unloading(hfk_model *handle);

    struct ModelEngine {
        std::string id;
        hfk_engine *engine = nullptr;  // nullptr: unsupported, the pool runs its requests
        // Why the engine refused the server's settings (a --kv-budget below one KV block of
        // this model): its requests fail with it, rather than run outside the budget.
        std::string refused;
    };

    EngineOptions options_;
    std::string chat_template_;
    std::mutex mu_;
    std::map<hfk_model *, ModelEngine> engines_;  // per opened handle
    std::set<EngineJob *> jobs_;                  // submitted to an engine, not destroyed
    bool cancelling_ = false;
    // Last member: destroyed first, so its keep_alive thread is joined while the rest lives.
    std::unique_ptr<SessionPool> pool_;
};

}  // namespace server
