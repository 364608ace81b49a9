#include "constrain/regex_to_gbnf.h"

#include <cstdio>

#include "constrain/utf8_ranges.h"
#include "tokenizer/utf8.h"
#include "util/error.h"

namespace hfk::constrain {
namespace {

CodepointRanges digit() {
    return {{'0', '9'}};
}
CodepointRanges word() {
    return {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
}
CodepointRanges space() {
    return {{'\t', '\r'}, {' ', ' '}};
}

std::string hex_escape(uint32_t cp) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\U%08X", unsigned(cp));
    return buf;
}

class RegexCompiler {
  public:
    RegexCompiler(std::string_view re, const RegexOptions &o) : s_(re), o_(o) {}

    std::string compile() {
        bool start_anchor = false, end_anchor = false;
        if (!s_.empty() && s_[0] == '^') {
            start_anchor = true;
            pos_ = 1;
        }
        std::string body = alternation(0);
        if (pos_ < s_.size() && s_[pos_] == '$') {
            end_anchor = true;
            ++pos_;
        }
        if (pos_ < s_.size()) {
            if (s_[pos_] == ')') error("unbalanced ')'");
            error("'$' is only supported at the end");
        }
        std::string any = "(" + class_text(normalize_ranges({{'\n', '\n'}}, true)) + ")*";
        std::string out;
        if (o_.search && !start_anchor) out += any + " ";
        out += "(" + body + ")";
        if (o_.search && !end_anchor) out += " " + any;
        return out;
    }

  private:
    [[noreturn]] void error(const std::string &what) const {
        fail(HFK_E_INVALID_ARG, "regex: at offset " + std::to_string(pos_) + ": " + what);
    }

    bool at(char c) const { return pos_ < s_.size() && s_[pos_] == c; }

    std::string alternation(int depth) {
        if (depth > 100) error("groups nested too deeply");
        std::string out = "(" + sequence(depth) + ")";
        while (at('|')) {
            ++pos_;
            out += " | (" + sequence(depth) + ")";
        }
        return out;
    }

    std::string sequence(int depth) {
        std::string out = "\"\"";
        while (pos_ < s_.size() && !at('|') && !at(')')) {
            if (at('$') && pos_ + 1 == s_.size()) break;
            std::string atom_text = atom(depth);
            out += " " + quantified(atom_text);
        }
        return out;
    }

    size_t number() {
        size_t start = pos_, v = 0;
        while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') {
            v = v * 10 + size_t(s_[pos_++] - '0');
            if (v > 10000) error("repetition count above 10000");
        }
        if (pos_ == start) error("expected a number");
        return v;
    }

    std::string quantified(const std::string &a) {
        std::string out = "(" + a + ")";
        for (;;) {
            if (at('*') || at('+') || at('?')) {
                out = "(" + out + ")" + std::string(1, s_[pos_++]);
            } else if (at('{') && pos_ + 1 < s_.size() && s_[pos_ + 1] >= '0' &&
                       s_[pos_ + 1] <= '9') {
                ++pos_;
                size_t lo = number(), hi = lo;
                bool open = false;
                if (at(',')) {
                    ++pos_;
                    if (at('}'))
                        open = true;
                    else
                        hi = number();
                }
                if (!at('}')) error("expected '}'");
                ++pos_;
                if (!open && hi < lo) error("{m,n} with n < m");
                out = "(" + out + "){" + std::to_string(lo) + "," +
                      (open ? "" : std::to_string(hi)) + "}";
            } else {
                break;
            }
            if (at('?') || at('+')) ++pos_;  // lazy / possessive: the same language
            if (at('*') || at('+') || at('?') || at('{')) error("a quantifier after a quantifier");
        }
        return out;
    }

