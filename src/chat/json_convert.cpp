// JSON conversion with Python's json module formatting rules.
#include "chat/json_convert.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "chat/error.h"
#include "chat/value.h"

namespace hfk::chat {

Value from_json(const nlohmann::ordered_json &j) {
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null:
            return Value::none();
        case nlohmann::ordered_json::value_t::boolean:
            return Value::of(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer:
            return Value::of(j.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            uint64_t u = j.get<uint64_t>();
            if (u <= static_cast<uint64_t>(INT64_MAX)) return Value::of(static_cast<int64_t>(u));
            return Value::of(static_cast<double>(u));
        }
        case nlohmann::ordered_json::value_t::number_float:
            return Value::of(j.get<double>());
        case nlohmann::ordered_json::value_t::string:
            return Value::of(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            std::vector<Value> items;
            items.reserve(j.size());
            for (const auto &x : j) items.push_back(from_json(x));
            return Value::new_list(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            Value d = Value::new_dict();
            for (auto it = j.begin(); it != j.end(); ++it)
                d.dict->set(it.key(), from_json(it.value()));
            return d;
        }
        default:
            return Value::none();
    }
}

static uint32_t decode_utf8(const std::string &s, size_t &i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    int n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 0;
    uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1f) : n == 2 ? (c & 0x0f) : (c & 0x07);
    for (int k = 0; k < n && i + 1 < s.size(); ++k)
        cp = (cp << 6) | (static_cast<unsigned char>(s[++i]) & 0x3f);
    return cp;
}

static void dump_string(const std::string &s, bool ensure_ascii, std::string &out) {
    out += '"';
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        switch (c) {
            case '"':
                out += "\\\"";
                continue;
            case '\\':
                out += "\\\\";
                continue;
            case '\n':
                out += "\\n";
                continue;
            case '\r':
                out += "\\r";
                continue;
            case '\t':
                out += "\\t";
                continue;
            case '\b':
                out += "\\b";
                continue;
            case '\f':
                out += "\\f";
                continue;
            default:
                break;
        }
        char buf[16];
        if (c < 0x20) {
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else if (c >= 0x80 && ensure_ascii) {
            uint32_t cp = decode_utf8(s, i);
            if (cp >= 0x10000) {
                cp -= 0x10000;
                std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xd800 + (cp >> 10),
                              0xdc00 + (cp & 0x3ff));
            } else {
                std::snprintf(buf, sizeof buf, "\\u%04x", cp);
            }
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    out += '"';
}

static void dump(const Value &v, const DumpOptions &o, int level, std::string &out) {
    if (level > 200) fail("tojson: value nested too deeply");
    auto newline = [&](int lvl) {
        if (!o.indent) return;
        out += '\n';
        for (int k = 0; k < lvl; ++k) out += *o.indent;
    };
    switch (v.type) {
        case Value::Type::None:
            out += "null";
            return;
        case Value::Type::Bool:
            out += v.boolean ? "true" : "false";
            return;
        case Value::Type::Int:
            out += std::to_string(v.integer);
            return;
        case Value::Type::Float:
            if (std::isnan(v.number))
                out += "NaN";
            else if (std::isinf(v.number))
                out += v.number > 0 ? "Infinity" : "-Infinity";
            else
                out += py_float_repr(v.number);
            return;
        case Value::Type::String:
            dump_string(v.str, o.ensure_ascii, out);
            return;
        case Value::Type::List: {
            if (v.list->empty()) {
                out += "[]";
                return;
            }
            out += '[';
            bool first = true;
            for (const auto &x : *v.list) {
                if (!first) out += o.item_sep;
                first = false;
                newline(level + 1);
                dump(x, o, level + 1, out);
            }
            newline(level);
            out += ']';
            return;
        }
        case Value::Type::Dict: {
            if (v.dict->items.empty()) {
                out += "{}";
                return;
            }
            std::vector<const std::pair<std::string, Value> *> items;
            for (const auto &kv : v.dict->items) items.push_back(&kv);
            if (o.sort_keys)
                std::stable_sort(items.begin(), items.end(),
                                 [](auto *a, auto *b) { return a->first < b->first; });
            out += '{';
            bool first = true;
            for (auto *kv : items) {
                if (!first) out += o.item_sep;
                first = false;
                newline(level + 1);
                dump_string(kv->first, o.ensure_ascii, out);
                out += o.key_sep;
                dump(kv->second, o, level + 1, out);
            }
            newline(level);
            out += '}';
            return;
        }
        default:
            fail("Object of type " + type_name(v) + " is not JSON serializable");
    }
}

std::string py_json_dumps(const Value &v, const DumpOptions &opt) {
    std::string out;
    dump(v, opt, 0, out);
    return out;
}

}  // namespace hfk::chat
