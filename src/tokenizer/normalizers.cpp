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
                bool control = !(c == '\t' || c == '\n' || c == '\r') && uni::is_other(c);
                if (c == 0 || c == 0xFFFD || control) continue;
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
