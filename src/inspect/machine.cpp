// Available memory and free disk, from /proc, /sys/fs/cgroup and statvfs.
#include "inspect/machine.h"

#include <sys/statvfs.h>

#include <fstream>
#include <string>
#include <system_error>

namespace hfk::inspect {

namespace fs = std::filesystem;

namespace {

// A whole small text file, or "" when it cannot be read.
std::string slurp(const char *path) {
    std::ifstream in(path);
    if (!in) return {};
    std::string s, line;
    while (std::getline(in, line) && s.size() < 65536) s += line + "\n";
    return s;
}

// The unsigned decimal at s[pos] (after spaces); false when there is none or it overflows.
bool parse_u64(const std::string &s, size_t pos, uint64_t &out) {
    while (pos < s.size() && s[pos] == ' ') ++pos;
    uint64_t v = 0;
    size_t start = pos;
    for (; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos)
        if (__builtin_mul_overflow(v, uint64_t(10), &v) ||
            __builtin_add_overflow(v, uint64_t(s[pos] - '0'), &v))
            return false;
    out = v;
    return pos > start;
}

}  // namespace

uint64_t available_memory_bytes() {
    uint64_t avail = 0;
    const std::string info = slurp("/proc/meminfo");
    if (size_t p = info.find("MemAvailable:"); p != std::string::npos) {
        uint64_t kb = 0;
        if (!parse_u64(info, p + 13, kb) || __builtin_mul_overflow(kb, uint64_t(1024), &avail))
            avail = 0;
    }
    // cgroup v2: "max" means no limit; otherwise the room is max - current.
    uint64_t max = 0, cur = 0;
    const std::string m = slurp("/sys/fs/cgroup/memory.max");
    const std::string c = slurp("/sys/fs/cgroup/memory.current");
    if (parse_u64(m, 0, max) && parse_u64(c, 0, cur)) {
        const uint64_t room = max > cur ? max - cur : 0;
        if (avail == 0 || room < avail) avail = room;
    }
    return avail;
}

uint64_t free_disk_bytes(const fs::path &path) {
    std::error_code ec;
    fs::path p = path.empty() ? fs::path(".") : fs::absolute(path, ec);
    if (ec) return 0;
    while (!fs::exists(p, ec) && p.has_parent_path() && p != p.parent_path()) p = p.parent_path();
    struct statvfs st {};
    if (statvfs(p.c_str(), &st) != 0) return 0;
    uint64_t bytes = 0;
    if (__builtin_mul_overflow(uint64_t(st.f_bavail), uint64_t(st.f_frsize), &bytes)) return 0;
    return bytes;
}

}  // namespace hfk::inspect
