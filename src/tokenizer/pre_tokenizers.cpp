// Pre-tokenizers: ByteLevel, Split, Whitespace, WhitespaceSplit, BertPreTokenizer, Metaspace,
// Digits, Punctuation, Sequence. Each splits one piece into sub-pieces, streaming them to a sink
// so that a 10 MB input never becomes millions of stored strings at once.
#include <algorithm>

#include "tokenizer/components.h"
#include "tokenizer/json_util.h"
#include "tokenizer/pattern.h"
#include "tokenizer/unicode.h"
#include "tokenizer/utf8.h"

namespace hfk::tok {

// ---- the byte-level alphabet ---------------------------------------------------------------
namespace {
struct ByteTable {
    std::string to_unicode[256];
    int from_unicode[324];
    ByteTable() {
        for (int &v : from_unicode) v = -1;
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            bool printable =
                (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            char32_t cp = printable ? char32_t(b) : char32_t(256 + n++);
            utf8::append(to_unicode[b], cp);
            from_unicode[cp] = b;
        }
    }
};
const ByteTable &byte_table() {
    static const ByteTable t;
    return t;
}
}  // namespace

const std::string &byte_to_unicode(unsigned char b) {
    return byte_table().to_unicode[b];
}
int byte_from_unicode(char32_t c) {
    return c < 324 ? byte_table().from_unicode[c] : -1;
}

namespace {

// ---- splitting by matches --------------------------------------------------------------------
enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior parse_behavior(const json &j, const std::string &where, Behavior def) {
    if (!has(j, "behavior")) return def;
    std::string b = get_string(j, "behavior", where);
    if (b == "Removed") return Behavior::Removed;
    if (b == "Isolated") return Behavior::Isolated;
    if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
    if (b == "MergedWithNext") return Behavior::MergedWithNext;
    if (b == "Contiguous") return Behavior::Contiguous;
    bad(where + ".behavior", "unknown split behavior '" + b + "'");
}

struct Span {
    size_t a, b;
    bool match;
};

// Applies a split behavior to the spans covering s (matches and the gaps between them), as the
// Rust NormalizedString::split does, and emits the non-empty kept pieces.
void emit_spans(std::string_view s, std::vector<Span> &spans, Behavior behavior, bool invert,
                bool at_start, const PieceSink &emit) {
    if (invert)
        for (auto &sp : spans) sp.match = !sp.match;
    std::vector<Span> out;
    switch (behavior) {
        case Behavior::Removed:
            for (auto &sp : spans)
                if (!sp.match) out.push_back(sp);
            break;
        case Behavior::Isolated:
            out = spans;
            break;
        case Behavior::MergedWithPrevious: {
            bool prev = false;
            for (auto &sp : spans) {
                if (sp.match && !prev && !out.empty())
                    out.back().b = sp.b;
                else
                    out.push_back(sp);
                prev = sp.match;
            }
            break;
        }
        case Behavior::MergedWithNext: {
            bool prev = false;
            for (size_t k = spans.size(); k-- > 0;) {
                const Span &sp = spans[k];
                if (sp.match && !prev && !out.empty())
                    out.back().a = sp.a;
                else
                    out.push_back(sp);
                prev = sp.match;
            }
            std::reverse(out.begin(), out.end());
            break;
        }
        case Behavior::Contiguous: {
            bool prev = false;
            for (auto &sp : spans) {
                if (sp.match == prev && !out.empty())
                    out.back().b = sp.b;
                else
                    out.push_back(sp);
                prev = sp.match;
            }
            break;
        }
    }
    for (auto &sp : out)
        if (sp.a < sp.b) emit(s.substr(sp.a, sp.b - sp.a), at_start && sp.a == 0);
}

template <class Pred>
std::vector<Span> char_spans(std::string_view s, Pred pred) {
    std::vector<Span> spans;
    size_t gap = 0;
    for (size_t i = 0; i < s.size();) {
        size_t at = i;
        char32_t c = utf8::next(s, i);
        if (pred(c)) {
            if (gap < at) spans.push_back({gap, at, false});
            spans.push_back({at, i, true});
            gap = i;
        }
    }
    if (gap < s.size()) spans.push_back({gap, s.size(), false});
    return spans;
}

std::vector<Span> pattern_spans(std::string_view s, const Pattern &p) {
    std::vector<Span> spans;
    size_t gap = 0;
    p.for_each_match(s, [&](size_t a, size_t b) {
        if (gap < a) spans.push_back({gap, a, false});
        spans.push_back({a, b, true});
        gap = b;
    });
    if (gap < s.size()) spans.push_back({gap, s.size(), false});
    return spans;
}

// ---- the pre-tokenizers ----------------------------------------------------------------------
const char *kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

class ByteLevel final : public PreTokenizer {
  public:
    ByteLevel(const json &j, const std::string &where) {
        add_prefix_space_ = opt_bool(j, "add_prefix_space", where, true);
        if (opt_bool(j, "use_regex", where, true))
            regex_ = std::make_unique<Regex>(kGpt2Pattern, where);
    }
    void split(std::string_view s, bool at_start, const PieceSink &emit) const override {
        std::string prefixed;
        if (add_prefix_space_ && (s.empty() || s[0] != ' ')) {
            prefixed.reserve(s.size() + 1);
            prefixed.push_back(' ');
            prefixed.append(s);
            s = prefixed;
        }
        std::string mapped;
        auto out = [&](size_t a, size_t b) {
            if (a >= b) return;
            mapped.clear();
            const ByteTable &t = byte_table();
            for (size_t k = a; k < b; ++k) {
                const std::string &u = t.to_unicode[static_cast<unsigned char>(s[k])];
                mapped.append(u.data(), u.size());
            }
            emit(mapped, at_start && a == 0);
        };
        if (!regex_) {
            out(0, s.size());
            return;
        }
        size_t gap = 0;
        regex_->for_each_match(s, [&](size_t a, size_t b) {
            out(gap, a);
            out(a, b);
            gap = b;
        });
        out(gap, s.size());
    }

