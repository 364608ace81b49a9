#include "constrain/utf8_ranges.h"

#include <algorithm>
#include <string>

namespace hfk::constrain {

CodepointRanges normalize_ranges(CodepointRanges ranges, bool negate) {
    std::sort(ranges.begin(), ranges.end());
    CodepointRanges merged;
    for (auto [lo, hi] : ranges) {
        if (lo > hi) continue;
        hi = std::min<uint32_t>(hi, 0x10FFFF);
        if (!merged.empty() && lo <= merged.back().second + 1)
            merged.back().second = std::max(merged.back().second, hi);
        else
            merged.push_back({lo, hi});
    }
    if (negate) {
        CodepointRanges inv;
        uint32_t next = 0;
        for (auto [lo, hi] : merged) {
            if (lo > next) inv.push_back({next, lo - 1});
            next = hi + 1;
        }
        if (next <= 0x10FFFF) inv.push_back({next, 0x10FFFF});
        merged = std::move(inv);
    }
    CodepointRanges out;  // without surrogates, which UTF-8 cannot encode
    for (auto [lo, hi] : merged) {
        if (hi < 0xD800 || lo > 0xDFFF) {
            out.push_back({lo, hi});
            continue;
        }
        if (lo < 0xD800) out.push_back({lo, 0xD7FF});
        if (hi > 0xDFFF) out.push_back({0xE000, hi});
    }
    return out;
}

void append_utf8(std::string &out, uint32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

namespace {

std::string encode(uint32_t cp) {
    std::string s;
    append_utf8(s, cp);
    return s;
}

// Splits [lo, hi] (same encoded length) until each piece is a product of byte ranges.
void split(uint32_t lo, uint32_t hi, std::vector<std::vector<ByteSet>> &out) {
    static const uint32_t kMaxOfLength[] = {0x7F, 0x7FF, 0xFFFF, 0x10FFFF};
    for (int n = 0; n < 3; ++n)
        if (lo <= kMaxOfLength[n] && hi > kMaxOfLength[n]) {
            split(lo, kMaxOfLength[n], out);
            split(kMaxOfLength[n] + 1, hi, out);
            return;
        }
    if (hi < 0x80) {
        ByteSet b;
        b.add_range(uint8_t(lo), uint8_t(hi));
        out.push_back({b});
        return;
    }
    // For each continuation-byte depth i, ranges must be aligned to 64^i blocks.
    for (int i = 1; i < 4; ++i) {
        uint32_t m = (1u << (6 * i)) - 1;
        if ((lo & ~m) != (hi & ~m)) {
            if ((lo & m) != 0) {
                split(lo, lo | m, out);
                split((lo | m) + 1, hi, out);
                return;
            }
            if ((hi & m) != m) {
                split(lo, (hi & ~m) - 1, out);
                split(hi & ~m, hi, out);
                return;
            }
        }
    }
    std::string a = encode(lo), b = encode(hi);
    std::vector<ByteSet> seq(a.size());
    for (size_t k = 0; k < a.size(); ++k) seq[k].add_range(uint8_t(a[k]), uint8_t(b[k]));
    out.push_back(std::move(seq));
}

}  // namespace

std::vector<std::vector<ByteSet>> utf8_sequences(const CodepointRanges &ranges) {
    std::vector<std::vector<ByteSet>> out;
    for (auto [lo, hi] : ranges) split(lo, hi, out);
    return out;
}

}  // namespace hfk::constrain
