// A model being opened: by Hub id (download, then load) or local directory (load). The caller
// gets the object at once; a worker thread moves it PENDING -> DOWNLOADING -> LOADING -> READY,
// or to FAILED with a status and message. A model already alive in this process (the registry)
// goes PENDING -> READY, and one that another opening is loading PENDING -> LOADING -> READY,
// with no Hub request. load_fraction never decreases. The state can be polled, waited on, or
// watched through a callback that the worker thread calls on every change and progress step.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "hub/hub.h"
#include "runtime/loaded_model.h"

namespace hfk {

enum class ModelState : int32_t {
    Pending = 0,
    Downloading = 1,
    Loading = 2,
    Ready = 3,
    Failed = 4
};

struct ModelStatus {
    ModelState state = ModelState::Pending;
    int32_t error = 0;    // HFK_E_* when Failed
    std::string message;  // when Failed
    double load_fraction = 0;
    int64_t bytes_done = 0, bytes_total = -1;
    int32_t files_done = 0, files_total = 0;
    std::string file_name;  // the file last reported while downloading
    std::string warning;    // when Ready: a caveat, e.g. the Hub could not be asked and the
                            // cached snapshot was used (hub::Snapshot::warning)
};

struct OpenRequest {
    std::string id_or_path;
    hub::Options hub;  // revision, cache_dir, token, endpoint, offline
    int32_t n_threads = 0;
    WeightFormat format = WeightFormat::Auto;
    bool quantize_embeddings = true;  // LoadOptions::quantize_embeddings
    int32_t n_ctx = 0;  // the context the memory check assumes; <= 0: kDefaultCheckContext
    bool skip_resource_check = false;
};

class ModelOpening {
  public:
    // Returns true to stop: the opening is cancelled and ends FAILED with HFK_E_CANCELLED.
    using Listener = std::function<bool(const ModelStatus &)>;

    // Starts the worker. `listener` (may be empty) is called from the worker thread. The worker
    // holds a reference to the object, so it stays valid until the worker is done.
    static std::shared_ptr<ModelOpening> start(OpenRequest request, Listener listener);
    // The same in two steps, for an owner that must be complete before the listener can run
    // (the listener may be handed the owner, and free it): create, store, then begin.
    static std::shared_ptr<ModelOpening> create(OpenRequest request, Listener listener);
    static void begin(const std::shared_ptr<ModelOpening> &m);
    ~ModelOpening();

    // What a handle's free does: cancel, and guarantee the listener is never called again once
    // this returns. Off the worker thread it also waits for the worker to finish; on it (a
    // listener freeing its own model) the worker finishes by itself right after.
    void close();

    ModelStatus status() const;
    // Waits until READY or FAILED; false on timeout. timeout < 0 waits forever.
    bool wait(std::chrono::milliseconds timeout) const;
    std::shared_ptr<const LoadedModel> model() const;  // null unless READY
    void cancel() { cancel_ = true; }
    std::thread::id worker_id() const { return worker_.get_id(); }

  private:
    ModelOpening(OpenRequest request, Listener listener);
    void run();
    void stop_if_cancelled() const;
    void update(const std::function<void(ModelStatus &)> &change);

    OpenRequest request_;
    Listener listener_;
    std::mutex listener_mu_;  // held while the listener runs, so close() can wait it out
    bool silenced_ = false;   // guarded by listener_mu_
    mutable std::mutex mu_;
    mutable std::condition_variable done_cv_;
    ModelStatus status_;
    // The last state the listener has been told about (guarded by mu_): wait() watches this,
    // not status_, so a caller that waited for READY or FAILED has had its callback for it.
    ModelState announced_ = ModelState::Pending;
    std::shared_ptr<const LoadedModel> model_;
    std::atomic<bool> cancel_{false};
    std::thread worker_;
};

// True when `s` names an existing local directory (then no Hub is involved).
bool is_local_model_path(const std::string &s);

}  // namespace hfk
