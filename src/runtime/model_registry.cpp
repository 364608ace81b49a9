#include "runtime/model_registry.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>

#include "util/error.h"

namespace hfk {
namespace {

struct Entry {
    std::weak_ptr<const LoadedModel> model;
    bool loading = false;
    double fraction = 0;
};

struct Registry {
    std::mutex mu;
    std::condition_variable changed;
    std::map<std::string, Entry> entries;  // by canonical directory
    std::atomic<int64_t> loads{0};
};

Registry &registry() {
    static Registry *r = new Registry;  // never destroyed, like the models' last users may be
    return *r;
}

}  // namespace

// The registry key of a directory's model in a load variant: the canonical path, and for a
// variant "/\n" and its name (a suffix no canonical directory has, still "under" the directory
// for any_model_loaded_under).
std::string registry_key(const std::filesystem::path &canonical, const std::string &variant) {
    return variant.empty() ? canonical.string() : canonical.string() + "/\n" + variant;
}

int64_t model_loads_performed() {
    return registry().loads.load();
}

std::shared_ptr<const LoadedModel> acquire_loaded_model(const std::filesystem::path &dir,
                                                        const LoadOptions &opts,
                                                        const std::function<bool(double)> &progress,
                                                        const std::atomic<bool> *cancel) {
    std::error_code ec;
    const std::filesystem::path canonical = std::filesystem::canonical(dir, ec);
    if (ec) fail(HFK_E_NOT_FOUND, "model directory not found: " + dir.string());
    const std::string key = registry_key(canonical, load_variant(opts));
    Registry &r = registry();
    auto is_cancelled = [&] { return cancel && cancel->load(); };

    std::unique_lock lock(r.mu);
    for (;;) {
        Entry &e = r.entries[key];
        if (auto alive = e.model.lock()) return alive;
        if (!e.loading) {
            e.loading = true;
            break;  // this caller loads it
        }
        // Someone else is loading it: wait, reporting their progress as ours. Once their load
        // is over the loop returns its model (or takes over after a failure): the fraction is
        // only read while the load runs, so a finished load never reads as 0 here.
        r.changed.wait_for(lock, std::chrono::milliseconds(50));
        const Entry &now = r.entries[key];
        const bool still_loading = now.loading && now.model.expired();
        const double f = now.fraction;
        lock.unlock();
        const bool stop = (still_loading && progress && progress(f)) || is_cancelled();
        lock.lock();
        if (stop) fail(HFK_E_CANCELLED, "load of " + key + " cancelled");
    }
    lock.unlock();

    std::shared_ptr<const LoadedModel> loaded;
    std::exception_ptr err;
    try {
        r.loads.fetch_add(1);
        loaded = LoadedModel::load(canonical, opts, [&](double f) {
            {
                std::lock_guard g(r.mu);
                r.entries[key].fraction = f;
            }
            r.changed.notify_all();
            return (progress && progress(f)) || is_cancelled();
        });
    } catch (...) {
        err = std::current_exception();
    }
    lock.lock();
    Entry &e = r.entries[key];
    e.loading = false;
    e.fraction = 0;
    if (loaded) e.model = loaded;
    lock.unlock();
    r.changed.notify_all();
    if (err) std::rethrow_exception(err);
    return loaded;
}

std::shared_ptr<const LoadedModel> find_loaded_model(const std::filesystem::path &dir,
                                                     const std::string &variant) {
    std::error_code ec;
    const std::filesystem::path canonical = std::filesystem::canonical(dir, ec);
    if (ec) return nullptr;
    Registry &r = registry();
    std::lock_guard lock(r.mu);
    auto it = r.entries.find(registry_key(canonical, variant));
    return it == r.entries.end() ? nullptr : it->second.model.lock();
}

bool model_is_registered(const std::filesystem::path &dir, const std::string &variant) {
    std::error_code ec;
    const std::filesystem::path canonical = std::filesystem::canonical(dir, ec);
    if (ec) return false;
    Registry &r = registry();
    std::lock_guard lock(r.mu);
    auto it = r.entries.find(registry_key(canonical, variant));
    return it != r.entries.end() && (it->second.loading || !it->second.model.expired());
}

bool any_model_loaded_under(const std::filesystem::path &root) {
    std::error_code ec;
    std::filesystem::path canon = std::filesystem::weakly_canonical(root, ec);
    if (ec) canon = root;
    const std::string prefix = canon.string() + "/";
    Registry &r = registry();
    std::lock_guard lock(r.mu);
    for (const auto &[dir, e] : r.entries)
        if ((dir + "/").compare(0, prefix.size(), prefix) == 0 && !e.model.expired()) return true;
    return false;
}

}  // namespace hfk
