// The Backend of today: per model, up to `parallel` C API sessions, each running one request at
// a time; requests beyond wait in a bounded queue. Models are opened on first use (the first
// one at start, so /health turns ready without a request) and shared through the C API's
// registry.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backend.h"

namespace server {

struct PoolOptions {
    std::vector<std::string> model_ids;   // as given on the command line; the first is the default
    int32_t parallel = 1;                 // sessions (or embedding calls) at once per model
    int32_t queue = 16;                   // requests waiting per model before 503
    int32_t n_ctx = 0;                    // <= 0: the model's context length
    int32_t n_threads = 0;                // per session; <= 0: the library's default
    int32_t kv_dtype = HFK_KV_F32;        // each session's KV cache (--kv-dtype)
    std::string chat_template;            // Jinja source; "" uses each model's own
    const hfk_hub_params *hub = nullptr;  // must outlive the pool
    // Seconds a loaded model may stay idle before it is unloaded (its sessions and handle
    // freed; the next request opens it again); < 0: never. A request's keep_alive overrides it.
    double keep_alive_s = -1;
    // Called by the keep_alive thread, with no pool lock held, just before it frees the handle
    // of a model nobody uses (EngineBackend frees its engine on it there).
    std::function<void(hfk_model *)> on_unload;
};

// A model in use by a caller of SessionPool::use_model (not unloaded until end_use).
struct ModelUse {
    std::string id;  // as given on the command line
    hfk_model *handle = nullptr;
};

class SessionPool final : public Backend {
  public:
    explicit SessionPool(PoolOptions options);
    ~SessionPool() override;
    SessionPool(const SessionPool &) = delete;
    SessionPool &operator=(const SessionPool &) = delete;

    // Starts loading the first model in the background.
    void open_default();

    std::vector<ModelState> models() override;
    std::unique_ptr<Job> submit(GenRequest request) override;
    EmbedOutcome embed(const std::string &model, const std::vector<std::string> &inputs) override;
    int32_t queue_depth() override;
    void stop_admitting() override;
    void cancel_running() override;

    // For a backend built over the pool (EngineBackend): opens the model `id` ("" the first)
    // if needed and waits until it is ready, with submit()'s errors; the model stays loaded
    // until end_use(use.id, ...).
    ModelUse use_model(const std::string &id);
    void end_use(const std::string &id, std::optional<double> keep_alive);
    // The prompt's tokens as the model sees it (chat template applied); throws the 400s of
    // submit() (an embedding model, a failing template, a prompt longer than the context).
    int32_t check_prompt(const ModelUse &use, const GenRequest &request);

    struct Model;  // session_pool.cpp

  private:
    friend class PooledJob;
    Model &find(const std::string &id);
    // Opens the model if needed and waits until it is ready; throws ApiError when it failed.
    // On success the caller is a user of the model (it is not unloaded) until unuse().
    hfk_model *ready_model(Model &m);
    // Ends a use; the model's idle time (keep_alive, else the pool's) starts when none is left.
    void unuse(Model &m, std::optional<double> keep_alive);
    // Opens m.handle (under mu_); false when hfk_model_open failed.
    bool open_locked(Model &m);
    hfk_model *wait_ready(Model &m, hfk_model *handle);
    std::unique_ptr<Job> admit(Model &m, hfk_model *model, GenRequest request);
    int32_t prompt_tokens_of(Model &m, hfk_model *model, const GenRequest &request);
    // The keep_alive thread: unloads models idle for longer than their keep_alive.
    void reap_idle();
    // Waits for capacity on `m` (a session for generators, nullptr for encoders).
    hfk_session *acquire(Model &m);
    void release(Model &m, hfk_session *session);

    PoolOptions options_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Model>> models_;
    bool admitting_ = true;
    bool cancelling_ = false;
    bool closing_ = false;  // the destructor asks reap_idle to end
    std::condition_variable reaper_cv_;
    std::thread reaper_;
};

}  // namespace server
