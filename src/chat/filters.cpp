// Jinja's built-in filters (the ones chat templates use) and transformers' tojson.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "chat/error.h"
#include "chat/interpreter.h"
#include "chat/json_convert.h"
#include "chat/strings.h"

namespace hfk::chat {
namespace {

using Filter = Value (*)(Interpreter &, CallArgs &);

const Value &input(CallArgs &a) {
    return a.pos[0];
}

// The filter's own argument `i` (after the input) or keyword `name`; Undefined when absent.
Value arg(CallArgs &a, size_t i, const char *name) {
    const Value *v = a.get(i + 1, name);
    if (name && !v) {
        for (auto &kv : a.kw)
            if (kv.first == name) return kv.second;
    }
    return v ? *v : Value::undefined();
}

bool flag(CallArgs &a, size_t i, const char *name, bool def) {
    Value v = arg(a, i, name);
    return v.is_undefined() ? def : v.truthy();
}

int64_t int_arg(CallArgs &a, size_t i, const char *name, int64_t def) {
    Value v = arg(a, i, name);
    if (v.is_undefined() || v.is_none()) return def;
    if (v.type == Value::Type::Int) return v.integer;
    if (v.type == Value::Type::Bool) return v.boolean;
    if (v.type == Value::Type::Float) return static_cast<int64_t>(v.number);
    fail(std::string("filter argument '") + (name ? name : "?") + "' must be an integer");
}

std::string soft_str(const Value &v) {
    return py_str(v);
}

Value length(Interpreter &, CallArgs &a) {
    const Value &v = input(a);
    switch (v.type) {
        case Value::Type::String:
            return Value::of(static_cast<int64_t>(utf8_length(v.str)));
        case Value::Type::List:
            return Value::of(static_cast<int64_t>(v.list->size()));
        case Value::Type::Dict:
            return Value::of(static_cast<int64_t>(v.dict->items.size()));
        case Value::Type::Undefined:
            return Value::of(0);
        default:
            fail("object of type '" + type_name(v) + "' has no len()");
    }
}

Value trim(Interpreter &, CallArgs &a) {
    Value chars = arg(a, 0, "chars");
    std::string c = chars.is_string() ? chars.str : std::string();
    return Value::of(py_strip(soft_str(input(a)), chars.is_string() ? &c : nullptr, true, true));
}

Value tojson(Interpreter &, CallArgs &a) {
    // transformers: tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
    DumpOptions o;
    o.ensure_ascii = flag(a, 0, "ensure_ascii", false);
    Value indent = arg(a, 1, "indent");
    if (indent.type == Value::Type::Int || indent.type == Value::Type::Bool) {
        o.indent = std::string(
            static_cast<size_t>(std::clamp<int64_t>(
                indent.type == Value::Type::Bool ? indent.boolean : indent.integer, 0, 64)),
            ' ');
    } else if (indent.is_string()) {
        o.indent = indent.str;
    }
    if (o.indent) o.item_sep = ",";
    Value seps = arg(a, 2, "separators");
    if (seps.is_list()) {
        if (seps.list->size() != 2 || !(*seps.list)[0].is_string() || !(*seps.list)[1].is_string())
            fail("tojson: separators must be a pair of strings");
        o.item_sep = (*seps.list)[0].str;
        o.key_sep = (*seps.list)[1].str;
    }
    o.sort_keys = flag(a, 3, "sort_keys", false);
    return Value::of(py_json_dumps(input(a), o));
}

Value upper(Interpreter &, CallArgs &a) {
    return Value::of(py_upper(soft_str(input(a))));
}
Value lower(Interpreter &, CallArgs &a) {
    return Value::of(py_lower(soft_str(input(a))));
}
Value title(Interpreter &, CallArgs &a) {
    return Value::of(py_title(soft_str(input(a))));
}
Value capitalize(Interpreter &, CallArgs &a) {
    return Value::of(py_capitalize(soft_str(input(a))));
}

Value replace(Interpreter &in, CallArgs &a) {
    Value from = arg(a, 0, "old"), to = arg(a, 1, "new");
    std::string r = py_replace(soft_str(input(a)), soft_str(from), soft_str(to),
                               static_cast<long>(int_arg(a, 2, "count", -1)));
    in.check_size(r.size());
    return Value::of(std::move(r));
}

Value join(Interpreter &in, CallArgs &a) {
    Value sep = arg(a, 0, "d");
    Value attr = arg(a, 1, "attribute");
    std::string out;
    bool first = true;
    for (const Value &v : iterate(input(a))) {
        if (!first) out += soft_str(sep);
        first = false;
        out += soft_str(attr.is_undefined() ? v : get_attr(v, soft_str(attr)));
        in.check_size(out.size());
    }
    return Value::of(std::move(out));
}

Value first(Interpreter &, CallArgs &a) {
    auto items = iterate(input(a));
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value last(Interpreter &, CallArgs &a) {
    auto items = iterate(input(a));
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value default_(Interpreter &, CallArgs &a) {
    Value def = arg(a, 0, "default_value");
    if (def.is_undefined()) def = Value::of("");
    bool boolean = flag(a, 1, "boolean", false);
    const Value &v = input(a);
    if (v.is_undefined() || (boolean && !v.truthy())) return def;
    return v;
}

Value items(Interpreter &, CallArgs &a) {
    const Value &v = input(a);
    std::vector<Value> out;
    if (v.is_undefined()) return Value::new_list();
    if (!v.is_dict()) fail("items filter: expected a mapping, got " + type_name(v));
    for (const auto &kv : v.dict->items) {
        Value t = Value::new_list({Value::of(kv.first), kv.second});
        t.is_tuple = true;
        out.push_back(t);
    }
    return Value::new_list(std::move(out));
}

Value list(Interpreter &, CallArgs &a) {
    return Value::new_list(iterate(input(a)));
}
Value string(Interpreter &, CallArgs &a) {
    return Value::of(soft_str(input(a)));
}

Value to_int(Interpreter &, CallArgs &a) {
    const Value &v = input(a);
    Value def = arg(a, 0, "default");
    if (def.is_undefined()) def = Value::of(0);
    switch (v.type) {
        case Value::Type::Int:
            return v;
        case Value::Type::Bool:
            return Value::of(static_cast<int64_t>(v.boolean));
        case Value::Type::Float:
            if (!std::isfinite(v.number) || std::fabs(v.number) > 9.2e18) return def;
            return Value::of(static_cast<int64_t>(v.number));
        case Value::Type::String: {
            std::string s = py_strip(v.str, nullptr, true, true);
            try {
                size_t used = 0;
                long long x = std::stoll(s, &used, static_cast<int>(int_arg(a, 1, "base", 10)));
                if (used == s.size()) return Value::of(static_cast<int64_t>(x));
            } catch (...) {
            }
            try {
                size_t used = 0;
                double d = std::stod(s, &used);
                if (used == s.size() && std::isfinite(d) && std::fabs(d) < 9.2e18)
                    return Value::of(static_cast<int64_t>(d));
            } catch (...) {
            }
            return def;
        }
        default:
            return def;
    }
}

Value to_float(Interpreter &, CallArgs &a) {
    const Value &v = input(a);
    Value def = arg(a, 0, "default");
    if (def.is_undefined()) def = Value::of(0.0);
    if (v.is_number()) return Value::of(v.as_double());
    if (v.is_string()) {
        std::string s = py_strip(v.str, nullptr, true, true);
        try {
            size_t used = 0;
            double d = std::stod(s, &used);
            if (used == s.size()) return Value::of(d);
        } catch (...) {
        }
    }
    return def;
}

Value round_(Interpreter &, CallArgs &a) {
    const Value &v = input(a);
    if (!v.is_number()) fail("round filter: expected a number, got " + type_name(v));
    int64_t precision = std::clamp<int64_t>(int_arg(a, 0, "precision", 0), -300, 300);
    Value m = arg(a, 1, "method");
    std::string method = m.is_string() ? m.str : "common";
    double x = v.as_double(), p = std::pow(10.0, static_cast<double>(precision)), r;
    if (method == "common")
        r = std::nearbyint(x * p) / p;  // Python's round: half to even
    else if (method == "ceil")
        r = std::ceil(x * p) / p;
    else if (method == "floor")
        r = std::floor(x * p) / p;
    else
        fail("method must be common, ceil or floor");
    return Value::of(r);
}

Value abs_(Interpreter &, CallArgs &a) {
    const Value &v = input(a);
    if (v.type == Value::Type::Float) return Value::of(std::fabs(v.number));
    if (v.type == Value::Type::Int) {
        if (v.integer == INT64_MIN) fail("integer overflow");
        return Value::of(v.integer < 0 ? -v.integer : v.integer);
    }
    if (v.type == Value::Type::Bool) return Value::of(static_cast<int64_t>(v.boolean));
    fail("bad operand type for abs(): '" + type_name(v) + "'");
}

Value map_(Interpreter &in, CallArgs &a) {
    auto items = iterate(input(a));
    Value attr = arg(a, 99, "attribute");
    std::vector<Value> out;
    if (!attr.is_undefined()) {
        Value def = arg(a, 99, "default");
        for (auto &v : items) {
            in.count_iteration();
            Value r = get_attr(v, soft_str(attr));
            out.push_back(r.is_undefined() && !def.is_undefined() ? def : r);
        }
        return Value::new_list(std::move(out));
    }
    if (a.pos.size() < 2 || !a.pos[1].is_string())
        fail("map: expected a filter name or attribute=");
    std::string name = a.pos[1].str;
    for (auto &v : items) {
        in.count_iteration();
        CallArgs fa;
        fa.pos.push_back(v);
        fa.pos.insert(fa.pos.end(), a.pos.begin() + 2, a.pos.end());
        fa.kw = a.kw;
        out.push_back(in.apply_filter(name, fa));
    }
    return Value::new_list(std::move(out));
}

// select/reject/selectattr/rejectattr share this.
Value select_impl(Interpreter &in, CallArgs &a, bool want, bool by_attr) {
    auto items = iterate(input(a));
    size_t k = 1;
    std::string attr;
    if (by_attr) {
        if (a.pos.size() < 2) fail("selectattr: missing attribute");
        attr = soft_str(a.pos[1]);
        k = 2;
    }
    std::vector<Value> out;
    for (auto &v : items) {
        in.count_iteration();
        Value subject = by_attr ? get_attr(v, attr) : v;
        bool ok;
        if (a.pos.size() > k) {
            CallArgs ta;
            ta.pos.push_back(subject);
            ta.pos.insert(ta.pos.end(), a.pos.begin() + static_cast<long>(k) + 1, a.pos.end());
            ok = in.apply_test(soft_str(a.pos[k]), ta);
        } else {
            ok = subject.truthy();
        }
        if (ok == want) out.push_back(v);
    }
    return Value::new_list(std::move(out));
}

Value select(Interpreter &in, CallArgs &a) {
    return select_impl(in, a, true, false);
}
Value reject(Interpreter &in, CallArgs &a) {
    return select_impl(in, a, false, false);
}
Value selectattr(Interpreter &in, CallArgs &a) {
    return select_impl(in, a, true, true);
}
Value rejectattr(Interpreter &in, CallArgs &a) {
    return select_impl(in, a, false, true);
}

Value sort_key(const Value &v, bool case_sensitive, const std::string &attr) {
    Value k = attr.empty() ? v : get_attr(v, attr);
    if (!case_sensitive && k.is_string()) return Value::of(py_lower(k.str));
    return k;
}

Value unique(Interpreter &, CallArgs &a) {
    bool cs = flag(a, 0, "case_sensitive", false);
    Value attr = arg(a, 1, "attribute");
    std::string at = attr.is_undefined() ? "" : soft_str(attr);
    std::vector<Value> out, seen;
    for (auto &v : iterate(input(a))) {
        Value k = sort_key(v, cs, at);
        bool dup = false;
        for (auto &s : seen) dup = dup || py_equal(s, k);
        if (!dup) {
            seen.push_back(k);
            out.push_back(v);
        }
    }
    return Value::new_list(std::move(out));
}

Value sort(Interpreter &, CallArgs &a) {
    bool reverse = flag(a, 0, "reverse", false);
    bool cs = flag(a, 1, "case_sensitive", false);
    Value attr = arg(a, 2, "attribute");
    std::string at = attr.is_undefined() ? "" : soft_str(attr);
    auto items = iterate(input(a));
    std::vector<std::pair<Value, Value>> keyed;
    for (auto &v : items) keyed.emplace_back(sort_key(v, cs, at), v);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto &x, const auto &y) {
        return reverse ? py_less(y.first, x.first) : py_less(x.first, y.first);
    });
    std::vector<Value> out;
    for (auto &kv : keyed) out.push_back(kv.second);
    return Value::new_list(std::move(out));
}

Value dictsort(Interpreter &, CallArgs &a) {
    const Value &v = input(a);
    if (!v.is_dict()) fail("dictsort: expected a mapping");
    bool cs = flag(a, 0, "case_sensitive", false);
    Value by = arg(a, 1, "by");
    bool by_value = by.is_string() && by.str == "value";
    bool reverse = flag(a, 2, "reverse", false);
    std::vector<Value> out;
    for (const auto &kv : v.dict->items) {
        Value t = Value::new_list({Value::of(kv.first), kv.second});
        t.is_tuple = true;
        out.push_back(t);
    }
    std::stable_sort(out.begin(), out.end(), [&](const Value &x, const Value &y) {
        Value kx = sort_key((*x.list)[by_value ? 1 : 0], cs, "");
        Value ky = sort_key((*y.list)[by_value ? 1 : 0], cs, "");
        return reverse ? py_less(ky, kx) : py_less(kx, ky);
    });
    return Value::new_list(std::move(out));
}

Value indent(Interpreter &in, CallArgs &a) {
    Value w = arg(a, 0, "width");
    std::string ind = w.is_string() ? w.str
                                    : std::string(static_cast<size_t>(std::clamp<int64_t>(
                                                      int_arg(a, 0, "width", 4), 0, 1 << 16)),
                                                  ' ');
    bool first = flag(a, 1, "first", false);
    bool blank = flag(a, 2, "blank", false);
    std::string s = soft_str(input(a)) + "\n";
    auto lines = py_splitlines(s);
    std::string rv;
    if (blank) {
        for (size_t i = 0; i < lines.size(); ++i) rv += (i ? "\n" + ind : "") + lines[i];
    } else {
        rv = lines.empty() ? "" : lines[0];
        for (size_t i = 1; i < lines.size(); ++i) {
            rv += "\n";
            if (!lines[i].empty()) rv += ind;
            rv += lines[i];
            in.check_size(rv.size());
        }
    }
    if (first) rv = ind + rv;
    in.check_size(rv.size());
    return Value::of(std::move(rv));
}

Value safe(Interpreter &, CallArgs &a) {
    return input(a);
}
Value escape(Interpreter &, CallArgs &a) {
    return Value::of(html_escape(soft_str(input(a))));
}

Value batch(Interpreter &, CallArgs &a) {
    int64_t n = int_arg(a, 0, "linecount", 0);
    if (n <= 0) fail("batch: linecount must be positive");
    Value fill = arg(a, 1, "fill_with");
    std::vector<Value> out, cur;
    for (auto &v : iterate(input(a))) {
        cur.push_back(v);
        if (static_cast<int64_t>(cur.size()) == n) {
            out.push_back(Value::new_list(std::move(cur)));
            cur.clear();
        }
    }
    if (!cur.empty()) {
        if (!fill.is_undefined())
            while (static_cast<int64_t>(cur.size()) < n) cur.push_back(fill);
        out.push_back(Value::new_list(std::move(cur)));
    }
    return Value::new_list(std::move(out));
}

Value wordcount(Interpreter &, CallArgs &a) {
    int64_t n = 0;
    bool in_word = false;
    for (unsigned char c : soft_str(input(a))) {
        bool w = std::isalnum(c) || c == '_' || c >= 0x80;
        if (w && !in_word) ++n;
        in_word = w;
    }
    return Value::of(n);
}

Value center(Interpreter &in, CallArgs &a) {
    std::string s = soft_str(input(a));
    int64_t width = int_arg(a, 0, "width", 80);
    int64_t len = static_cast<int64_t>(utf8_length(s));
    if (width <= len) return Value::of(s);
    in.check_size(static_cast<size_t>(width));
    int64_t pad = width - len;
    int64_t left = pad / 2 + (pad & width & 1);  // CPython's rule
    return Value::of(std::string(static_cast<size_t>(left), ' ') + s +
                     std::string(static_cast<size_t>(pad - left), ' '));
}

Value min_max(CallArgs &a, bool want_max) {
    bool cs = flag(a, 0, "case_sensitive", false);
    Value attr = arg(a, 1, "attribute");
    std::string at = attr.is_undefined() ? "" : soft_str(attr);
    auto items = iterate(input(a));
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    size_t best = 0;
    Value bk = sort_key(items[0], cs, at);
    for (size_t i = 1; i < items.size(); ++i) {
        Value k = sort_key(items[i], cs, at);
        if (want_max ? py_less(bk, k) : py_less(k, bk)) {
            best = i;
            bk = k;
        }
    }
    return items[best];
}

Value min_(Interpreter &, CallArgs &a) {
    return min_max(a, false);
}
Value max_(Interpreter &, CallArgs &a) {
    return min_max(a, true);
}

Value sum(Interpreter &in, CallArgs &a) {
    Value attr = arg(a, 0, "attribute");
    Value acc = arg(a, 1, "start");
    if (acc.is_undefined()) acc = Value::of(0);
    for (auto &v : iterate(input(a))) {
        Value x = attr.is_undefined() ? v : get_attr(v, soft_str(attr));
        if (!acc.is_number() || !x.is_number()) fail("sum: unsupported operand types");
        if (acc.type == Value::Type::Float || x.type == Value::Type::Float) {
            acc = Value::of(acc.as_double() + x.as_double());
        } else {
            int64_t ai = acc.type == Value::Type::Bool ? acc.boolean : acc.integer;
            int64_t xi = x.type == Value::Type::Bool ? x.boolean : x.integer;
            int64_t r;
            if (__builtin_add_overflow(ai, xi, &r)) fail("integer overflow");
            acc = Value::of(r);
        }
        in.count_iteration();
    }
    return acc;
}

Value reverse(Interpreter &, CallArgs &a) {
    const Value &v = input(a);
    if (v.is_string()) {
        auto cps = to_codepoints(v.str);
        std::reverse(cps.begin(), cps.end());
        return Value::of(from_codepoints(cps));
    }
    auto items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::new_list(std::move(items));
}

Value format(Interpreter &in, CallArgs &a) {
    // "%s, %s"|format(a, b): printf-style, through the % operator's rules
    std::string fmt = soft_str(input(a));
    std::string out;
    size_t k = 1;
    for (size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] != '%' || i + 1 >= fmt.size()) {
            out += fmt[i];
            continue;
        }
        char c = fmt[++i];
        if (c == '%') {
            out += '%';
            continue;
        }
        if (k >= a.pos.size()) fail("not enough arguments for format string");
        const Value &v = a.pos[k++];
        out += c == 'r' ? py_repr(v) : py_str(v);
    }
    in.check_size(out.size());
    return Value::of(out);
}

