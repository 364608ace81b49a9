// Python string semantics over UTF-8, with utf8proc for case mapping.
#include "chat/strings.h"

#include <utf8proc.h>

namespace hfk::chat {

std::vector<uint32_t> to_codepoints(const std::string &s) {
    std::vector<uint32_t> out;
    const auto *p = reinterpret_cast<const utf8proc_uint8_t *>(s.data());
    utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
    while (left > 0) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
        if (n <= 0) {  // invalid byte: keep it as U+FFFD so nothing is lost silently
            cp = 0xfffd;
            n = 1;
        }
        out.push_back(static_cast<uint32_t>(cp));
        p += n;
        left -= n;
    }
    return out;
}

std::string from_codepoints(const std::vector<uint32_t> &cps) {
    std::string out;
    for (uint32_t cp : cps) {
        utf8proc_uint8_t buf[4];
        utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
        out.append(reinterpret_cast<char *>(buf), static_cast<size_t>(n));
    }
    return out;
}

static bool py_isspace(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 ||
           c == 0x202f || c == 0x205f || c == 0x3000;
}

std::string py_strip(const std::string &s, const std::string *chars, bool left, bool right) {
    auto cps = to_codepoints(s);
    std::vector<uint32_t> set;
    if (chars) set = to_codepoints(*chars);
    auto strip_it = [&](uint32_t c) {
        if (!chars) return py_isspace(c);
        for (uint32_t x : set)
            if (x == c) return true;
        return false;
    };
    size_t b = 0, e = cps.size();
    if (left)
        while (b < e && strip_it(cps[b])) ++b;
    if (right)
        while (e > b && strip_it(cps[e - 1])) --e;
    // Return a byte range of the original so invalid bytes stay as they were.
    if (b == 0 && e == cps.size()) return s;
    return from_codepoints(std::vector<uint32_t>(cps.begin() + static_cast<long>(b),
                                                 cps.begin() + static_cast<long>(e)));
}

std::vector<std::string> py_split(const std::string &s, const std::string *sep, long maxsplit) {
    std::vector<std::string> out;
    if (sep) {
        if (sep->empty()) return {s};
        size_t pos = 0;
        while (maxsplit < 0 || static_cast<long>(out.size()) < maxsplit) {
            size_t f = s.find(*sep, pos);
            if (f == std::string::npos) break;
            out.push_back(s.substr(pos, f - pos));
            pos = f + sep->size();
        }
        out.push_back(s.substr(pos));
        return out;
    }
    auto cps = to_codepoints(s);
    size_t i = 0;
    while (i < cps.size()) {
        while (i < cps.size() && py_isspace(cps[i])) ++i;
        if (i >= cps.size()) break;
        if (maxsplit >= 0 && static_cast<long>(out.size()) >= maxsplit) {
            size_t e = cps.size();
            while (e > i && py_isspace(cps[e - 1])) --e;
            out.push_back(from_codepoints(
                {cps.begin() + static_cast<long>(i), cps.begin() + static_cast<long>(e)}));
            break;
        }
        size_t b = i;
        while (i < cps.size() && !py_isspace(cps[i])) ++i;
        out.push_back(from_codepoints(
            {cps.begin() + static_cast<long>(b), cps.begin() + static_cast<long>(i)}));
    }
    return out;
}

std::vector<std::string> py_splitlines(const std::string &s) {
    auto cps = to_codepoints(s);
    std::vector<std::string> out;
    std::vector<uint32_t> cur;
    for (size_t i = 0; i < cps.size(); ++i) {
        uint32_t c = cps[i];
        bool br = c == '\n' || c == '\r' || c == 0x0b || c == 0x0c || (c >= 0x1c && c <= 0x1e) ||
                  c == 0x85 || c == 0x2028 || c == 0x2029;
        if (!br) {
            cur.push_back(c);
            continue;
        }
        if (c == '\r' && i + 1 < cps.size() && cps[i + 1] == '\n') ++i;
        out.push_back(from_codepoints(cur));
        cur.clear();
    }
    if (!cur.empty()) out.push_back(from_codepoints(cur));
    return out;
}

static std::string map_case(const std::string &s, bool upper) {
    auto cps = to_codepoints(s);
    for (auto &c : cps)
        c = static_cast<uint32_t>(upper ? utf8proc_toupper(static_cast<utf8proc_int32_t>(c))
                                        : utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
    return from_codepoints(cps);
}

std::string py_upper(const std::string &s) {
    return map_case(s, true);
}
std::string py_lower(const std::string &s) {
    return map_case(s, false);
}

static bool is_cased_letter(uint32_t c) {
    auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
    return cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL ||
           cat == UTF8PROC_CATEGORY_LT;
}

std::string py_title(const std::string &s) {
    auto cps = to_codepoints(s);
    bool prev_cased = false;
    for (auto &c : cps) {
        bool cased = is_cased_letter(c);
        auto ci = static_cast<utf8proc_int32_t>(c);
        c = static_cast<uint32_t>(prev_cased ? utf8proc_tolower(ci) : utf8proc_totitle(ci));
        prev_cased = cased;
    }
    return from_codepoints(cps);
}

std::string py_capitalize(const std::string &s) {
    auto cps = to_codepoints(s);
    for (size_t i = 0; i < cps.size(); ++i) {
        auto ci = static_cast<utf8proc_int32_t>(cps[i]);
        cps[i] = static_cast<uint32_t>(i == 0 ? utf8proc_totitle(ci) : utf8proc_tolower(ci));
    }
    return from_codepoints(cps);
}

std::string py_replace(const std::string &s, const std::string &from, const std::string &to,
                       long count) {
    std::string out;
    if (from.empty()) {  // Python inserts `to` between every character
        auto chars = to_codepoints(s);
        long n = 0;
        for (size_t i = 0; i <= chars.size(); ++i) {
            if (count < 0 || n < count) {
                out += to;
                ++n;
            }
            if (i < chars.size()) out += from_codepoints({chars[i]});
        }
        return out;
    }
    size_t pos = 0;
    long n = 0;
    while (count < 0 || n < count) {
        size_t f = s.find(from, pos);
        if (f == std::string::npos) break;
        out.append(s, pos, f - pos);
        out += to;
        pos = f + from.size();
        ++n;
    }
    out.append(s, pos, std::string::npos);
    return out;
}

bool py_islower(const std::string &s) {
    bool cased = false;
    for (uint32_t c : to_codepoints(s)) {
        auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
        if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LT) return false;
        if (cat == UTF8PROC_CATEGORY_LL) cased = true;
    }
    return cased;
}

bool py_isupper(const std::string &s) {
    bool cased = false;
    for (uint32_t c : to_codepoints(s)) {
        auto cat = utf8proc_category(static_cast<utf8proc_int32_t>(c));
        if (cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT) return false;
        if (cat == UTF8PROC_CATEGORY_LU) cased = true;
    }
    return cased;
}

std::string html_escape(const std::string &s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

}  // namespace hfk::chat
