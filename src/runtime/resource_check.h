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

// Weights are memory-mapped as stored (no second copy), so loading needs about the size of the
// safetensors files, plus a KV cache for one session at the model's full context (F32 keys and
// values). Throws HFK_E_RESOURCE with both numbers when that exceeds available memory.
void check_memory_for(const std::filesystem::path &checkpoint_dir);

// The same question before a download, answered by the inspector from config.json and the
// safetensors headers (a few KB, with HTTP Range requests): HFK_E_RESOURCE when the model will
// not fit in memory, HFK_E_NO_SPACE when the weights still to fetch will not fit on the cache's
// disk, each message giving both numbers. Hub errors are thrown as the download would throw
// them; a config the inspector cannot read is left for the loader to diagnose.
void check_before_download(const std::string &repo_id, const hub::Options &hub);
uint64_t estimate_load_bytes(const std::filesystem::path &checkpoint_dir);

}  // namespace hfk
