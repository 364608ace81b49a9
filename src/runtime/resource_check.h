// "Will it fit?" before the expensive part: the memory a checkpoint needs once loaded, against
// what the machine has available now.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "hub/hub.h"

namespace hfk {

// Bytes of memory available to a new allocation (MemAvailable in /proc/meminfo, or the cgroup
// limit minus usage when that is smaller); 0 when unknown.
uint64_t available_memory_bytes();

// The context the memory check sizes a KV cache for when the caller names none: the model's
// context length, but at most this many tokens. Long-context models (128k, 1M) are used far below
// their maximum, and the KV cache is reserved lazily (MAP_NORESERVE): only the positions a
// session fills take memory.
constexpr int64_t kDefaultCheckContext = 4096;

// The context the check assumes: `requested` (> 0) or kDefaultCheckContext, never more than the
// model's context length when that is known (> 0).
int64_t check_context(int64_t requested, int64_t model_context);

// What loading a checkpoint is estimated to take.
struct LoadEstimate {
    uint64_t weight_bytes = 0;  // the safetensors files, mapped as stored (no second copy)
    uint64_t kv_bytes = 0;      // one session's F32 keys and values for `context` tokens
    int64_t context = 0;
    uint64_t total() const { return weight_bytes + kv_bytes; }
};
LoadEstimate estimate_load(const std::filesystem::path &checkpoint_dir, int64_t n_ctx);

// Throws HFK_E_RESOURCE when the estimate for a session of `n_ctx` tokens (<= 0: the default
// above) exceeds available memory; the message gives both numbers and the context assumed.
void check_memory_for(const std::filesystem::path &checkpoint_dir, int64_t n_ctx);

// The same question before a download, answered by the inspector from config.json and the
// safetensors headers (a few KB, with HTTP Range requests): HFK_E_RESOURCE when the model will
// not fit in memory, HFK_E_NO_SPACE when the weights still to fetch will not fit on the cache's
// disk, each message giving both numbers. Hub errors are thrown as the download would throw
// them; a config the inspector cannot read is left for the loader to diagnose.
void check_before_download(const std::string &repo_id, const hub::Options &hub, int64_t n_ctx);

}  // namespace hfk
