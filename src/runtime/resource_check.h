// "Will it fit?" before the expensive part: the memory a checkpoint needs once loaded, against
// what the machine has available now.
#pragma once

#include <cstdint>
#include <filesystem>

namespace hfk {

// Bytes of memory available to a new allocation (MemAvailable in /proc/meminfo, or the cgroup
// limit minus usage when that is smaller); 0 when unknown.
uint64_t available_memory_bytes();

// Weights are memory-mapped as stored (no second copy), so loading needs about the size of the
// safetensors files, plus a KV cache for one session at the model's full context (F32 keys and
// values). Throws HFK_E_RESOURCE with both numbers when that exceeds available memory.
void check_memory_for(const std::filesystem::path &checkpoint_dir);
uint64_t estimate_load_bytes(const std::filesystem::path &checkpoint_dir);

}  // namespace hfk
