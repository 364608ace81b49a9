#include "runtime/download_jobs.h"

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "util/error.h"

namespace hfk {
namespace {

struct Job {
    std::mutex mu;
    std::condition_variable changed;
    hub::Progress progress;
    uint64_t progress_version = 0;
    bool done = false;
    hub::Snapshot result;
    // A failure as a status and message, not an exception_ptr: each waiter throws its own copy,
    // so no exception object is shared between threads.
    int32_t error_status = HFK_OK;
    std::string error_message;
    int waiters = 0;
    std::atomic<bool> cancel{false};
    // The job's thread, joined by the last waiter to leave: a download never outlives the calls
    // that wait for it, so nothing of it runs while the process exits (libcrypto and libcurl
    // free their per-thread state in a thread's exit path, which must not race with their
    // atexit cleanup).
    std::mutex join_mu;
    std::thread worker;
    void join() {
        std::lock_guard lock(join_mu);
        if (worker.joinable()) worker.join();
    }
    ~Job() {
        // Only when the last reference is the job thread's own, which no waiter joined; the
        // waiters' protocol below makes that unreachable, but a thread must never terminate().
        if (worker.joinable()) worker.detach();
    }
};

struct Registry {
    std::mutex mu;
    std::map<std::string, std::shared_ptr<Job>> running;
    std::atomic<int64_t> started{0};
};

// Never destroyed (a static's destructor could run while a prepare is still waiting).
Registry &registry() {
    static Registry *r = new Registry;
    return *r;
}

std::string job_key(std::string_view repo_id, const hub::Options &o) {
    const std::string cache = o.cache_dir.empty() ? hub::default_cache_dir().string() : o.cache_dir;
    std::string key = cache + '\n' + std::string(repo_id) + '\n' +
                      (o.revision.empty() ? "main" : o.revision) + '\n' + o.endpoint;
    for (const auto &p : o.allow_patterns) key += "\na:" + p;
    for (const auto &p : o.ignore_patterns) key += "\ni:" + p;
    return key;
}

void run_job(std::shared_ptr<Job> job, std::string repo_id, hub::Options opts, std::string key) {
    opts.cancel = &job->cancel;
    opts.progress = [job](const hub::Progress &p) {
        std::lock_guard lock(job->mu);
        job->progress = p;
        ++job->progress_version;
        job->changed.notify_all();
        return false;
    };
    hub::Snapshot snap;
    int32_t err = HFK_OK;
    std::string message;
    try {
        snap = hub::prepare(repo_id, opts);
    } catch (const Error &e) {
        err = e.status();
        message = e.what();
    } catch (const std::bad_alloc &) {
        err = HFK_E_NOMEM;
        message = "out of memory while downloading " + repo_id;
    } catch (const std::exception &e) {
        err = HFK_E_INTERNAL;
        message = std::string("internal error while downloading ") + repo_id + ": " + e.what();
    }
    {
        // Forget the job before publishing the result: a prepare that starts after a failure
        // must start afresh rather than join the failed job.
        Registry &r = registry();
        std::lock_guard lock(r.mu);
        auto it = r.running.find(key);
        if (it != r.running.end() && it->second == job) r.running.erase(it);
    }
    std::lock_guard lock(job->mu);
    job->result = std::move(snap);
    job->error_status = err;
    job->error_message = std::move(message);
    job->done = true;
    job->changed.notify_all();
}

}  // namespace

bool download_running(const std::string &cache_dir, std::string_view repo_id) {
    const std::string prefix = cache_dir + '\n' + std::string(repo_id) + '\n';
    Registry &r = registry();
    std::lock_guard lock(r.mu);
    for (const auto &[key, job] : r.running)
        if (key.compare(0, prefix.size(), prefix) == 0 && job && !job->cancel) return true;
    return false;
}

int64_t download_jobs_started() {
    return registry().started.load();
}

hub::Snapshot prepare_shared(std::string_view repo_id, const hub::Options &opts) {
    const std::string key = job_key(repo_id, opts);
    std::shared_ptr<Job> job;
    {
        Registry &r = registry();
        std::lock_guard lock(r.mu);
        auto &slot = r.running[key];
        if (!slot || slot->cancel) {  // a job everyone left is finishing its cancel: start anew
            slot = std::make_shared<Job>();
            r.started.fetch_add(1);
            hub::Options job_opts = opts;
            job_opts.progress = nullptr;
            slot->worker = std::thread(run_job, slot, std::string(repo_id), std::move(job_opts), key);
        }
        job = slot;
        std::lock_guard job_lock(job->mu);
        ++job->waiters;
    }

    std::unique_lock lock(job->mu);
    uint64_t seen = 0;
    bool cancelled = false;
    while (!job->done) {
        job->changed.wait_for(lock, std::chrono::milliseconds(50));
        if (opts.progress && job->progress_version != seen) {
            seen = job->progress_version;
            const hub::Progress snapshot = job->progress;
            lock.unlock();  // never call out under our lock
            cancelled = opts.progress(snapshot);
            lock.lock();
        }
        if (cancelled || (opts.cancel && opts.cancel->load())) {
            cancelled = true;
            break;
        }
    }
    if (!cancelled && opts.progress && job->progress_version != seen) {
        const hub::Progress last = job->progress;  // the final figures, e.g. 100%
        lock.unlock();
        opts.progress(last);
        lock.lock();
    }
    const bool last = --job->waiters == 0;
    if (last && !job->done) job->cancel = true;  // nobody wants it any more: it stops promptly
    lock.unlock();
    if (last) job->join();
    if (cancelled) fail(HFK_E_CANCELLED, "download of " + std::string(repo_id) + " cancelled");
    if (job->error_status != HFK_OK) fail(job->error_status, job->error_message);
    return job->result;
}

}  // namespace hfk
