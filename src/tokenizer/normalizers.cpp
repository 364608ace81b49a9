// Normalizers: NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Strip, Replace, Prepend,
// BertNormalizer, ByteLevel, Precompiled (precompiled.cpp) and Sequence.
#include <string>

#include "tokenizer/components.h"
#include "tokenizer/json_util.h"
#include "tokenizer/pattern.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace hfk::tok {

std::unique_ptr<Normalizer> make_precompiled(const json &j, const std::string &where);

namespace {

class Sequence final : public Normalizer {
  public:
    std::vector<std::unique_ptr<Normalizer>> parts;
    void normalize(std::string &s) const override {
        for (auto &p : parts) p->normalize(s);
    }
};

class UnicodeForm final : public Normalizer {
  public:
    explicit UnicodeForm(uni::Form f) : form_(f) {}
    void normalize(std::string &s) const override { s = uni::normalize(s, form_); }

  private:
    uni::Form form_;
};

class Lowercase final : public Normalizer {
  public:
    void normalize(std::string &s) const override {
        std::string out;
        out.reserve(s.size());
        for (size_t i = 0; i < s.size();) uni::append_lowercase(out, utf8::next(s, i));
        s = std::move(out);
    }
};

class StripAccents final : public Normalizer {
  public:
    void normalize(std::string &s) const override {
        std::string out;
        out.reserve(s.size());
        for (size_t i = 0; i < s.size();) {
            char32_t c = utf8::next(s, i);
            if (!uni::is_mark_nonspacing(c)) utf8::append(out, c);
        }
        s = std::move(out);
    }
};

class Strip final : public Normalizer {
  public:
    bool left = true, right = true;
    void normalize(std::string &s) const override {
        size_t b = 0, e = s.size();
        if (left) {
            for (size_t i = 0; i < s.size();) {
                size_t at = i;
                if (!uni::is_whitespace(utf8::next(s, i))) {
                    b = at;
                    break;
                }
                b = i;
            }
        }
        if (right) {
            while (e > b) {
                size_t k = e - 1;
                while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
                size_t i = k;
                if (!uni::is_whitespace(utf8::next(s, i))) break;
                e = k;
            }
        }
        s = s.substr(b, e - b);
    }
};

class Replace final : public Normalizer {
  public:
    Replace(const json &j, const std::string &where)
        : pattern_(field(j, "pattern", where), where + ".pattern"),
          content_(get_string(j, "content", where)) {}
    void normalize(std::string &s) const override { s = pattern_.replace_all(s, content_); }

