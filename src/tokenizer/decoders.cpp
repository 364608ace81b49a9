// Decoders: turn token strings back into text. ByteLevel, Metaspace, WordPiece, ByteFallback,
// Fuse, Strip, Replace, BPEDecoder, CTC, Sequence; each works on the whole list of tokens
// (decode_chain) as in the Rust library.
#include "tokenizer/components.h"
#include "tokenizer/json_util.h"
#include "tokenizer/pattern.h"
#include "tokenizer/utf8.h"

namespace hfk::tok {

namespace {

using Tokens = std::vector<std::string>;

void replace_all(std::string &s, std::string_view from, std::string_view to) {
    if (from.empty()) return;
    std::string out;
    size_t prev = 0;
    for (size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, prev)) {
        out.append(s, prev, pos - prev);
        out.append(to);
        prev = pos + from.size();
    }
    if (prev == 0) return;
    out.append(s, prev);
    s = std::move(out);
}

// transformers' / tokenizers' WordPiece clean-up of spaces before punctuation and contractions.
void cleanup(std::string &s) {
    replace_all(s, " .", ".");
    replace_all(s, " ?", "?");
    replace_all(s, " !", "!");
    replace_all(s, " ,", ",");
    replace_all(s, " ' ", "'");
    replace_all(s, " n't", "n't");
    replace_all(s, " 'm", "'m");
    replace_all(s, " do not", " don't");
    replace_all(s, " 's", "'s");
    replace_all(s, " 've", "'ve");
    replace_all(s, " 're", "'re");
}

class ByteLevel final : public Decoder {
  public:
    void decode_chain(Tokens &tokens) const override {
        decode_chain_raw(tokens);
        tokens[0] = utf8::sanitize(tokens[0]);
    }
    void decode_chain_raw(Tokens &tokens) const override {
        std::string bytes;
        for (const std::string &t : tokens) {
            size_t mark = bytes.size();
            bool ok = true;
            for (size_t i = 0; i < t.size();) {
                int b = byte_from_unicode(utf8::next(t, i));
                if (b < 0) {
                    ok = false;
                    break;
                }
                bytes.push_back(char(b));
            }
            if (!ok) {  // a token outside the byte alphabet (an added token) passes through as is
                bytes.resize(mark);
                bytes += t;
            }
        }
        tokens.assign(1, std::move(bytes));
    }
};

class Metaspace final : public Decoder {
  public:
    Metaspace(const json &j, const std::string &where) {
        replacement_ = opt_string(j, "replacement", where, "\xE2\x96\x81");
        if (has(j, "prepend_scheme"))
            strip_first_ = get_string(j, "prepend_scheme", where) != "never";
        else
            strip_first_ = opt_bool(j, "add_prefix_space", where, true);
    }
    void decode_chain(Tokens &tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i)
            replace_all(tokens[i], replacement_, i == 0 && strip_first_ ? "" : " ");
    }

  private:
    std::string replacement_;
    bool strip_first_ = true;
};

class WordPiece final : public Decoder {
  public:
    WordPiece(const json &j, const std::string &where) {
        prefix_ = opt_string(j, "prefix", where, "##");
        cleanup_ = opt_bool(j, "cleanup", where, true);
    }
    void decode_chain(Tokens &tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string &t = tokens[i];
            if (i != 0) {
                if (t.compare(0, prefix_.size(), prefix_) == 0)
                    t.erase(0, prefix_.size());
                else
                    t.insert(0, " ");
            }
            if (cleanup_) cleanup(t);
        }
    }

  private:
    std::string prefix_;
    bool cleanup_ = true;
};

class ByteFallback final : public Decoder {
  public:
    void decode_chain(Tokens &tokens) const override { run(tokens, false); }
    void decode_chain_raw(Tokens &tokens) const override { run(tokens, true); }

  private:
    static void run(Tokens &tokens, bool raw) {
        Tokens out;
        std::string pending;
        size_t pending_n = 0;
        auto flush = [&] {
            if (!pending_n) return;
            if (raw || utf8::is_valid(pending))
                out.push_back(pending);
            else
                for (size_t k = 0; k < pending_n; ++k) out.emplace_back("\xEF\xBF\xBD");
            pending.clear();
            pending_n = 0;
        };
        for (std::string &t : tokens) {
            int b = byte_of(t);
            if (b >= 0) {
                pending.push_back(char(b));
                ++pending_n;
                continue;
            }
            flush();
            out.push_back(std::move(t));
        }
        flush();
        tokens = std::move(out);
    }

    static int hex(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }
    static int byte_of(const std::string &t) {
        if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return -1;
        int h = hex(t[3]), l = hex(t[4]);
        return h < 0 || l < 0 ? -1 : h * 16 + l;
    }
};

class Fuse final : public Decoder {
  public:
    void decode_chain(Tokens &tokens) const override {
        std::string all;
        for (auto &t : tokens) all += t;
        tokens.assign(1, std::move(all));
    }
};