  private:
    bool add_prefix_space_ = true;
    std::unique_ptr<Regex> regex_;
};

class Split final : public PreTokenizer {
  public:
    Split(const json &j, const std::string &where)
        : pattern_(field(j, "pattern", where), where + ".pattern"),
          behavior_(parse_behavior(j, where, Behavior::Isolated)),
          invert_(opt_bool(j, "invert", where, false)) {}
    void split(std::string_view s, bool at_start, const PieceSink &emit) const override {
        if (behavior_ == Behavior::Isolated && !invert_) {  // streaming fast path
            size_t gap = 0;
            pattern_.for_each_match(s, [&](size_t a, size_t b) {
                if (gap < a) emit(s.substr(gap, a - gap), at_start && gap == 0);
                if (a < b) emit(s.substr(a, b - a), at_start && a == 0);
                gap = b;
            });
            if (gap < s.size()) emit(s.substr(gap), at_start && gap == 0);
            return;
        }
        auto spans = pattern_spans(s, pattern_);
        emit_spans(s, spans, behavior_, invert_, at_start, emit);
    }

  private:
    Pattern pattern_;
    Behavior behavior_;
    bool invert_;
};

class Whitespace final : public PreTokenizer {
  public:
    Whitespace() : regex_(R"(\w+|[^\w\s]+)", "pre_tokenizer Whitespace") {}
    void split(std::string_view s, bool at_start, const PieceSink &emit) const override {
        regex_.for_each_match(s, [&](size_t a, size_t b) {
            if (a < b) emit(s.substr(a, b - a), at_start && a == 0);
        });
    }

  private:
    Regex regex_;
};

template <class Pred>
class CharSplit final : public PreTokenizer {
  public:
    CharSplit(Pred pred, Behavior b) : pred_(pred), behavior_(b) {}
    void split(std::string_view s, bool at_start, const PieceSink &emit) const override {
        auto spans = char_spans(s, pred_);
        emit_spans(s, spans, behavior_, false, at_start, emit);
    }

