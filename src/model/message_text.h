// Untrusted names and values quoted into error messages: control bytes escaped, length bounded,
// so that a hostile tensor name cannot forge log lines or flood a message.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace hfk {

inline std::string printable(std::string_view s, size_t max_bytes = 200) {
    std::string out = "\"";
    for (size_t i = 0; i < s.size(); ++i) {
        if (i == max_bytes) {
            out += "...";
            break;
        }
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
    return out;
}

}  // namespace hfk