class Strip final : public Decoder {
  public:
    Strip(const json &j, const std::string &where) {
        std::string c = get_string(j, "content", where);
        size_t i = 0;
        if (c.empty()) bad(where + ".content", "must be one character");
        content_ = utf8::next(c, i);
        if (i != c.size()) bad(where + ".content", "must be one character");
        int64_t a = opt_int(j, "start", where, 0), b = opt_int(j, "stop", where, 0);
        if (a < 0 || b < 0) bad(where, "start and stop must be >= 0");
        start_ = size_t(a);
        stop_ = size_t(b);
    }
    void decode_chain(Tokens &tokens) const override {
        for (auto &t : tokens) {
            std::vector<size_t> bounds;  // byte offset of each character, plus the end
            for (size_t i = 0; i < t.size();) {
                bounds.push_back(i);
                utf8::next(t, i);
            }
            size_t n = bounds.size();
            bounds.push_back(t.size());
            auto ch = [&](size_t k) {
                size_t i = bounds[k];
                return utf8::next(t, i);
            };
            size_t a = 0, b = n;
            for (size_t k = 0; k < start_ && k < n && ch(k) == content_; ++k) a = k + 1;
            for (size_t k = 0; k < stop_ && k < n && ch(n - 1 - k) == content_; ++k) b = n - 1 - k;
            if (b < a) b = a;
            t = t.substr(bounds[a], bounds[b] - bounds[a]);
        }
    }

  private:
    char32_t content_;
    size_t start_ = 0, stop_ = 0;
};

class Replace final : public Decoder {
  public:
    Replace(const json &j, const std::string &where)
        : pattern_(field(j, "pattern", where), where + ".pattern"),
          content_(get_string(j, "content", where)) {}
    void decode_chain(Tokens &tokens) const override {
        for (auto &t : tokens) t = pattern_.replace_all(t, content_);
    }

  private:
    Pattern pattern_;
    std::string content_;
};

class BpeDecoder final : public Decoder {
  public:
    explicit BpeDecoder(std::string suffix) : suffix_(std::move(suffix)) {}
    void decode_chain(Tokens &tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i)
            replace_all(tokens[i], suffix_, i + 1 == tokens.size() ? "" : " ");
    }

  private:
    std::string suffix_;
};

class Ctc final : public Decoder {
  public:
    Ctc(const json &j, const std::string &where) {
        pad_ = opt_string(j, "pad_token", where, "<pad>");
        delim_ = opt_string(j, "word_delimiter_token", where, "|");
        cleanup_ = opt_bool(j, "cleanup", where, true);
    }
    void decode_chain(Tokens &tokens) const override {
        Tokens out;
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (i > 0 && tokens[i] == tokens[i - 1]) continue;  // dedup consecutive repeats
            std::string t = tokens[i];
            replace_all(t, pad_, "");
            if (cleanup_) {
                cleanup(t);
                replace_all(t, delim_, " ");
            }
            if (!t.empty()) out.push_back(std::move(t));
        }
        tokens = std::move(out);
    }

  private:
    std::string pad_, delim_;
    bool cleanup_ = true;
};

class Sequence final : public Decoder {
  public:
    std::vector<std::unique_ptr<Decoder>> parts;
    void decode_chain(Tokens &tokens) const override {
        for (auto &p : parts) p->decode_chain(tokens);
    }
    void decode_chain_raw(Tokens &tokens) const override {
        for (auto &p : parts) p->decode_chain_raw(tokens);
    }
};

std::unique_ptr<Decoder> make(const json &j, const std::string &where) {
    std::string type = type_of(j, where);
    if (type == "Sequence") {
        auto seq = std::make_unique<Sequence>();
        const json &list = field(j, "decoders", where);
        if (!list.is_array()) bad(where + ".decoders", "expected an array");
        for (size_t i = 0; i < list.size(); ++i)
            seq->parts.push_back(make(list[i], where + ".decoders[" + std::to_string(i) + "]"));
        return seq;
    }
    if (type == "ByteLevel") return std::make_unique<ByteLevel>();
    if (type == "Metaspace") return std::make_unique<Metaspace>(j, where);
    if (type == "WordPiece") return std::make_unique<WordPiece>(j, where);
    if (type == "ByteFallback") return std::make_unique<ByteFallback>();
    if (type == "Fuse") return std::make_unique<Fuse>();
    if (type == "Strip") return std::make_unique<Strip>(j, where);
    if (type == "Replace") return std::make_unique<Replace>(j, where);
    if (type == "BPEDecoder")
        return std::make_unique<BpeDecoder>(opt_string(j, "suffix", where, "</w>"));
    if (type == "CTC") return std::make_unique<Ctc>(j, where);
    fail(HFK_E_UNSUPPORTED,
         "tokenizer.json: " + where + ": unsupported decoder type '" + type + "'");
}

}  // namespace

std::unique_ptr<Decoder> make_decoder(const json &j) {
    if (j.is_null()) return nullptr;
    return make(j, "decoder");
}

}  // namespace hfk::tok
