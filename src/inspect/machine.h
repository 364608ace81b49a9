// What this machine has to offer a model: memory it can still give, and disk space.
#pragma once

#include <cstdint>
#include <filesystem>

namespace hfk::inspect {

// MemAvailable from /proc/meminfo (what the kernel can hand out without swapping), lowered to the
// room left under a cgroup v2 memory.max when the process runs under one (containers, CI).
// 0 when unknown.
uint64_t available_memory_bytes();

// Free bytes for an unprivileged user (statvfs f_bavail) on the file system that holds `path`,
// or its nearest existing ancestor (the HF cache may not exist yet). 0 when unknown.
uint64_t free_disk_bytes(const std::filesystem::path &path);

}  // namespace hfk::inspect
