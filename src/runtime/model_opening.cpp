#include "runtime/model_opening.h"

#include <algorithm>
#include <future>
#include <optional>

#include "runtime/download_jobs.h"
#include "runtime/model_registry.h"
#include "runtime/resource_check.h"
#include "util/error.h"

namespace hfk {

bool is_local_model_path(const std::string &s) {
    std::error_code ec;
    return !s.empty() && std::filesystem::is_directory(s, ec);
}

namespace {
// A name written as a path ("/x", "./x", "../x", "~/x", "x/") is never a Hub id, so a missing
// one is "not found" rather than "invalid repo id".
bool looks_like_path(const std::string &s) {
    return !s.empty() && (s[0] == '/' || s[0] == '.' || s[0] == '~' || s.back() == '/');
}
}  // namespace

std::shared_ptr<ModelOpening> ModelOpening::start(OpenRequest request, Listener listener) {
    auto m = create(std::move(request), std::move(listener));
    begin(m);
    return m;
}

std::shared_ptr<ModelOpening> ModelOpening::create(OpenRequest request, Listener listener) {
    return std::shared_ptr<ModelOpening>(new ModelOpening(std::move(request), std::move(listener)));
}

void ModelOpening::begin(const std::shared_ptr<ModelOpening> &m) {
    // The worker waits until worker_ is assigned: a listener may free the model (close() reads
    // worker_) and the worker may drop the last reference (the destructor reads it) before
    // this function returns.
    std::promise<void> assigned;
    m->worker_ = std::thread([self = m, go = assigned.get_future()] {
        go.wait();
        self->run();
    });
    assigned.set_value();
}

ModelOpening::ModelOpening(OpenRequest request, Listener listener)
    : request_(std::move(request)), listener_(std::move(listener)) {}

ModelOpening::~ModelOpening() {
    // The last reference may be the worker's own (the handle was freed from a listener).
    if (!worker_.joinable()) return;
    if (worker_.get_id() == std::this_thread::get_id())
        worker_.detach();
    else
        worker_.join();
}

void ModelOpening::close() {
    cancel_ = true;
    if (worker_.get_id() == std::this_thread::get_id()) {
        silenced_ = true;  // inside the listener: listener_mu_ is ours already
        return;
    }
    {
        std::lock_guard lock(listener_mu_);  // waits for a listener call in progress
        silenced_ = true;
    }
    if (worker_.joinable()) worker_.join();
}

ModelStatus ModelOpening::status() const {
    std::lock_guard lock(mu_);
    return status_;
}

bool ModelOpening::wait(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    auto finished = [&] {
        return announced_ == ModelState::Ready || announced_ == ModelState::Failed;
    };
    if (timeout.count() < 0) {
        done_cv_.wait(lock, finished);
        return true;
    }
    return done_cv_.wait_for(lock, timeout, finished);
}

std::shared_ptr<const LoadedModel> ModelOpening::model() const {
    std::lock_guard lock(mu_);
    return model_;
}

void ModelOpening::update(const std::function<void(ModelStatus &)> &change) {
    ModelStatus copy;
    {
        std::lock_guard lock(mu_);
        change(status_);
        copy = status_;
    }
    if (listener_) {
        std::lock_guard lock(listener_mu_);  // not mu_: the listener may poll the status
        if (!silenced_ && listener_(copy)) cancel_ = true;
    }
    // Waiters wake after the listener has seen the change, so a caller that waited for READY
    // or FAILED has also had its callback for it.
    {
        std::lock_guard lock(mu_);
        announced_ = copy.state;
    }
    done_cv_.notify_all();
}

// Between steps, so that a stop asked for by the listener (or a free) takes effect even when
// the step itself had nothing to cancel, such as an already cached download.
void ModelOpening::stop_if_cancelled() const {
    if (cancel_) fail(HFK_E_CANCELLED, "the model's opening was cancelled");
}

// The snapshot of a Hub id whose model this process already has (alive or being loaded), from
// the cache alone: opening it again shares that model, with no Hub request. Not when the caller
// asked for the Hub to be consulted (verify, force_download).
std::optional<std::filesystem::path> registered_snapshot(const std::string &id,
                                                         const hub::Options &o,
                                                         const std::string &variant) {
    if (o.verify || o.force_download) return std::nullopt;
    auto snap = hub::find_cached(id, o.revision, o.cache_dir);
    if (!snap || !model_is_registered(snap->dir, variant)) return std::nullopt;
    return snap->dir;
}

void ModelOpening::run() {
    update([](ModelStatus &) {});  // listeners see PENDING first, whatever comes next
    try {
        std::filesystem::path dir;
        bool shared = false;  // the registry has it: no download, no memory check
        std::string warning;  // the Hub's caveat, reported with READY
        LoadOptions load;
        load.n_threads = request_.n_threads;
        load.format = request_.format;
        load.quantize_embeddings = request_.quantize_embeddings;
        const std::string variant = load_variant(load);
        if (is_local_model_path(request_.id_or_path)) {
            dir = request_.id_or_path;
            shared = model_is_registered(dir, variant);
        } else if (looks_like_path(request_.id_or_path)) {
            fail(HFK_E_NOT_FOUND, "model directory not found: " + request_.id_or_path);
        } else if (auto snap = registered_snapshot(request_.id_or_path, request_.hub, variant)) {
            dir = *snap;
            shared = true;
        } else {
            update([](ModelStatus &s) { s.state = ModelState::Downloading; });
            stop_if_cancelled();
            hub::Options opts = request_.hub;
            opts.cancel = &cancel_;
            opts.progress = [this](const hub::Progress &p) {
                update([&](ModelStatus &s) {
                    s.bytes_done = p.bytes_done;
                    s.bytes_total = p.bytes_total;
                    s.files_done = p.files_done;
                    s.files_total = p.file_count;
                    s.file_name = p.file_name;
                });
                return cancel_.load();
            };
            // Refuse a model that cannot fit before its weights arrive, not after.
            if (!request_.skip_resource_check &&
                !hub::is_downloaded(request_.id_or_path, opts.revision, opts.cache_dir))
                check_before_download(request_.id_or_path, opts, request_.n_ctx);
            hub::Snapshot prepared = prepare_shared(request_.id_or_path, opts);
            dir = std::move(prepared.dir);
            warning = std::move(prepared.warning);
        }
        if (!request_.skip_resource_check && !shared) check_memory_for(dir, request_.n_ctx);
        stop_if_cancelled();
        // A model alive in the registry is READY at once; LOADING is only reported when a load
        // (ours, or another opening's that we wait for) is under way.
        std::shared_ptr<const LoadedModel> loaded;
        if (shared) loaded = find_loaded_model(dir, variant);
        if (!loaded) {
            update([](ModelStatus &s) { s.state = ModelState::Loading; });
            stop_if_cancelled();
            loaded = acquire_loaded_model(
                dir, load,
                [this](double f) {
                    // Never backwards: a wait on another opening's load reports its fraction.
                    update([f](ModelStatus &s) { s.load_fraction = std::max(s.load_fraction, f); });
                    return cancel_.load();
                },
                &cancel_);
        }
        stop_if_cancelled();
        // A checkpoint run in part (gemma3's language model alone) says so.
        if (const std::string &note = loaded->model->config().load_note; !note.empty())
            warning = warning.empty() ? note : warning + "; " + note;
        {
            std::lock_guard lock(mu_);
            model_ = std::move(loaded);
        }
        update([&](ModelStatus &s) {
            s.state = ModelState::Ready;
            s.load_fraction = 1;
            s.warning = warning;
        });
    } catch (const Error &e) {
        update([&](ModelStatus &s) {
            s.state = ModelState::Failed;
            s.error = e.status();
            s.message = e.what();
        });
    } catch (const std::bad_alloc &) {
        update([](ModelStatus &s) {
            s.state = ModelState::Failed;
            s.error = HFK_E_NOMEM;
            s.message = "out of memory while opening the model";
        });
    } catch (const std::exception &e) {
        update([&](ModelStatus &s) {
            s.state = ModelState::Failed;
            s.error = HFK_E_INTERNAL;
            s.message = std::string("internal error: ") + e.what();
        });
    }
}

}  // namespace hfk
