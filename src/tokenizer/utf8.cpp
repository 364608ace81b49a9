#include "tokenizer/utf8.h"

namespace hfk::utf8 {

size_t valid_len(std::string_view s, size_t i) {
    const auto *p = reinterpret_cast<const unsigned char *>(s.data()) + i;
    size_t left = s.size() - i;
    unsigned char b = p[0];
    if (b < 0x80) return 1;
    auto cont = [&](size_t k) { return k < left && (p[k] & 0xC0) == 0x80; };
    if (b >= 0xC2 && b <= 0xDF) return cont(1) ? 2 : 0;
    if (b >= 0xE0 && b <= 0xEF) {
        if (left < 2) return 0;
        unsigned char c = p[1];
        // E0 needs A0..BF (no overlong), ED needs 80..9F (no surrogates).
        if ((b == 0xE0 && c < 0xA0) || (b == 0xED && c > 0x9F)) return 0;
        return cont(1) && cont(2) ? 3 : 0;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (left < 2) return 0;
        unsigned char c = p[1];
        if ((b == 0xF0 && c < 0x90) || (b == 0xF4 && c > 0x8F)) return 0;
        return cont(1) && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
}

size_t invalid_len(std::string_view s, size_t i) {
    const auto *p = reinterpret_cast<const unsigned char *>(s.data()) + i;
    size_t left = s.size() - i;
    unsigned char b = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF)
        need = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        need = 3;
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 4;
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
    } else
        return 1;
    size_t k = 1;
    if (k < left && k < need && p[k] >= lo && p[k] <= hi) {
        ++k;
        while (k < left && k < need && (p[k] & 0xC0) == 0x80) ++k;
    }
    return k;
}

char32_t next(std::string_view s, size_t &i) {
    size_t n = valid_len(s, i);
    const auto *p = reinterpret_cast<const unsigned char *>(s.data()) + i;
    if (n == 0) {
        i += 1;
        return 0xFFFD;
    }
    i += n;
    switch (n) {
        case 1:
            return p[0];
        case 2:
            return char32_t(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
        case 3:
            return char32_t(p[0] & 0x0F) << 12 | char32_t(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
        default:
            return char32_t(p[0] & 0x07) << 18 | char32_t(p[1] & 0x3F) << 12 |
                   char32_t(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
    }
}

void append(std::string &out, char32_t cp) {
    if (cp < 0x80) {
        out.push_back(char(cp));
    } else if (cp < 0x800) {
        out.push_back(char(0xC0 | (cp >> 6)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(char(0xE0 | (cp >> 12)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(char(0xF0 | (cp >> 18)));
        out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    }
}

bool is_valid(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        if (static_cast<unsigned char>(s[i]) < 0x80) {
            ++i;
            continue;
        }
        size_t n = valid_len(s, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

std::string sanitize(std::string_view s) {
    if (is_valid(s)) return std::string(s);
    std::string out;
    out.reserve(s.size() + 16);
    for (size_t i = 0; i < s.size();) {
        size_t n = valid_len(s, i);
        if (n) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out.append("\xEF\xBF\xBD");
            i += invalid_len(s, i);
        }
    }
    return out;
}

}  // namespace hfk::utf8