  private:
    Pattern pattern_;
    std::string content_;
};

class Prepend final : public Normalizer {
  public:
    std::string prepend;
    void normalize(std::string &s) const override {
        if (!s.empty()) s.insert(0, prepend);
    }
};

class ByteLevelNormalizer final : public Normalizer {
  public:
    void normalize(std::string &s) const override {
        std::string out;
        out.reserve(s.size() * 2);
        for (unsigned char b : s) out += byte_to_unicode(b);
        s = std::move(out);
    }
};

// What BertNormalizer's clean_text removes besides NUL and U+FFFD: Rust's is_control, i.e.
// unicode_categories' is_other minus \t \n \r. That crate's tables are frozen at an old Unicode
// version and its Cn table is empty, so this is Cc, Co and the Cf of that version, not today's
// General_Category: U+FFFE, U+0378 and the Cf characters added since (U+08E2, U+0890, U+110CD,
// U+13430...) are kept. The list was read off tokenizers 0.22.2 over every code point.
bool rust_bert_control(char32_t c) {
    if (c < 0x20) return c != '\t' && c != '\n' && c != '\r';
    if (c < 0x7F) return false;
    if (c <= 0x9F) return true;
    if (c < 0xAD) return false;
    static constexpr char32_t kRanges[][2] = {
        {0xAD, 0xAD},       {0x600, 0x605},     {0x61C, 0x61C},     {0x6DD, 0x6DD},
        {0x70F, 0x70F},     {0x180E, 0x180E},   {0x200B, 0x200F},   {0x202A, 0x202E},
        {0x2060, 0x2064},   {0x2066, 0x206F},   {0xE000, 0xF8FF},   {0xFEFF, 0xFEFF},
        {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A},
        {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xF0000, 0xFFFFD}, {0x100000, 0x10FFFD},
    };
    for (const auto &r : kRanges) {
        if (c < r[0]) return false;
        if (c <= r[1]) return true;
    }
    return false;
}

class BertNormalizer final : public Normalizer {
  public:
    bool clean_text = true, chinese = true, strip_accents = false, lowercase = true;
    void normalize(std::string &s) const override {
        std::string out;
        out.reserve(s.size() + 8);
        for (size_t i = 0; i < s.size();) {
            char32_t c = utf8::next(s, i);
            if (clean_text) {
                bool ws = c == '\t' || c == '\n' || c == '\r' || uni::is_whitespace(c);
                if (c == 0 || c == 0xFFFD || rust_bert_control(c)) continue;
                if (ws) c = ' ';
            }
            if (chinese && uni::is_cjk(c)) {
                out.push_back(' ');
                utf8::append(out, c);
                out.push_back(' ');
                continue;
            }
            utf8::append(out, c);
        }
        if (strip_accents) {
            out = uni::normalize(out, uni::Form::NFD);
            StripAccents().normalize(out);
        }
        if (lowercase) Lowercase().normalize(out);
        s = std::move(out);
    }
};

std::unique_ptr<Normalizer> make(const json &j, const std::string &where) {
    std::string type = type_of(j, where);
    if (type == "Sequence") {
        auto seq = std::make_unique<Sequence>();
        const json &list = field(j, "normalizers", where);
        if (!list.is_array()) bad(where + ".normalizers", "expected an array");
        for (size_t i = 0; i < list.size(); ++i)
            seq->parts.push_back(make(list[i], where + ".normalizers[" + std::to_string(i) + "]"));
        return seq;
    }
    if (type == "NFC") return std::make_unique<UnicodeForm>(uni::Form::NFC);
    if (type == "NFD") return std::make_unique<UnicodeForm>(uni::Form::NFD);
    if (type == "NFKC") return std::make_unique<UnicodeForm>(uni::Form::NFKC);
    if (type == "NFKD") return std::make_unique<UnicodeForm>(uni::Form::NFKD);
    if (type == "Lowercase") return std::make_unique<Lowercase>();
    if (type == "StripAccents") return std::make_unique<StripAccents>();
    if (type == "Strip") {
        auto n = std::make_unique<Strip>();
        n->left = opt_bool(j, "strip_left", where, true);
        n->right = opt_bool(j, "strip_right", where, true);
        return n;
    }
    if (type == "Replace") return std::make_unique<Replace>(j, where);
    if (type == "Prepend") {
        auto n = std::make_unique<Prepend>();
        n->prepend = get_string(j, "prepend", where);
        return n;
    }
    if (type == "ByteLevel") return std::make_unique<ByteLevelNormalizer>();
    if (type == "BertNormalizer") {
        auto n = std::make_unique<BertNormalizer>();
        n->clean_text = opt_bool(j, "clean_text", where, true);
        n->chinese = opt_bool(j, "handle_chinese_chars", where, true);
        n->lowercase = opt_bool(j, "lowercase", where, true);
        n->strip_accents = opt_bool(j, "strip_accents", where, n->lowercase);
        return n;
    }
    if (type == "Precompiled") return make_precompiled(j, where);
    fail(HFK_E_UNSUPPORTED,
         "tokenizer.json: " + where + ": unsupported normalizer type '" + type + "'");
}

}  // namespace

std::unique_ptr<Normalizer> make_normalizer(const json &j) {
    if (j.is_null()) return nullptr;
    return make(j, "normalizer");
}

}  // namespace hfk::tok
