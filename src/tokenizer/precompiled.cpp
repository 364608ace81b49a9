// The Precompiled normalizer: SentencePiece's precompiled_charsmap (T5, ALBERT, XLNet, Marian...).
// Format (base64 in tokenizer.json): u32 LE trie size in bytes, the trie as u32 LE units (a
// darts-clone double array over UTF-8 bytes whose values are offsets into the rest), then the
// replacement strings, each NUL-terminated.
//
// Applied as the Rust library does (normalizers/precompiled.rs over spm_precompiled), which is not
// SentencePiece's own longest match: the text goes by extended grapheme cluster; a cluster shorter
// than 6 bytes with any key of the charsmap as a prefix is replaced whole by the replacement of
// the shortest such key (so "A\u0301\u0301" becomes "\u00C1": trailing marks do not survive,
// and "\r\n" becomes the replacement of "\r"); otherwise each character of the cluster is
// replaced by the shortest key that prefixes it, or kept.
#include <utf8proc.h>

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
        std::string_view v = s, repl;  // valid UTF-8: encode() sanitizes its input
        utf8proc_int32_t state = 0;
        for (size_t i = 0; i < v.size();) {
            // The extended grapheme cluster [i, end). Two ASCII characters other than CR LF are
            // always a boundary, which keeps utf8proc (and its state) off the common path; state
            // 0 then makes its next call start from the actual previous character.
            size_t end = i;
            char32_t prev = utf8::next(v, end);
            while (end < v.size()) {
                size_t j = end;
                char32_t c = utf8::next(v, j);
                bool boundary;
                if (prev < 0x80 && c < 0x80) {
                    boundary = !(prev == '\r' && c == '\n');
                    state = 0;
                } else {
                    boundary = utf8proc_grapheme_break_stateful(utf8proc_int32_t(prev),
                                                                utf8proc_int32_t(c), &state);
                }
                if (boundary) break;
                prev = c;
                end = j;
            }
            std::string_view cluster = v.substr(i, end - i);
            i = end;
            if (cluster.size() < 6 && shortest_match(cluster, repl)) {
                out.append(repl);
                continue;
            }
            for (size_t k = 0; k < cluster.size();) {
                size_t n = utf8::seq_len(static_cast<unsigned char>(cluster[k]));
                std::string_view ch = cluster.substr(k, n);
                out.append(shortest_match(ch, repl) ? repl : ch);
                k += n;
            }
        }
        s = std::move(out);
    }

  private:
    std::vector<uint32_t> trie_;
    std::string normalized_;

    // Whether some key of the charsmap is a prefix of `key` (stopping at a NUL byte); if so the
    // replacement of the shortest one, as spm_precompiled's transform (the first result of its
    // common prefix search). Bounds-checked: the trie is untrusted; a replacement that is not
    // valid UTF-8 counts as no match (the Rust library rejects such a charsmap or panics).
    bool shortest_match(std::string_view key, std::string_view &repl) const {
        auto offset = [](uint32_t u) -> size_t {
            return size_t(u >> 10) << ((u & (1u << 9)) >> 6);
        };
        size_t pos = offset(trie_[0]);
        for (size_t k = 0; k < key.size(); ++k) {
            unsigned char c = static_cast<unsigned char>(key[k]);
            if (c == 0) return false;
            pos ^= c;
            if (pos >= trie_.size()) return false;
            uint32_t unit = trie_[pos];
            if ((unit & ((1u << 31) | 0xFF)) != c) return false;
            pos ^= offset(unit);
            if (pos >= trie_.size()) return false;
            if ((unit >> 8) & 1) {
                size_t index = trie_[pos] & ((1u << 31) - 1);
                if (index > normalized_.size()) return false;
                size_t stop = normalized_.find('\0', index);
                if (stop == std::string::npos) stop = normalized_.size();
                repl = std::string_view(normalized_).substr(index, stop - index);
                return utf8::is_valid(repl);
            }
        }
        return false;
    }
};

}  // namespace

std::unique_ptr<Normalizer> make_precompiled(const json &j, const std::string &where) {
    return std::make_unique<Precompiled>(j, where);
}

}  // namespace hfk::tok
