// Splits a template into text and tag tokens, applying Jinja's whitespace control.
#include "chat/lexer.h"

#include <cctype>

#include "chat/error.h"

namespace hfk::chat {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

[[noreturn]] void syntax(int line, const std::string &msg) {
    throw TemplateError(ErrorKind::Syntax, msg + " (line " + std::to_string(line) + ")");
}

std::string normalize_newlines(const std::string &src) {
    std::string out;
    out.reserve(src.size());
    for (size_t i = 0; i < src.size(); ++i) {
        if (src[i] == '\r') {
            out += '\n';
            if (i + 1 < src.size() && src[i + 1] == '\n') ++i;
        } else
            out += src[i];
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

void append_utf8(std::string &out, uint32_t cp) {
    if (cp < 0x80)
        out += static_cast<char>(cp);
    else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

class Lexer {
  public:
    explicit Lexer(std::string src) : s_(normalize_newlines(src)) {}

    std::vector<Token> run() {
        bool strip_next = false;    // the previous tag ended with '-'
        bool line_starting = true;  // the previous tag's match ended a line (for lstrip_blocks)
        while (true) {
            size_t tag = find_tag(pos_);
            std::string text =
                s_.substr(pos_, tag == std::string::npos ? std::string::npos : tag - pos_);
            if (strip_next) {
                size_t k = 0;
                while (k < text.size() && is_space(text[k])) ++k;
                text.erase(0, k);
                strip_next = false;
            }
            if (tag == std::string::npos) {
                emit_text(text);
                break;
            }
            char kind = s_[tag + 1];
            char mod = tag + 2 < s_.size() ? s_[tag + 2] : '\0';
            if (mod == '-') {
                size_t k = text.size();
                while (k > 0 && is_space(text[k - 1])) --k;
                text.resize(k);
            } else if (mod != '+' && kind != '{') {
                size_t l_pos = text.rfind('\n');
                l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
                if (l_pos > 0 || line_starting) {
                    bool ws = l_pos < text.size();
                    for (size_t k = l_pos; k < text.size(); ++k)
                        if (!is_space(text[k])) ws = false;
                    if (ws) text.resize(l_pos);
                }
            }
            count_lines(pos_, tag);
            emit_text(text);
            pos_ = tag + 2 + ((mod == '-' || mod == '+') ? 1 : 0);
            bool ends_line = false;
            if (kind == '#') {
                size_t end = s_.find("#}", pos_);
                if (end == std::string::npos) syntax(line_, "unterminated comment");
                strip_next = end > pos_ && s_[end - 1] == '-';
                count_lines(pos_, end);
                pos_ = end + 2;
                ends_line = eat_newline();
            } else if (kind == '%' && try_raw()) {
                ends_line = last_raw_ended_line_;
                strip_next = last_raw_strip_;
            } else {
                strip_next = lex_tag(kind == '{');
                if (kind == '%') ends_line = eat_newline();
            }
            line_starting = ends_line;
        }
        out_.push_back({Token::Type::End, "", line_});
        return std::move(out_);
    }

  private:
    size_t find_tag(size_t from) const {
        for (size_t i = s_.find('{', from); i != std::string::npos; i = s_.find('{', i + 1)) {
            if (i + 1 < s_.size() && (s_[i + 1] == '{' || s_[i + 1] == '%' || s_[i + 1] == '#'))
                return i;
        }
        return std::string::npos;
    }

    void count_lines(size_t a, size_t b) {
        for (size_t i = a; i < b && i < s_.size(); ++i)
            if (s_[i] == '\n') ++line_;
    }

    void emit_text(const std::string &t) {
        if (!t.empty()) out_.push_back({Token::Type::Text, t, line_});
    }

    // trim_blocks: one newline after a block or comment tag goes.
    bool eat_newline() {
        if (pos_ < s_.size() && s_[pos_] == '\n') {
            ++pos_;
            ++line_;
            return true;
        }
        return false;
    }

    // {% raw %}...{% endraw %}: the body is text, verbatim. pos_ is just after "{%" (and its
    // modifier). Returns false (consuming nothing) when the tag is not raw.
    bool try_raw() {
        size_t p = pos_;
        while (p < s_.size() && is_space(s_[p])) ++p;
        if (s_.compare(p, 3, "raw") != 0) return false;
        p += 3;
        while (p < s_.size() && is_space(s_[p])) ++p;
        bool strip_body_start = false;
        if (p < s_.size() && s_[p] == '-') {
            strip_body_start = true;
            ++p;
        }
        if (s_.compare(p, 2, "%}") != 0) return false;
        p += 2;
        if (!strip_body_start && p < s_.size() && s_[p] == '\n') ++p;  // trim_blocks
        // find {%[-]? endraw [-]?%}
        size_t q = p;
        while (true) {
            q = s_.find("{%", q);
            if (q == std::string::npos) syntax(line_, "missing endraw");
            size_t r = q + 2;
            bool strip_before = false;
            if (r < s_.size() && (s_[r] == '-' || s_[r] == '+')) {
                strip_before = s_[r] == '-';
                ++r;
            }
            while (r < s_.size() && is_space(s_[r])) ++r;
            if (s_.compare(r, 6, "endraw") != 0) {
                q += 2;
                continue;
            }
            r += 6;
            while (r < s_.size() && is_space(s_[r])) ++r;
            bool strip_after = false;
            if (r < s_.size() && s_[r] == '-') {
                strip_after = true;
                ++r;
            }
            if (s_.compare(r, 2, "%}") != 0) {
                q += 2;
                continue;
            }
            std::string body = s_.substr(p, q - p);
            if (strip_body_start) {
                size_t k = 0;
                while (k < body.size() && is_space(body[k])) ++k;
                body.erase(0, k);
            }
            if (strip_before) {
                size_t k = body.size();
                while (k > 0 && is_space(body[k - 1])) --k;
                body.resize(k);
            } else {  // lstrip_blocks before endraw
                size_t l = body.rfind('\n');
                l = l == std::string::npos ? 0 : l + 1;
                bool ws = l < body.size();
                for (size_t k = l; k < body.size(); ++k)
                    if (!is_space(body[k])) ws = false;
                if (ws && l > 0) body.resize(l);
            }
            count_lines(pos_, r + 2);
            emit_text(body);
            pos_ = r + 2;
            last_raw_strip_ = strip_after;
            last_raw_ended_line_ = !strip_after && eat_newline();
            return true;
        }
    }

    // Tokens inside {{ }} or {% %}; returns whether the closer had '-'.
    bool lex_tag(bool is_var) {
        int tag_line = line_;
        out_.push_back({is_var ? Token::Type::VarBegin : Token::Type::BlockBegin, "", line_});
        int depth = 0;  // brackets: "}}" closes a dict literal inside {{ }} when depth > 0
        while (true) {
            while (pos_ < s_.size() && is_space(s_[pos_])) {
                if (s_[pos_] == '\n') ++line_;
                ++pos_;
            }
            if (pos_ >= s_.size()) syntax(tag_line, "unexpected end of template inside a tag");
            const char *closer = is_var ? "}}" : "%}";
            if (depth == 0) {
                if (s_[pos_] == '-' && s_.compare(pos_ + 1, 2, closer) == 0) {
                    pos_ += 3;
                    out_.push_back(
                        {is_var ? Token::Type::VarEnd : Token::Type::BlockEnd, "", line_});
                    return true;
                }
                if (s_.compare(pos_, 2, closer) == 0) {
                    pos_ += 2;
                    out_.push_back(
                        {is_var ? Token::Type::VarEnd : Token::Type::BlockEnd, "", line_});
                    return false;
                }
            }
            char c = s_[pos_];
            if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
                size_t b = pos_;
                while (pos_ < s_.size() &&
                       (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
                    ++pos_;
                out_.push_back({Token::Type::Name, s_.substr(b, pos_ - b), line_});
            } else if (std::isdigit(static_cast<unsigned char>(c))) {
                lex_number();
            } else if (c == '\'' || c == '"') {
                lex_string(c);
            } else {
                static const char *ops2[] = {"//", "**", "==", "!=", "<=", ">="};
                std::string op;
                for (const char *o : ops2)
                    if (s_.compare(pos_, 2, o) == 0) op = o;
                if (op.empty()) {
                    if (std::string("+-*/%~<>=()[]{},.:|").find(c) == std::string::npos)
                        syntax(line_, std::string("unexpected character '") + c + "'");
                    op = std::string(1, c);
                }
                if (op == "(" || op == "[" || op == "{") ++depth;
                if ((op == ")" || op == "]" || op == "}") && depth > 0) --depth;
                pos_ += op.size();
                out_.push_back({Token::Type::Op, op, line_});
            }
        }
    }

    void lex_number() {
        size_t b = pos_;
        bool is_float = false;
        auto digits = [&] {
            while (pos_ < s_.size() &&
                   (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
                ++pos_;
        };
        digits();
        if (pos_ + 1 < s_.size() && s_[pos_] == '.' &&
            std::isdigit(static_cast<unsigned char>(s_[pos_ + 1]))) {
            is_float = true;
            ++pos_;
            digits();
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            size_t save = pos_;
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
            if (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
                is_float = true;
                digits();
            } else
                pos_ = save;
        }
        std::string t;
        for (size_t i = b; i < pos_; ++i)
            if (s_[i] != '_') t += s_[i];
        out_.push_back({is_float ? Token::Type::Float : Token::Type::Int, t, line_});
    }

    void lex_string(char q) {
        int start_line = line_;
        ++pos_;
        std::string v;
        while (true) {
            if (pos_ >= s_.size()) syntax(start_line, "unterminated string");
            char c = s_[pos_++];
            if (c == q) break;
            if (c == '\n') ++line_;
            if (c != '\\') {
                v += c;
                continue;
            }
            if (pos_ >= s_.size()) syntax(start_line, "unterminated string");
            char e = s_[pos_++];
            switch (e) {
                case 'n':
                    v += '\n';
                    break;
                case 't':
                    v += '\t';
                    break;
                case 'r':
                    v += '\r';
                    break;
                case '0':
                    v += '\0';
                    break;
                case 'a':
                    v += '\a';
                    break;
                case 'b':
                    v += '\b';
                    break;
                case 'f':
                    v += '\f';
                    break;
                case 'v':
                    v += '\v';
                    break;
                case '\\':
                    v += '\\';
                    break;
                case '\'':
                    v += '\'';
                    break;
                case '"':
                    v += '"';
                    break;
                case '\n':
                    ++line_;
                    break;  // line continuation
                case 'x':
                case 'u':
                case 'U': {
                    size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (pos_ + n > s_.size()) syntax(line_, "truncated escape in string");
                    uint32_t cp = 0;
                    for (size_t k = 0; k < n; ++k) {
                        char h = s_[pos_ + k];
                        if (!std::isxdigit(static_cast<unsigned char>(h)))
                            syntax(line_, "bad escape in string");
                        cp = cp * 16 +
                             static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                       ? h - '0'
                                                       : (std::tolower(h) - 'a' + 10));
                    }
                    if (cp > 0x10ffff) syntax(line_, "bad escape in string");
                    pos_ += n;
                    append_utf8(v, cp);
                    break;
                }
                default:
                    v += '\\';
                    v += e;
            }
        }
        out_.push_back({Token::Type::String, v, start_line});
    }

    std::string s_;
    size_t pos_ = 0;
    int line_ = 1;
    bool last_raw_strip_ = false;
    bool last_raw_ended_line_ = false;
    std::vector<Token> out_;
};

}  // namespace

std::vector<Token> tokenize(const std::string &source) {
    return Lexer(source).run();
}

}  // namespace hfk::chat
