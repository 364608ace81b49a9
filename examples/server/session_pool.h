// The Backend of today: per model, up to `parallel` C API sessions, each running one request at
// a time; requests beyond wait in a bounded queue. Models are opened on first use (the first
// one at start, so /health turns ready without a request) and shared through the C API's
// registry.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend.h"

namespace server {

struct PoolOptions {
    std::vector<std::string> model_ids;   // as given on the command line; the first is the default
    int32_t parallel = 1;                 // sessions (or embedding calls) at once per model
    int32_t queue = 16;                   // requests waiting per model before 503
    int32_t n_ctx = 0;                    // <= 0: the model's context length
    int32_t n_threads = 0;                // per session; <= 0: the library's default
    std::string chat_template;            // Jinja source; "" uses each model's own
    const hfk_hub_params *hub = nullptr;  // must outlive the pool
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

    struct Model;  // session_pool.cpp

  private:
    friend class PooledJob;
    Model &find(const std::string &id);
    // Opens the model if needed and waits until it is ready; throws ApiError when it failed.
    hfk_model *ready_model(Model &m);
    // Waits for capacity on `m` (a session for generators, nullptr for encoders).
    hfk_session *acquire(Model &m);
    void release(Model &m, hfk_session *session);

    PoolOptions options_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::unique_ptr<Model>> models_;
    bool admitting_ = true;
    bool cancelling_ = false;
};

}  // namespace server
