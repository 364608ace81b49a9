// Python's printf-style formatting: the subset of CPython's PyUnicode_Format that Jinja
// templates reach through "%" and |format.
#include "chat/percent_format.h"

#include <cmath>
#include <algorithm>
#include <cctype>
#include <cstdio>

#include "chat/error.h"
#include "chat/interpreter.h"

namespace hfk::chat {
namespace {

struct Spec {
    bool left = false, plus = false, space = false, alt = false, zero = false;
    int width = -1, precision = -1;
};

std::string pad(const std::string &body, const Spec &sp, bool numeric) {
    const size_t len = utf8_length(body);
    if (sp.width < 0 || len >= static_cast<size_t>(sp.width)) return body;
    const size_t fill = static_cast<size_t>(sp.width) - len;
    if (sp.left) return body + std::string(fill, ' ');
    if (sp.zero && numeric) {  // zeros go after the sign and the 0x/0o prefix
        size_t at = 0;
        if (at < body.size() && (body[at] == '-' || body[at] == '+' || body[at] == ' ')) ++at;
        if (at + 1 < body.size() && body[at] == '0' &&
            (body[at + 1] == 'x' || body[at + 1] == 'X' || body[at + 1] == 'o'))
            at += 2;
        return body.substr(0, at) + std::string(fill, '0') + body.substr(at);
    }
    return std::string(fill, ' ') + body;
}

int64_t to_integer(const Value &v, char conv) {
    if (v.type == Value::Type::Int) return v.integer;
    if (v.type == Value::Type::Bool) return v.boolean;
    if (v.type == Value::Type::Float && conv != 'x' && conv != 'X' && conv != 'o' && conv != 'c') {
        if (!std::isfinite(v.number)) fail("cannot convert float to integer");
        return static_cast<int64_t>(v.number);
    }
    fail(std::string("%") + conv + " format: " +
         (conv == 'c' ? "an integer is required" : "a real number is required, not ") +
         (conv == 'c' ? "" : type_name(v)));
}

std::string format_int(int64_t x, char conv, const Spec &sp) {
    const bool neg = x < 0;
    const uint64_t mag = neg ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
    char buf[80];
    if (conv == 'x' || conv == 'X')
        std::snprintf(buf, sizeof buf, conv == 'x' ? "%llx" : "%llX",
                      static_cast<unsigned long long>(mag));
    else if (conv == 'o')
        std::snprintf(buf, sizeof buf, "%llo", static_cast<unsigned long long>(mag));
    else
        std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(mag));
    std::string digits = buf;
    if (sp.precision > 0 && digits.size() < static_cast<size_t>(sp.precision))
        digits.insert(0, static_cast<size_t>(sp.precision) - digits.size(), '0');
    std::string prefix;
    if (sp.alt && conv == 'o') prefix = "0o";
    if (sp.alt && conv == 'x') prefix = "0x";
    if (sp.alt && conv == 'X') prefix = "0X";
    std::string sign = neg ? "-" : sp.plus ? "+" : sp.space ? " " : "";
    return sign + prefix + digits;
}

std::string format_float(double x, char conv, const Spec &sp) {
    if (std::isinf(x) || std::isnan(x)) {
        std::string s = std::isnan(x) ? "nan" : "inf";
        if (conv == 'E' || conv == 'F' || conv == 'G')
            for (auto &c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (std::isinf(x) && x < 0) return "-" + s;
        return (sp.plus ? "+" : sp.space ? " " : "") + s;
    }
    std::string f = "%";
    if (sp.plus) f += '+';
    if (sp.space) f += ' ';
    if (sp.alt) f += '#';
    f += '.' + std::to_string(sp.precision < 0 ? 6 : std::min(sp.precision, 100)) + conv;
    char buf[512];
    std::snprintf(buf, sizeof buf, f.c_str(), x);
    return buf;
}

}  // namespace

std::string py_percent_format(const std::string &fmt, const std::vector<Value> &args,
                              const Dict *mapping) {
    std::string out;
    size_t next_arg = 0;
    bool used_mapping = false;
    auto take = [&]() -> const Value & {
        if (next_arg >= args.size()) fail("not enough arguments for format string");
        return args[next_arg++];
    };
    for (size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] != '%') {
            out += fmt[i];
            continue;
        }
        if (++i >= fmt.size()) fail("incomplete format");
        const Value *keyed = nullptr;
        if (fmt[i] == '(') {
            if (!mapping) fail("format requires a mapping");
            int depth = 1;
            size_t start = ++i;
            while (i < fmt.size() && depth > 0) {
                if (fmt[i] == '(') ++depth;
                if (fmt[i] == ')') --depth;
                if (depth > 0) ++i;
            }
            if (i >= fmt.size()) fail("incomplete format key");
            const std::string key = fmt.substr(start, i - start);
            keyed = mapping->find(key);
            if (!keyed) fail("KeyError: '" + key + "'");
            used_mapping = true;
            if (++i >= fmt.size()) fail("incomplete format");
        }
        Spec sp;
        for (; i < fmt.size(); ++i) {
            const char c = fmt[i];
            if (c == '-')
                sp.left = true;
            else if (c == '+')
                sp.plus = true;
            else if (c == ' ')
                sp.space = true;
            else if (c == '#')
                sp.alt = true;
            else if (c == '0')
                sp.zero = true;
            else
                break;
        }
        auto number = [&](int &field) {
            if (i < fmt.size() && fmt[i] == '*') {
                const Value &v = take();
                if (v.type != Value::Type::Int) fail("* wants int");
                field = static_cast<int>(std::clamp<int64_t>(v.integer, -10000, 10000));
                ++i;
                return;
            }
            if (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) {
                field = 0;
                while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i])))
                    field = std::min(field * 10 + (fmt[i++] - '0'), 10000);
            }
        };
        number(sp.width);
        if (sp.width < -1) {
            sp.left = true;
            sp.width = -sp.width;
        }
        if (i < fmt.size() && fmt[i] == '.') {
            ++i;
            sp.precision = 0;
            number(sp.precision);
        }
        while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
        if (i >= fmt.size()) fail("incomplete format");
        const char conv = fmt[i];
        if (conv == '%') {
            out += '%';
            continue;
        }
        const Value &v = keyed ? *keyed : take();
        std::string body;
        bool numeric = false;
        switch (conv) {
            case 's':
            case 'r':
            case 'a':
                body = conv == 's' ? py_str(v) : py_repr(v);
                if (sp.precision >= 0) {
                    auto chars = utf8_chars(body);
                    if (chars.size() > static_cast<size_t>(sp.precision)) {
                        body.clear();
                        for (size_t k = 0; k < static_cast<size_t>(sp.precision); ++k)
                            body += chars[k];
                    }
                }
                break;
            case 'd':
            case 'i':
            case 'u':
            case 'x':
            case 'X':
            case 'o':
                if (!v.is_number()) {
                    if (v.is_undefined()) undefined_error(v);
                    fail(std::string("%") + conv + " format: a real number is required, not " +
                         type_name(v));
                }
                body = format_int(to_integer(v, conv), conv, sp);
                numeric = true;
                break;
            case 'f':
            case 'F':
            case 'e':
            case 'E':
            case 'g':
            case 'G':
                if (!v.is_number()) {
                    if (v.is_undefined()) undefined_error(v);
                    fail("must be real number, not " + type_name(v));
                }
                body = format_float(v.as_double(), conv, sp);
                numeric = true;
                break;
            case 'c':
                if (v.is_string()) {
                    if (utf8_length(v.str) != 1) fail("%c requires int or char");
                    body = v.str;
                } else {
                    const int64_t cp = to_integer(v, 'c');
                    if (cp < 0 || cp > 0x10FFFF) fail("%c arg not in range(0x110000)");
                    std::vector<uint32_t> one{static_cast<uint32_t>(cp)};
                    std::string s;
                    uint32_t c = one[0];
                    if (c < 0x80)
                        s += static_cast<char>(c);
                    else if (c < 0x800) {
                        s += static_cast<char>(0xC0 | (c >> 6));
                        s += static_cast<char>(0x80 | (c & 0x3F));
                    } else if (c < 0x10000) {
                        s += static_cast<char>(0xE0 | (c >> 12));
                        s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
                        s += static_cast<char>(0x80 | (c & 0x3F));
                    } else {
                        s += static_cast<char>(0xF0 | (c >> 18));
                        s += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
                        s += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
                        s += static_cast<char>(0x80 | (c & 0x3F));
                    }
                    body = s;
                }
                break;
            default:
                fail(std::string("unsupported format character '") + conv + "'");
        }
        out += pad(body, sp, numeric);
    }
    if (next_arg < args.size() && !used_mapping && !(mapping && args.size() == 1))
        fail("not all arguments converted during string formatting");
    return out;
}

}  // namespace hfk::chat
