#include "constrain/gbnf_parser.h"

#include <string>
#include <vector>

#include "constrain/utf8_ranges.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace hfk::constrain {
namespace {

constexpr uint32_t kMaxRepeat = 10000;
constexpr int kMaxNesting = 200;

using Seq = std::vector<Element>;

class Parser {
  public:
    explicit Parser(std::string_view text) : s_(text) {}

    Grammar parse(std::string_view root) {
        skip_space();
        while (pos_ < s_.size()) {
            size_t at = pos_;
            std::string name = parse_name();
            if (name.empty()) error(at, "expected a rule name");
            skip_space();
            if (s_.substr(pos_, 3) != "::=") error(pos_, "expected '::=' after '" + name + "'");
            pos_ += 3;
            uint32_t r = b_.rule(name);
            if (b_.defined(r)) error(at, "rule '" + name + "' is defined twice");
            parse_alternatives(r, 0);
            if (!b_.defined(r)) b_.add_alternative(r, {});
            skip_space();
            if (pos_ < s_.size() && s_[pos_] == ')') error(pos_, "unbalanced ')'");
        }
        return b_.finish(std::string(root));
    }

  private:
    [[noreturn]] void error(size_t at, const std::string &what) const {
        size_t line = 1, col = 1;
        for (size_t i = 0; i < at && i < s_.size(); ++i) {
            if (s_[i] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        fail(HFK_E_INVALID_ARG, "grammar: line " + std::to_string(line) + ", column " +
                                    std::to_string(col) + ": " + what);
    }

    static bool name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
    }

    void skip_space() {
        while (pos_ < s_.size()) {
            char c = s_[pos_];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                ++pos_;
            } else if (c == '#') {
                while (pos_ < s_.size() && s_[pos_] != '\n') ++pos_;
            } else {
                break;
            }
        }
    }

    std::string parse_name() {
        size_t start = pos_;
        while (pos_ < s_.size() && name_char(s_[pos_])) ++pos_;
        return std::string(s_.substr(start, pos_ - start));
    }

    // Whether a `name ::=` starts at pos_ (the end of the current rule).
    bool at_rule_start() const {
        size_t p = pos_;
        while (p < s_.size() && name_char(s_[p])) ++p;
        if (p == pos_) return false;
        while (p < s_.size() && (s_[p] == ' ' || s_[p] == '\t' || s_[p] == '\n' || s_[p] == '\r'))
            ++p;
        return s_.substr(p, 3) == "::=";
    }

    void parse_alternatives(uint32_t rule, int depth) {
        if (depth > kMaxNesting) error(pos_, "groups nested too deeply");
        for (;;) {
            Seq seq = parse_sequence(depth);
            b_.add_alternative(rule, seq);
            skip_space();
            if (pos_ < s_.size() && s_[pos_] == '|') {
                ++pos_;
                continue;
            }
            return;
        }
    }

    Seq parse_sequence(int depth) {
        Seq seq;
        for (;;) {
            skip_space();
            if (pos_ >= s_.size()) return seq;
            char c = s_[pos_];
            if (c == '|' || c == ')') return seq;
            if (name_char(c) && at_rule_start()) return seq;
            Seq item = parse_primary(depth);
            for (;;) {
                // Postfix operators bind to the item just before them (no space check, as
                // llama.cpp).
                skip_space_inline();
                if (pos_ >= s_.size()) break;
                c = s_[pos_];
                if (c == '*') {
                    ++pos_;
                    item = repeat(item, 0, -1);
                } else if (c == '+') {
                    ++pos_;
                    item = repeat(item, 1, -1);
                } else if (c == '?') {
                    ++pos_;
                    item = repeat(item, 0, 1);
                } else if (c == '{') {
                    auto [lo, hi] = parse_braces();
                    item = repeat(item, lo, hi);
                } else {
                    break;
                }
            }
            seq.insert(seq.end(), item.begin(), item.end());
        }
    }

    void skip_space_inline() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
    }

