// Value construction and Python's str/repr/==/< over values.
#include "chat/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

#include "chat/error.h"

namespace hfk::chat {

const Value *Dict::find(const std::string &key) const {
    for (const auto &kv : items)
        if (kv.first == key) return &kv.second;
    return nullptr;
}

void Dict::set(const std::string &key, Value v) {
    for (auto &kv : items)
        if (kv.first == key) {
            kv.second = std::move(v);
            return;
        }
    items.emplace_back(key, std::move(v));
}

const Value *CallArgs::get(size_t index, const char *name) const {
    if (name)
        for (const auto &kv : kw)
            if (kv.first == name) return &kv.second;
    if (index < pos.size()) return &pos[index];
    return nullptr;
}

Value Value::undefined(std::string hint) {
    Value v;
    v.str = std::move(hint);
    return v;
}
Value Value::none() {
    Value v;
    v.type = Type::None;
    return v;
}
Value Value::of(bool b) {
    Value v;
    v.type = Type::Bool;
    v.boolean = b;
    return v;
}
Value Value::of(int64_t i) {
    Value v;
    v.type = Type::Int;
    v.integer = i;
    return v;
}
Value Value::of(double d) {
    Value v;
    v.type = Type::Float;
    v.number = d;
    return v;
}
Value Value::of(std::string s) {
    Value v;
    v.type = Type::String;
    v.str = std::move(s);
    return v;
}
Value Value::new_list(std::vector<Value> items) {
    Value v;
    v.type = Type::List;
    v.list = std::make_shared<std::vector<Value>>(std::move(items));
    return v;
}
Value Value::new_dict() {
    Value v;
    v.type = Type::Dict;
    v.dict = std::make_shared<Dict>();
    return v;
}
Value Value::native(std::string name, NativeFn fn) {
    Value v;
    v.type = Type::Callable;
    v.fn = std::make_shared<Callable>(Callable{std::move(name), std::move(fn)});
    return v;
}

bool Value::truthy() const {
    switch (type) {
        case Type::Undefined:
        case Type::None:
            return false;
        case Type::Bool:
            return boolean;
        case Type::Int:
            return integer != 0;
        case Type::Float:
            return number != 0.0;
        case Type::String:
            return !str.empty();
        case Type::List:
            return !list->empty();
        case Type::Dict:
            return !dict->items.empty();
        case Type::Callable:
            return true;
    }
    return false;
}

double Value::as_double() const {
    if (type == Type::Int) return static_cast<double>(integer);
    if (type == Type::Bool) return boolean ? 1.0 : 0.0;
    return number;
}

std::string py_float_repr(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    bool neg = sci[0] == '-';
    if (neg) sci.erase(0, 1);
    size_t epos = sci.find('e');
    std::string mant = sci.substr(0, epos);
    int exp = std::stoi(sci.substr(epos + 1));
    std::string digits;
    for (char c : mant)
        if (c != '.') digits += c;
    std::string out = neg ? "-" : "";
    if (exp < -4 || exp >= 16) {
        out += digits[0];
        if (digits.size() > 1) out += "." + digits.substr(1);
        char e[16];
        std::snprintf(e, sizeof e, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        return out + e;
    }
    if (exp < 0) {
        out += "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    } else if (static_cast<size_t>(exp) + 1 >= digits.size()) {
        out += digits + std::string(static_cast<size_t>(exp) + 1 - digits.size(), '0') + ".0";
    } else {
        out += digits.substr(0, static_cast<size_t>(exp) + 1) + "." +
               digits.substr(static_cast<size_t>(exp) + 1);
    }
    return out;
}

static std::string repr_string(const std::string &s) {
    bool has_single = s.find('\'') != std::string::npos;
    bool has_double = s.find('"') != std::string::npos;
    char q = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, q);
    for (unsigned char c : s) {
        if (c == '\\')
            out += "\\\\";
        else if (c == static_cast<unsigned char>(q))
            out += std::string("\\") + q;
        else if (c == '\n')
            out += "\\n";
        else if (c == '\r')
            out += "\\r";
        else if (c == '\t')
            out += "\\t";
        else if (c < 0x20 || c == 0x7f) {
            char b[8];
            std::snprintf(b, sizeof b, "\\x%02x", c);
            out += b;
        } else
            out += static_cast<char>(c);
    }
    out += q;
    return out;
}

std::string py_repr(const Value &v) {
    switch (v.type) {
        case Value::Type::String:
            return repr_string(v.str);
        case Value::Type::List: {
            std::string out = v.is_tuple ? "(" : "[";
            for (size_t i = 0; i < v.list->size(); ++i) {
                if (i) out += ", ";
                out += py_repr((*v.list)[i]);
            }
            if (v.is_tuple && v.list->size() == 1) out += ",";
            return out + (v.is_tuple ? ")" : "]");
        }
        case Value::Type::Dict: {
            if (v.dict->is_namespace) return "<Namespace>";
            std::string out = "{";
            bool first = true;
            for (const auto &kv : v.dict->items) {
                if (!first) out += ", ";
                first = false;
                out += repr_string(kv.first) + ": " + py_repr(kv.second);
            }
            return out + "}";
        }
        case Value::Type::Undefined:
            return "Undefined";
        default:
            return py_str(v);
    }
}

std::string py_str(const Value &v) {
    switch (v.type) {
        case Value::Type::Undefined:
            return "";
        case Value::Type::None:
            return "None";
        case Value::Type::Bool:
            return v.boolean ? "True" : "False";
        case Value::Type::Int:
            return std::to_string(v.integer);
        case Value::Type::Float:
            return py_float_repr(v.number);
        case Value::Type::String:
            return v.str;
        case Value::Type::Callable:
            return "<function " + v.fn->name + ">";
        default:
            return py_repr(v);
    }
}

bool py_equal(const Value &a, const Value &b) {
    if (a.is_number() && b.is_number()) {
        if (a.type == Value::Type::Float || b.type == Value::Type::Float)
            return a.as_double() == b.as_double();
        int64_t x = a.type == Value::Type::Bool ? a.boolean : a.integer;
        int64_t y = b.type == Value::Type::Bool ? b.boolean : b.integer;
        return x == y;
    }
    if (a.type != b.type) return false;
    switch (a.type) {
        case Value::Type::Undefined:
        case Value::Type::None:
            return true;
        case Value::Type::String:
            return a.str == b.str;
        case Value::Type::List: {
            if (a.list->size() != b.list->size()) return false;
            for (size_t i = 0; i < a.list->size(); ++i)
                if (!py_equal((*a.list)[i], (*b.list)[i])) return false;
            return true;
        }
        case Value::Type::Dict: {
            if (a.dict == b.dict) return true;
            if (a.dict->items.size() != b.dict->items.size()) return false;
            for (const auto &kv : a.dict->items) {
                const Value *o = b.dict->find(kv.first);
                if (!o || !py_equal(kv.second, *o)) return false;
            }
            return true;
        }
        case Value::Type::Callable:
            return a.fn == b.fn;
        default:
            return false;
    }
}

bool py_less(const Value &a, const Value &b) {
    if (a.is_number() && b.is_number()) {
        if (a.type == Value::Type::Float || b.type == Value::Type::Float)
            return a.as_double() < b.as_double();
        int64_t x = a.type == Value::Type::Bool ? a.boolean : a.integer;
        int64_t y = b.type == Value::Type::Bool ? b.boolean : b.integer;
        return x < y;
    }
    if (a.is_string() && b.is_string()) return a.str < b.str;  // UTF-8 order is code-point order
    if (a.is_list() && b.is_list()) {
        size_t n = std::min(a.list->size(), b.list->size());
        for (size_t i = 0; i < n; ++i) {
            if (!py_equal((*a.list)[i], (*b.list)[i])) return py_less((*a.list)[i], (*b.list)[i]);
        }
        return a.list->size() < b.list->size();
    }
    fail("'<' not supported between instances of '" + type_name(a) + "' and '" + type_name(b) +
         "'");
}

std::string type_name(const Value &v) {
    switch (v.type) {
        case Value::Type::Undefined:
            return "Undefined";
        case Value::Type::None:
            return "NoneType";
        case Value::Type::Bool:
            return "bool";
        case Value::Type::Int:
            return "int";
        case Value::Type::Float:
            return "float";
        case Value::Type::String:
            return "str";
        case Value::Type::List:
            return v.is_tuple ? "tuple" : "list";
        case Value::Type::Dict:
            return v.dict->is_namespace ? "Namespace" : "dict";
        case Value::Type::Callable:
            return "function";
    }
    return "object";
}

static size_t utf8_seq_len(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c >> 5) == 0x6) return 2;
    if ((c >> 4) == 0xe) return 3;
    if ((c >> 3) == 0x1e) return 4;
    return 1;  // a stray byte counts as one character
}

std::vector<std::string> utf8_chars(const std::string &s) {
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size();) {
        size_t n = std::min(utf8_seq_len(static_cast<unsigned char>(s[i])), s.size() - i);
        out.push_back(s.substr(i, n));
        i += n;
    }
    return out;
}

size_t utf8_length(const std::string &s) {
    size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xc0) != 0x80) ++n;
    return n;
}

}  // namespace hfk::chat