  private:
    Pred pred_;
    Behavior behavior_;
};
template <class Pred>
std::unique_ptr<PreTokenizer> char_split(Pred p, Behavior b) {
    return std::make_unique<CharSplit<Pred>>(p, b);
}

class BertPreTokenizer final : public PreTokenizer {
  public:
    void split(std::string_view s, bool at_start, const PieceSink &emit) const override {
        auto spans = char_spans(s, uni::is_whitespace);
        emit_spans(s, spans, Behavior::Removed, false, at_start,
                   [&](std::string_view w, bool first) {
                       auto inner = char_spans(w, uni::is_bert_punctuation);
                       emit_spans(w, inner, Behavior::Isolated, false, first, emit);
                   });
    }
};

class Metaspace final : public PreTokenizer {
  public:
    enum class Prepend { Always, First, Never };
    Metaspace(const json &j, const std::string &where) {
        replacement_ = opt_string(j, "replacement", where, "\xE2\x96\x81");
        size_t i = 0;
        if (replacement_.empty()) bad(where + ".replacement", "must be one character");
        rep_char_ = utf8::next(replacement_, i);
        if (i != replacement_.size()) bad(where + ".replacement", "must be one character");
        if (has(j, "prepend_scheme")) {
            std::string p = get_string(j, "prepend_scheme", where);
            if (p == "always")
                prepend_ = Prepend::Always;
            else if (p == "first")
                prepend_ = Prepend::First;
            else if (p == "never")
                prepend_ = Prepend::Never;
            else
                bad(where + ".prepend_scheme", "unknown value '" + p + "'");
        } else {
            prepend_ =
                opt_bool(j, "add_prefix_space", where, true) ? Prepend::Always : Prepend::Never;
        }
        split_ = opt_bool(j, "split", where, true);
    }
    void split(std::string_view s, bool at_start, const PieceSink &emit) const override {
        std::string t;
        t.reserve(s.size() + 3);
        bool prepend = prepend_ == Prepend::Always || (prepend_ == Prepend::First && at_start);
        for (char c : s) {
            if (c == ' ')
                t += replacement_;
            else
                t.push_back(c);
        }
        if (prepend && t.compare(0, replacement_.size(), replacement_) != 0)
            t.insert(0, replacement_);
        if (!split_) {
            if (!t.empty()) emit(t, at_start);
            return;
        }
        char32_t r = rep_char_;
        auto spans = char_spans(t, [r](char32_t c) { return c == r; });
        emit_spans(t, spans, Behavior::MergedWithNext, false, at_start, emit);
    }

  private:
    std::string replacement_;
    char32_t rep_char_ = 0x2581;
    Prepend prepend_ = Prepend::Always;
    bool split_ = true;
};

class Sequence final : public PreTokenizer {
  public:
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    void split(std::string_view s, bool at_start, const PieceSink &emit) const override {
        run(0, s, at_start, emit);
    }

  private:
    void run(size_t k, std::string_view s, bool at_start, const PieceSink &emit) const {
        if (k == parts.size()) {
            emit(s, at_start);
            return;
        }
        parts[k]->split(s, at_start,
                        [&](std::string_view t, bool first) { run(k + 1, t, first, emit); });
    }
};

std::unique_ptr<PreTokenizer> make(const json &j, const std::string &where) {
    std::string type = type_of(j, where);
    if (type == "Sequence") {
        auto seq = std::make_unique<Sequence>();
        const json &list = field(j, "pretokenizers", where);
        if (!list.is_array()) bad(where + ".pretokenizers", "expected an array");
        for (size_t i = 0; i < list.size(); ++i)
            seq->parts.push_back(
                make(list[i], where + ".pretokenizers[" + std::to_string(i) + "]"));
        return seq;
    }
    if (type == "ByteLevel") return std::make_unique<ByteLevel>(j, where);
    if (type == "Split") return std::make_unique<Split>(j, where);
    if (type == "Whitespace") return std::make_unique<Whitespace>();
    if (type == "WhitespaceSplit") return char_split(uni::is_whitespace, Behavior::Removed);
    if (type == "BertPreTokenizer") return std::make_unique<BertPreTokenizer>();
    if (type == "Metaspace") return std::make_unique<Metaspace>(j, where);
    if (type == "Punctuation")
        return char_split(uni::is_bert_punctuation, parse_behavior(j, where, Behavior::Isolated));
    if (type == "Digits") {
        bool individual = opt_bool(j, "individual_digits", where, false);
        return char_split(uni::is_numeric, individual ? Behavior::Isolated : Behavior::Contiguous);
    }
    fail(HFK_E_UNSUPPORTED,
         "tokenizer.json: " + where + ": unsupported pre_tokenizer type '" + type + "'");
}

}  // namespace

std::unique_ptr<PreTokenizer> make_pre_tokenizer(const json &j) {
    if (j.is_null()) return nullptr;
    return make(j, "pre_tokenizer");
}

}  // namespace hfk::tok