    uint32_t parse_number() {
        size_t start = pos_;
        uint64_t v = 0;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
            v = v * 10 + uint64_t(s_[pos_] - '0');
            if (v > kMaxRepeat)
                error(start, "repetition count above " + std::to_string(kMaxRepeat));
            ++pos_;
        }
        if (pos_ == start) error(start, "expected a number");
        return uint32_t(v);
    }

    std::pair<uint32_t, int64_t> parse_braces() {
        size_t at = pos_;
        ++pos_;  // '{'
        skip_space_inline();
        uint32_t lo = parse_number();
        int64_t hi = lo;
        skip_space_inline();
        if (pos_ < s_.size() && s_[pos_] == ',') {
            ++pos_;
            skip_space_inline();
            hi = (pos_ < s_.size() && s_[pos_] == '}') ? -1 : int64_t(parse_number());
            skip_space_inline();
        }
        if (pos_ >= s_.size() || s_[pos_] != '}') error(pos_, "expected '}'");
        ++pos_;
        if (hi >= 0 && hi < lo) error(at, "{m,n} with n < m");
        return {lo, hi};
    }

    Seq repeat(const Seq &item, uint32_t lo, int64_t hi) {
        Seq out;
        for (uint32_t i = 0; i < lo; ++i) {
            out.insert(out.end(), item.begin(), item.end());
            if (out.size() > (4u << 20)) error(pos_, "the repetition makes the grammar too large");
        }
        if (hi < 0) {  // star ::= item star | ""
            uint32_t star = b_.fresh_rule("star");
            Seq alt = item;
            alt.push_back(GrammarBuilder::ref(star));
            b_.add_alternative(star, alt);
            b_.add_alternative(star, {});
            out.push_back(GrammarBuilder::ref(star));
        } else if (hi > lo) {  // opt_k ::= item opt_{k-1} | "", nested (hi - lo) deep
            uint32_t inner = 0;
            bool have_inner = false;
            for (int64_t k = 0; k < hi - lo; ++k) {
                uint32_t opt = b_.fresh_rule("opt");
                Seq alt = item;
                if (have_inner) alt.push_back(GrammarBuilder::ref(inner));
                b_.add_alternative(opt, alt);
                b_.add_alternative(opt, {});
                inner = opt;
                have_inner = true;
            }
            out.push_back(GrammarBuilder::ref(inner));
        }
        return out;
    }

    uint32_t parse_hex(size_t digits) {
        size_t at = pos_;
        uint32_t v = 0;
        for (size_t k = 0; k < digits; ++k) {
            if (pos_ >= s_.size()) error(at, "truncated escape");
            char c = s_[pos_++];
            int d = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
            if (d < 0) error(pos_ - 1, "bad hexadecimal digit in an escape");
            v = v * 16 + uint32_t(d);
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
            error(at, "the escape is not a Unicode scalar value");
        return v;
    }

    // One character of a literal or class (after a backslash if escaped), as a code point.
    uint32_t parse_char() {
        size_t at = pos_;
        if (s_[pos_] == '\\') {
            ++pos_;
            if (pos_ >= s_.size()) error(at, "a backslash at the end");
            char e = s_[pos_++];
            switch (e) {
                case 'n':
                    return '\n';
                case 'r':
                    return '\r';
                case 't':
                    return '\t';
                case 'x':
                    return parse_hex(2);
                case 'u':
                    return parse_hex(4);
                case 'U':
                    return parse_hex(8);
                case '\\':
                case '"':
                case '\'':
                case '[':
                case ']':
                case '-':
                case '^':
                case '/':
                case '.':
                case '(':
                case ')':
                case '|':
                case '*':
                case '+':
                case '?':
                case '{':
                case '}':
                    return uint8_t(e);
                default:
                    error(at, std::string("unknown escape '\\") + e + "'");
            }
        }
        size_t i = pos_;
        char32_t cp = utf8::next(s_, i);
        if (cp == 0xFFFD && s_.substr(pos_, 3) != "\xEF\xBF\xBD")
            error(at, "the grammar text is not valid UTF-8");
        pos_ = i;
        return uint32_t(cp);
    }

    Seq class_element(const CodepointRanges &ranges) {
        auto seqs = utf8_sequences(ranges);
        if (seqs.empty()) error(pos_, "the character class matches nothing");
        ByteSet single;
        std::vector<std::vector<ByteSet>> multi;
        for (auto &s : seqs) {
            if (s.size() == 1) {
                for (int w = 0; w < 4; ++w) single.bits[w] |= s[0].bits[w];
            } else {
                multi.push_back(std::move(s));
            }
        }
        if (multi.empty()) return {b_.bytes(single)};
        uint32_t r = b_.fresh_rule("char");
        if (!single.empty()) b_.add_alternative(r, {b_.bytes(single)});
        for (auto &s : multi) {
            Seq alt;
            for (auto &bs : s) alt.push_back(b_.bytes(bs));
            b_.add_alternative(r, alt);
        }
        return {GrammarBuilder::ref(r)};
    }

    Seq parse_primary(int depth) {
        size_t at = pos_;
        char c = s_[pos_];
        if (c == '"') {
            ++pos_;
            Seq seq;
            while (pos_ < s_.size() && s_[pos_] != '"') {
                if (s_[pos_] == '\n') error(pos_, "a newline inside a string literal");
                std::string bytes;
                append_utf8(bytes, parse_char());
                for (char b : bytes) {
                    ByteSet set;
                    set.add(uint8_t(b));
                    seq.push_back(b_.bytes(set));
                }
            }
            if (pos_ >= s_.size()) error(at, "unterminated string literal");
            ++pos_;
            return seq;
        }
        if (c == '[') {
            ++pos_;
            bool negate = false;
            if (pos_ < s_.size() && s_[pos_] == '^') {
                negate = true;
                ++pos_;
            }
            CodepointRanges ranges;
            while (pos_ < s_.size() && s_[pos_] != ']') {
                uint32_t lo = parse_char(), hi = lo;
                if (pos_ + 1 < s_.size() && s_[pos_] == '-' && s_[pos_ + 1] != ']') {
                    ++pos_;
                    hi = parse_char();
                    if (hi < lo) error(at, "a character range with its end before its start");
                }
                ranges.push_back({lo, hi});
            }
            if (pos_ >= s_.size()) error(at, "unterminated character class");
            ++pos_;
            return class_element(normalize_ranges(ranges, negate));
        }
        if (c == '.') {
            ++pos_;
            return class_element(normalize_ranges({}, true));
        }
        if (c == '(') {
            ++pos_;
            uint32_t r = b_.fresh_rule("group");
            parse_alternatives(r, depth + 1);
            skip_space();
            if (pos_ >= s_.size() || s_[pos_] != ')') error(at, "unbalanced '('");
            ++pos_;
            return {GrammarBuilder::ref(r)};
        }
        if (name_char(c)) {
            std::string name = parse_name();
            return {GrammarBuilder::ref(b_.rule(name))};
        }
        if (c == '<') error(at, "token references (<...>) are not supported");
        error(at, std::string("unexpected character '") + c + "'");
    }

    std::string_view s_;
    size_t pos_ = 0;
    GrammarBuilder b_;
};

}  // namespace

Grammar parse_gbnf(std::string_view text, std::string_view root) {
    return Parser(text).parse(root);
}

}  // namespace hfk::constrain
