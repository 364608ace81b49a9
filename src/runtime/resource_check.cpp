#include "runtime/resource_check.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

#include "inspect/inspect.h"
#include "model/config.h"
#include "util/error.h"

namespace hfk {
namespace {

uint64_t read_u64_file(const char *path) {
    std::ifstream in(path);
    std::string s;
    if (!(in >> s) || s == "max") return 0;
    try {
        return std::stoull(s);
    } catch (...) {
        return 0;
    }
}

std::string human(uint64_t bytes) {
    std::ostringstream o;
    o.precision(1);
    o << std::fixed << static_cast<double>(bytes) / (1024.0 * 1024.0) << " MiB";
    return o.str();
}

}  // namespace

uint64_t available_memory_bytes() {
    uint64_t avail = 0;
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    std::string unit;
    while (meminfo >> key >> kb) {
        std::getline(meminfo, unit);
        if (key == "MemAvailable:") {
            avail = kb * 1024;
            break;
        }
    }
    // A container's memory limit may be lower than the machine's (cgroup v2).
    const uint64_t limit = read_u64_file("/sys/fs/cgroup/memory.max");
    const uint64_t used = read_u64_file("/sys/fs/cgroup/memory.current");
    if (limit > 0 && limit > used && (avail == 0 || limit - used < avail)) avail = limit - used;
    return avail;
}

int64_t check_context(int64_t requested, int64_t model_context) {
    const int64_t want = requested > 0 ? requested : kDefaultCheckContext;
    return model_context > 0 ? std::min(want, model_context) : want;
}

LoadEstimate estimate_load(const std::filesystem::path &dir, int64_t n_ctx) {
    LoadEstimate e;
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
        const auto name = entry.path().filename().string();
        if (name.size() > 12 && name.compare(name.size() - 12, 12, ".safetensors") == 0) {
            const uintmax_t size = std::filesystem::file_size(entry.path(), ec);  // follows links
            if (!ec) e.weight_bytes += size;
        }
    }
    e.context = check_context(n_ctx, 0);
    try {
        const ModelConfig cfg = load_config(dir);
        e.context = check_context(n_ctx, cfg.max_position_embeddings);
        const uint64_t head_dim = cfg.head_dim > 0 ? static_cast<uint64_t>(cfg.head_dim) : 0;
        e.kv_bytes = 2ull * static_cast<uint64_t>(std::max<int64_t>(cfg.num_layers, 0)) *
                     static_cast<uint64_t>(std::max<int64_t>(cfg.num_kv_heads, 0)) * head_dim *
                     static_cast<uint64_t>(e.context) * sizeof(float);
    } catch (const Error &) {
        // A bad config fails the load itself, with a better message than we could give here.
    }
    return e;
}

namespace {

std::string refusal(uint64_t need, uint64_t weights, uint64_t kv, int64_t context, uint64_t avail) {
    return "the model needs about " + human(need) + " of memory (weights " + human(weights) +
           " plus a KV cache of " + human(kv) + " for a context of " + std::to_string(context) +
           " tokens) but only " + human(avail) +
           " is available; ask for a smaller context (n_ctx, hfkit --ctx-size), or set "
           "skip_resource_check (hfkit --skip-resource-check) to try anyway";
}

}  // namespace

void check_memory_for(const std::filesystem::path &dir, int64_t n_ctx) {
    const LoadEstimate e = estimate_load(dir, n_ctx);
    const uint64_t avail = available_memory_bytes();
    if (avail > 0 && e.total() > avail)
        fail(HFK_E_RESOURCE, refusal(e.total(), e.weight_bytes, e.kv_bytes, e.context, avail));
}

void check_before_download(const std::string &repo_id, const hub::Options &hub, int64_t n_ctx) {
    InspectOptions o;
    o.kv_bytes_per_element = sizeof(float);  // the runtime's KV cache, as check_memory_for
    o.context_length = check_context(n_ctx, 0);  // an upper bound; clamped below
    o.hub = hub;
    o.hub.progress = nullptr;
    o.write_cache = false;  // a refusal must leave nothing in the cache that looks like a model
    Inspection r;
    try {
        r = inspect_model(repo_id, o);
    } catch (const Error &e) {
        const int32_t s = e.status();
        if (s == HFK_E_FORMAT || s == HFK_E_UNSUPPORTED || s == HFK_E_ENTRY_NOT_FOUND ||
            s == HFK_E_IO)
            return;
        throw;
    }
    if (r.download_bytes > 0 && r.free_disk > 0 && !r.fits_disk)
        fail(HFK_E_NO_SPACE, repo_id + " needs " + human(r.download_bytes) +
                                 " more on disk but only " + human(r.free_disk) +
                                 " is free for the cache; free some space or move the cache "
                                 "(HF_HUB_CACHE)");
    // The inspector sized the KV for o.context_length; the model's own maximum may be smaller.
    const int64_t context = check_context(n_ctx, r.context_length);
    const uint64_t kv = r.kv_bytes_per_token * static_cast<uint64_t>(context);
    const uint64_t need =
        r.resident_estimate - std::min(r.resident_estimate, r.kv_bytes_total) + kv;
    if (r.available_memory > 0 && need > r.available_memory)
        fail(HFK_E_RESOURCE, refusal(need, r.stored_weight_bytes, kv, context, r.available_memory) +
                                 " (the model was not downloaded)");
}

}  // namespace hfk