    // The text of one literal code point (JSON-escaped inside a JSON string).
    std::string literal(uint32_t cp) const {
        if (o_.json_string) {
            if (cp == '"') return "\"\\\\\\\"\"";   // backslash, quote
            if (cp == '\\') return "\"\\\\\\\\\"";  // two backslashes
            if (cp < 0x20) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "%04x", unsigned(cp));
                std::string esc = "\\u";
                esc += buf;
                std::string out = "\"";
                for (char c : esc) out += c == '\\' ? std::string("\\\\") : std::string(1, c);
                return out + "\"";
            }
        }
        return "\"" + hex_escape(cp) + "\"";
    }

    std::string class_text(CodepointRanges ranges) const {
        if (o_.json_string) {
            // Remove what a JSON string cannot hold unescaped.
            CodepointRanges banned = {{0, 0x1F}, {'"', '"'}, {'\\', '\\'}};
            CodepointRanges allowed = normalize_ranges(banned, true), out;
            for (auto [lo, hi] : normalize_ranges(ranges, false))
                for (auto [alo, ahi] : allowed) {
                    uint32_t a = std::max(lo, alo), b = std::min(hi, ahi);
                    if (a <= b) out.push_back({a, b});
                }
            ranges = out;
        } else {
            ranges = normalize_ranges(ranges, false);
        }
        if (ranges.empty()) error("a character class that matches nothing");
        std::string t = "[";
        for (auto [lo, hi] : ranges) {
            t += hex_escape(lo);
            if (hi != lo) t += "-" + hex_escape(hi);
        }
        return t + "]";
    }

    uint32_t hex(size_t n) {
        uint32_t v = 0;
        for (size_t k = 0; k < n; ++k) {
            if (pos_ >= s_.size()) error("truncated escape");
            char c = s_[pos_++];
            int d = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
            if (d < 0) error("bad hexadecimal digit");
            v = v * 16 + uint32_t(d);
        }
        if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) error("not a Unicode scalar value");
        return v;
    }

    // After a backslash: a class (returned in `cls`, true) or a single code point.
    bool escape(CodepointRanges &cls, uint32_t &cp) {
        if (pos_ >= s_.size()) error("a backslash at the end");
        char e = s_[pos_++];
        switch (e) {
            case 'd':
                cls = digit();
                return true;
            case 'w':
                cls = word();
                return true;
            case 's':
                cls = space();
                return true;
            case 'D':
                cls = normalize_ranges(digit(), true);
                return true;
            case 'W':
                cls = normalize_ranges(word(), true);
                return true;
            case 'S':
                cls = normalize_ranges(space(), true);
                return true;
            case 'n':
                cp = '\n';
                return false;
            case 'r':
                cp = '\r';
                return false;
            case 't':
                cp = '\t';
                return false;
            case 'f':
                cp = '\f';
                return false;
            case 'v':
                cp = '\v';
                return false;
            case '0':
                cp = 0;
                return false;
            case 'x':
                cp = hex(2);
                return false;
            case 'u':
                cp = hex(4);
                return false;
            default:
                if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) {
                    --pos_;
                    error(std::string("unsupported escape '\\") + e +
                          "' (backreferences, \\b and \\B are not supported)");
                }
                cp = uint8_t(e);
                return false;
        }
    }

    uint32_t next_char() {
        size_t i = pos_;
        char32_t cp = utf8::next(s_, i);
        if (cp == 0xFFFD && s_.substr(pos_, 3) != "\xEF\xBF\xBD") error("not valid UTF-8");
        pos_ = i;
        return uint32_t(cp);
    }

    std::string char_class() {
        ++pos_;  // '['
        bool negate = false;
        if (at('^')) {
            negate = true;
            ++pos_;
        }
        CodepointRanges ranges;
        bool first = true;
        while (pos_ < s_.size() && (!at(']') || first)) {
            first = false;
            uint32_t lo;
            if (at('\\')) {
                ++pos_;
                CodepointRanges cls;
                if (escape(cls, lo)) {
                    ranges.insert(ranges.end(), cls.begin(), cls.end());
                    continue;
                }
            } else if (at('[') && pos_ + 1 < s_.size() && s_[pos_ + 1] == ':') {
                error("POSIX classes ([:alpha:]) are not supported");
            } else {
                lo = next_char();
            }
            uint32_t hi = lo;
            if (at('-') && pos_ + 1 < s_.size() && s_[pos_ + 1] != ']') {
                ++pos_;
                if (at('\\')) {
                    ++pos_;
                    CodepointRanges cls;
                    if (escape(cls, hi)) error("a class escape cannot end a range");
                } else {
                    hi = next_char();
                }
                if (hi < lo) error("a range with its end before its start");
            }
            ranges.push_back({lo, hi});
        }
        if (!at(']')) error("unterminated character class");
        ++pos_;
        return class_text(negate ? normalize_ranges(ranges, true) : ranges);
    }

    std::string atom(int depth) {
        char c = s_[pos_];
        if (c == '(') {
            ++pos_;
            if (at('?')) {
                ++pos_;
                if (at(':')) {
                    ++pos_;
                } else if (at('P') || at('<')) {
                    if (at('P')) ++pos_;
                    if (!at('<')) error("unsupported group syntax");
                    if (pos_ + 1 < s_.size() && (s_[pos_ + 1] == '=' || s_[pos_ + 1] == '!'))
                        error("lookbehind is not supported");
                    while (pos_ < s_.size() && !at('>')) ++pos_;
                    if (!at('>')) error("unterminated group name");
                    ++pos_;
                } else {
                    error("lookaround and inline flags are not supported");
                }
            }
            std::string inner = alternation(depth + 1);
            if (!at(')')) error("unbalanced '('");
            ++pos_;
            return inner;
        }
        if (c == '[') return char_class();
        if (c == '.') {
            ++pos_;
            return class_text(normalize_ranges({{'\n', '\n'}}, true));
        }
        if (c == '\\') {
            ++pos_;
            CodepointRanges cls;
            uint32_t cp = 0;
            if (escape(cls, cp)) return class_text(cls);
            return literal(cp);
        }
        if (c == '*' || c == '+' || c == '?') error("a quantifier with nothing to repeat");
        if (c == '{' && pos_ + 1 < s_.size() && s_[pos_ + 1] >= '0' && s_[pos_ + 1] <= '9')
            error("a quantifier with nothing to repeat");
        if (c == '^' || c == '$') error("anchors are only supported at the ends");
        return literal(next_char());
    }

    std::string_view s_;
    RegexOptions o_;
    size_t pos_ = 0;
};

}  // namespace

std::string regex_to_gbnf(std::string_view regex, const RegexOptions &opts) {
    return RegexCompiler(regex, opts).compile();
}

}  // namespace hfk::constrain
