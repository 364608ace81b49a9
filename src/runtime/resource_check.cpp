#include "runtime/resource_check.h"

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

uint64_t estimate_load_bytes(const std::filesystem::path &dir) {
    uint64_t bytes = 0;
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator(dir, ec)) {
        const auto name = entry.path().filename().string();
        if (name.size() > 12 && name.compare(name.size() - 12, 12, ".safetensors") == 0)
            bytes += std::filesystem::file_size(entry.path(), ec);  // follows cache symlinks
    }
    try {
        const ModelConfig cfg = load_config(dir);
        const uint64_t head_dim = cfg.head_dim > 0 ? static_cast<uint64_t>(cfg.head_dim) : 0;
        bytes += 2ull * static_cast<uint64_t>(cfg.num_layers) *
                 static_cast<uint64_t>(cfg.num_kv_heads) * head_dim *
                 static_cast<uint64_t>(cfg.max_position_embeddings) * sizeof(float);
    } catch (const Error &) {
        // A bad config fails the load itself, with a better message than we could give here.
    }
    return bytes;
}

void check_memory_for(const std::filesystem::path &dir) {
    const uint64_t need = estimate_load_bytes(dir);
    const uint64_t avail = available_memory_bytes();
    if (avail > 0 && need > avail)
        fail(HFK_E_RESOURCE, "the model needs about " + human(need) + " of memory but only " +
                                 human(avail) +
                                 " is available (weights plus a full-context KV "
                                 "cache); set skip_resource_check to try anyway");
}

void check_before_download(const std::string &repo_id, const hub::Options &hub) {
    InspectOptions o;
    o.kv_bytes_per_element = sizeof(float);  // the runtime's KV cache, as check_memory_for
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
    if (r.available_memory > 0 && r.resident_estimate > r.available_memory)
        fail(HFK_E_RESOURCE, "the model needs about " + human(r.resident_estimate) +
                                 " of memory but only " + human(r.available_memory) +
                                 " is available (weights plus a full-context KV cache), so it "
                                 "was not downloaded; set skip_resource_check to try anyway");
}

}  // namespace hfk
