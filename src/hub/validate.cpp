// Validation of everything that becomes a URL component or a path in the cache: repo ids,
// revisions, file names, ETags and commit hashes (RELIABILITY.md a.4-a.7). Pure functions.
#include "hub/hub.h"

namespace hfk::hub {

namespace {

bool is_hex_lower(std::string_view s) {
    for (char c : s)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            n = 1, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            n = 3, cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t k = 1; k <= n; ++k) {
            if (i + k >= s.size()) return false;
            unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        // Overlong forms, surrogates and out-of-range code points are invalid.
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

// One part of a repo id: [A-Za-z0-9._-]{1,96}, not starting or ending with '-' or '.'.
bool valid_id_part(std::string_view p) {
    if (p.empty() || p.size() > 96) return false;
    for (char c : p) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    auto edge = [](char c) { return c == '-' || c == '.'; };
    return !edge(p.front()) && !edge(p.back());
}

}  // namespace

bool valid_commit(std::string_view s) {
    return s.size() == 40 && is_hex_lower(s);
}

bool valid_etag(std::string_view s) {
    return (s.size() == 40 || s.size() == 64) && is_hex_lower(s);
}

bool valid_repo_id(std::string_view id) {
    // "--" is forbidden because the cache folder joins the parts with "--".
    if (id.find("--") != std::string_view::npos || id.find("..") != std::string_view::npos)
        return false;
    if (id.size() >= 4 && id.substr(id.size() - 4) == ".git") return false;
    size_t slash = id.find('/');
    if (slash == std::string_view::npos) return valid_id_part(id);
    if (id.find('/', slash + 1) != std::string_view::npos) return false;
    return valid_id_part(id.substr(0, slash)) && valid_id_part(id.substr(slash + 1));
}

bool valid_revision(std::string_view r) {
    if (valid_commit(r)) return true;
    if (r.empty() || r.size() > 256) return false;
    for (char c : r) {
        if (c <= 0x20 || c >= 0x7f) return false;  // ASCII printable, no space
        if (c == '~' || c == '^' || c == ':' || c == '?' || c == '*' || c == '[' || c == '\\')
            return false;
    }
    if (r.find("..") != std::string_view::npos || r.find("@{") != std::string_view::npos ||
        r.find("//") != std::string_view::npos)
        return false;
    if (r.front() == '/' || r.front() == '-' || r.back() == '/') return false;
    if (r.size() >= 5 && r.substr(r.size() - 5) == ".lock") return false;
    // No segment may start with '.' (covers "." and ".." path segments of refs/<revision>).
    size_t start = 0;
    while (start <= r.size()) {
        size_t end = r.find('/', start);
        if (end == std::string_view::npos) end = r.size();
        if (end == start || r[start] == '.') return false;
        start = end + 1;
    }
    return true;
}

bool valid_repo_filename(std::string_view f) {
    if (f.empty() || f.size() > 1024 || !valid_utf8(f)) return false;
    for (char c : f) {
        unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f || c == '\\') return false;
    }
    size_t start = 0;
    bool first = true;
    while (start <= f.size()) {
        size_t end = f.find('/', start);
        if (end == std::string_view::npos) end = f.size();
        std::string_view seg = f.substr(start, end - start);
        if (seg.empty() || seg.size() > 255 || seg == "." || seg == "..") return false;
        if (first && seg.find(':') != std::string_view::npos) return false;  // drive letters
        first = false;
        start = end + 1;
    }
    return true;
}

}  // namespace hfk::hub
