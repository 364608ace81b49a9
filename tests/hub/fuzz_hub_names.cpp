// Fuzzes the validators (repo id, revision, file name, etag): they must never crash, and what
// they accept must be safe to use as a path (no "..", no absolute path, no NUL).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "hub/hub.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    std::string s(reinterpret_cast<const char *>(data), size);
    auto unsafe = [](const std::string &p) {
        if (p.empty() || p[0] == '/' || p.find('\0') != std::string::npos) return true;
        size_t start = 0;
        while (start <= p.size()) {
            size_t end = p.find('/', start);
            if (end == std::string::npos) end = p.size();
            std::string seg = p.substr(start, end - start);
            if (seg == ".." || seg == ".") return true;
            start = end + 1;
        }
        return false;
    };
    if (hfk::hub::valid_repo_filename(s) && unsafe(s)) abort();
    if (hfk::hub::valid_revision(s) && unsafe(s)) abort();
    if (hfk::hub::valid_repo_id(s) && (unsafe(s) || s.find("--") != std::string::npos)) abort();
    if (hfk::hub::valid_etag(s) && s.find('/') != std::string::npos) abort();
    return 0;
}
