#include "output.h"

#include <cmath>
#include <cstdint>
#include <cstdio>

namespace cli {
namespace {

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs, no surrogates,
// nothing above U+10FFFF), or 0 when the bytes there are not one. *cp receives the code point.
size_t utf8_sequence(std::string_view s, size_t i, uint32_t *cp) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
    const unsigned char c = b(0);
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        n = 2, v = c & 0x1Fu, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        n = 3, v = c & 0x0Fu, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        n = 4, v = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k) {
        if ((b(k) & 0xC0) != 0x80) return 0;
        v = (v << 6) | (b(k) & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return n;
}

void append_hex_escape(std::string &out, unsigned value, const char *format) {
    char buf[16];
    std::snprintf(buf, sizeof buf, format, value);
    out += buf;
}

}  // namespace

std::string valid_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        uint32_t cp = 0;
        const size_t n = utf8_sequence(s, i, &cp);
        if (n == 0) {
            out += "\xEF\xBF\xBD";  // U+FFFD
            ++i;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

std::string terminal_safe(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        uint32_t cp = 0;
        const size_t n = utf8_sequence(s, i, &cp);
        if (n == 0) {
            append_hex_escape(out, static_cast<unsigned char>(s[i]), "\\x%02x");
            ++i;
        } else if (cp < 0x20 || cp == 0x7F) {
            append_hex_escape(out, cp, "\\x%02x");
            i += n;
        } else if (cp >= 0x80 && cp <= 0x9F) {  // C1 controls (CSI is U+009B)
            append_hex_escape(out, cp, "\\u%04x");
            i += n;
        } else {
            out.append(s.substr(i, n));
            i += n;
        }
    }
    return out;
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (const char c : valid_utf8(s)) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (u < 0x20 || u == 0x7F) {
            append_hex_escape(out, u, "\\u%04x");
        } else {
            out += c;
        }
    }
    return out + "\"";
}

std::string json_number(double d) {
    if (!std::isfinite(d)) return "null";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.7g", d);
    return buf;
}

}  // namespace cli