const std::unordered_map<std::string, Filter> &table() {
    static const std::unordered_map<std::string, Filter> t = {
        {"length", length},
        {"count", length},
        {"trim", trim},
        {"tojson", tojson},
        {"upper", upper},
        {"lower", lower},
        {"title", title},
        {"capitalize", capitalize},
        {"replace", replace},
        {"join", join},
        {"first", first},
        {"last", last},
        {"default", default_},
        {"d", default_},
        {"items", items},
        {"list", list},
        {"string", string},
        {"int", to_int},
        {"float", to_float},
        {"round", round_},
        {"abs", abs_},
        {"map", map_},
        {"select", select},
        {"reject", reject},
        {"selectattr", selectattr},
        {"rejectattr", rejectattr},
        {"unique", unique},
        {"sort", sort},
        {"dictsort", dictsort},
        {"indent", indent},
        {"safe", safe},
        {"e", escape},
        {"escape", escape},
        {"batch", batch},
        {"wordcount", wordcount},
        {"center", center},
        {"min", min_},
        {"max", max_},
        {"sum", sum},
        {"reverse", reverse},
        {"format", format},
    };
    return t;
}

}  // namespace

bool has_filter(const std::string &name) {
    return table().count(name) != 0;
}

Value run_filter(Interpreter &in, const std::string &name, CallArgs &args) {
    return table().at(name)(in, args);
}

}  // namespace hfk::chat
