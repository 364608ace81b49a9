// The Precompiled normalizer: SentencePiece's precompiled_charsmap (T5, ALBERT, XLNet...).
// Format (base64 in tokenizer.json): u32 LE trie size in bytes, the trie as u32 LE units (a
// darts-clone double array over UTF-8 bytes whose values are offsets into the rest), then the
// replacement strings, each NUL-terminated. At each position the longest key that prefixes the
// rest of the text is replaced, as SentencePiece's own normalizer does (this composes
// "e\u0301" even inside a long grapheme, which the reference outputs require).
#include <cstring>

#include "tokenizer/components.h"
#include "tokenizer/json_util.h"
#include "tokenizer/utf8.h"

namespace hfk::tok {

namespace {

std::string base64_decode(std::string_view in, const std::string &where) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    out.reserve(in.size() / 4 * 3);
    uint32_t acc = 0;
    int bits = 0;
    for (char c : in) {
        if (c == '=') break;
        int v = val(c);
        if (v < 0) bad(where, "precompiled_charsmap is not valid base64");
        acc = (acc << 6) | uint32_t(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(char((acc >> bits) & 0xFF));
        }
    }
    return out;
}

class Precompiled final : public Normalizer {
  public:
    Precompiled(const json &j, const std::string &where) {
        const json &v = field(j, "precompiled_charsmap", where);
        if (v.is_null()) return;  // an empty charsmap normalizes nothing
        if (!v.is_string()) bad(where + ".precompiled_charsmap", "expected a base64 string");
        std::string data = base64_decode(v.get_ref<const std::string &>(), where);
        if (data.empty()) return;
        if (data.size() < 4) bad(where, "precompiled_charsmap shorter than its header");
        uint32_t trie_bytes;
        std::memcpy(&trie_bytes, data.data(), 4);  // little-endian hosts only (x86-64, arm64)
        if (trie_bytes % 4 != 0 || trie_bytes > data.size() - 4)
            bad(where, "precompiled_charsmap trie size " + std::to_string(trie_bytes) +
                           " does not fit the data (" + std::to_string(data.size()) + " bytes)");
        trie_.resize(trie_bytes / 4);
        if (trie_bytes) std::memcpy(trie_.data(), data.data() + 4, trie_bytes);
        normalized_ = data.substr(4 + trie_bytes);
    }

    void normalize(std::string &s) const override {
        if (trie_.empty()) return;
        std::string out;
        out.reserve(s.size());
        std::string_view v = s, repl;
        for (size_t i = 0; i < v.size();) {
            size_t len = longest_match(v.substr(i), repl);
            if (len) {
                out.append(repl);
                i += len;
                continue;
            }
            size_t n = utf8::valid_len(v, i);
            n = n ? n : 1;
            out.append(v.substr(i, n));
            i += n;
        }
        s = std::move(out);
    }

  private:
    std::vector<uint32_t> trie_;
    std::string normalized_;

    // Length of the longest key that is a prefix of `key` (0 if none) and its replacement, as
    // SentencePiece's normalizer. Bounds-checked: the trie is untrusted.
    size_t longest_match(std::string_view key, std::string_view &repl) const {
        auto offset = [](uint32_t u) -> size_t {
            return size_t(u >> 10) << ((u & (1u << 9)) >> 6);
        };
        size_t pos = offset(trie_[0]), best = 0;
        for (size_t k = 0; k < key.size(); ++k) {
            unsigned char c = static_cast<unsigned char>(key[k]);
            if (c == 0) break;
            pos ^= c;
            if (pos >= trie_.size()) break;
            uint32_t unit = trie_[pos];
            if ((unit & ((1u << 31) | 0xFF)) != c) break;
            pos ^= offset(unit);
            if (pos >= trie_.size()) break;
            if ((unit >> 8) & 1) {
                size_t index = trie_[pos] & ((1u << 31) - 1);
                if (index >= normalized_.size()) continue;
                size_t end = normalized_.find('\0', index);
                if (end == std::string::npos) end = normalized_.size();
                std::string_view r = std::string_view(normalized_).substr(index, end - index);
                // Only whole characters, and only valid UTF-8 replacements.
                if (utf8::is_valid(r) &&
                    (k + 1 == key.size() ||
                     (static_cast<unsigned char>(key[k + 1]) & 0xC0) != 0x80)) {
                    repl = r;
                    best = k + 1;
                }
            }
        }
        return best;
    }
};

}  // namespace

std::unique_ptr<Normalizer> make_precompiled(const json &j, const std::string &where) {
    return std::make_unique<Precompiled>(j, where);
}

}  // namespace hfk::tok
