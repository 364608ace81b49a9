// Jinja's built-in filters (the ones chat templates use) and transformers' tojson.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "chat/error.h"
#include "chat/interpreter.h"
#include "chat/json_convert.h"
#include "chat/percent_format.h"
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

// Jinja's make_attrgetter: "a.b.0" walks items and attributes (digit parts index); an
// Undefined result becomes `def` when one is given.
Value attr_path(const Value &v, const Value &attribute, const Value &def = Value::undefined()) {
    Value cur = v;
    if (attribute.is_string()) {
        size_t start = 0;
        while (true) {
            const size_t dot = attribute.str.find('.', start);
            const std::string part = attribute.str.substr(start, dot - start);
            const bool digits = !part.empty() &&
                                part.find_first_not_of("0123456789") == std::string::npos &&
                                part.size() < 18;
            cur = get_item(
                cur, digits ? Value::of(static_cast<int64_t>(std::stoll(part))) : Value::of(part));
            if (dot == std::string::npos) break;
            start = dot + 1;
        }
    } else if (!attribute.is_undefined() && !attribute.is_none()) {
        cur = get_item(cur, attribute);
    }
    if (cur.is_undefined() && !def.is_undefined() && !def.is_none()) return def;
    return cur;
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
            out.push_back(attr_path(v, attr, def));
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
    Value attr_value = Value::of(attr);
    if (by_attr) {
    }
    std::vector<Value> out;
    for (auto &v : items) {
        in.count_iteration();
        Value subject = by_attr ? attr_path(v, attr_value) : v;
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
    Value k = attr.empty() ? v : attr_path(v, Value::of(attr));
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
    std::vector<std::string> attrs;  // sort(attribute="a,b"): Jinja's multi-attribute key
    for (size_t start = 0; !at.empty();) {
        const size_t comma = at.find(',', start);
        attrs.push_back(at.substr(start, comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    for (auto &v : items) {
        if (attrs.size() <= 1) {
            keyed.emplace_back(sort_key(v, cs, at), v);
            continue;
        }
        std::vector<Value> parts;
        for (const auto &one : attrs) parts.push_back(sort_key(v, cs, one));
        keyed.emplace_back(Value::new_list(std::move(parts)), v);
    }
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
        Value x = attr.is_undefined() ? v : attr_path(v, attr);
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
    // "%s, %s"|format(a, b) or "%(x)s"|format(x=1): Python's str % (args or kwargs)
    if (a.pos.size() > 1 && !a.kw.empty())
        fail("can't handle positional and keyword arguments at the same time");
    std::string out;
    if (!a.kw.empty()) {
        Value mapping = Value::new_dict();
        for (auto &kv : a.kw) mapping.dict->set(kv.first, kv.second);
        out = py_percent_format(soft_str(input(a)), {mapping}, mapping.dict.get());
    } else {
        out = py_percent_format(soft_str(input(a)), {a.pos.begin() + 1, a.pos.end()}, nullptr);
    }
    in.check_size(out.size());
    return Value::of(out);
}

// groupby(attribute, default=None, case_sensitive=False): (grouper, list) tuples sorted by the
// key; without case_sensitive, strings group case-insensitively and the grouper is the first
// item's own value.
Value groupby(Interpreter &in, CallArgs &a) {
    const Value attr = arg(a, 0, "attribute"), def = arg(a, 1, "default");
    const bool cs = flag(a, 2, "case_sensitive", false);
    auto key = [&](const Value &v, bool fold) {
        Value k = attr_path(v, attr, def);
        if (fold && k.is_string()) return Value::of(py_lower(k.str));
        return k;
    };
    std::vector<std::pair<Value, Value>> keyed;
    for (auto &v : iterate(input(a))) {
        in.count_iteration();
        keyed.emplace_back(key(v, !cs), v);
    }
    std::stable_sort(keyed.begin(), keyed.end(),
                     [](const auto &x, const auto &y) { return py_less(x.first, y.first); });
    std::vector<Value> out;
    for (size_t i = 0; i < keyed.size();) {
        std::vector<Value> members;
        size_t j = i;
        for (; j < keyed.size() && py_equal(keyed[j].first, keyed[i].first); ++j)
            members.push_back(keyed[j].second);
        Value grouper = cs ? keyed[i].first : key(members[0], false);
        Value g = Value::new_list({grouper, Value::new_list(std::move(members))});
        g.is_tuple = g.is_group = true;
        out.push_back(std::move(g));
        i = j;
    }
    return Value::new_list(std::move(out));
}

// slice(slices, fill_with=None): the items in `slices` columns, the first ones one longer.
Value slice_(Interpreter &in, CallArgs &a) {
    const int64_t slices = int_arg(a, 0, "slices", 0);
    if (slices <= 0) fail("slice: the number of slices must be positive");
    in.check_size(static_cast<size_t>(std::min<int64_t>(slices, 1 << 30)) * sizeof(Value));
    const Value fill = arg(a, 1, "fill_with");
    const auto seq = iterate(input(a));
    const int64_t length = static_cast<int64_t>(seq.size());
    const int64_t per = length / slices, extra = length % slices;
    int64_t offset = 0;
    std::vector<Value> out;
    for (int64_t k = 0; k < slices; ++k) {
        in.count_iteration();
        const int64_t start = offset + k * per;
        if (k < extra) ++offset;
        const int64_t end = offset + (k + 1) * per;
        std::vector<Value> part(seq.begin() + start, seq.begin() + end);
        if (!fill.is_undefined() && !fill.is_none() && k >= extra) part.push_back(fill);
        out.push_back(Value::new_list(std::move(part)));
    }
    return Value::new_list(std::move(out));
}

// wordwrap(width=79, break_long_words=True, wrapstring="\n", break_on_hyphens=True): Python's
// textwrap.wrap per line (expand_tabs and replace_whitespace off, as Jinja calls it). (Not done:
// textwrap's em-dash rule, "--" between words.)
Value wordwrap(Interpreter &in, CallArgs &a) {
    const int64_t width = int_arg(a, 0, "width", 79);
    if (width <= 0) fail("invalid width " + std::to_string(width) + " (must be > 0)");
    const bool break_long = flag(a, 1, "break_long_words", true);
    const Value ws = arg(a, 2, "wrapstring");
    const std::string wrapstring = ws.is_undefined() || ws.is_none() ? "\n" : soft_str(ws);
    const bool break_on_hyphens = flag(a, 3, "break_on_hyphens", true);
    auto is_space = [](uint32_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
    auto blank = [&](const std::vector<uint32_t> &c) {
        for (uint32_t x : c)
            if (!is_space(x)) return false;
        return true;
    };
    const size_t w = static_cast<size_t>(std::min<int64_t>(width, 1 << 30));
    std::string out;
    bool first_line = true;
    for (const auto &line : py_splitlines(soft_str(input(a)))) {
        std::vector<std::vector<uint32_t>> chunks;  // alternating words and whitespace runs
        const std::vector<uint32_t> cps = to_codepoints(line);
        // textwrap's wordsep_re: a word also splits after a hyphen between letters ("well-"
        // "known"), when two letters (or letter-letter-) precede it and letter [-] letter follow.
        auto letter = [&](size_t k) {
            if (k >= cps.size()) return false;
            const uint32_t c = cps[k];
            return (c < 0x80 && std::isalpha(static_cast<int>(c))) || c >= 0x80;
        };
        auto hyphen_break = [&](size_t k) {  // split after cps[k] == '-'
            if (!break_on_hyphens || cps[k] != '-' || k < 2) return false;
            const bool before = (letter(k - 2) && letter(k - 1)) ||
                                (k >= 3 && letter(k - 3) && cps[k - 2] == '-' && letter(k - 1));
            const bool after =
                letter(k + 1) &&
                (letter(k + 2) || (k + 3 < cps.size() && cps[k + 2] == '-' && letter(k + 3)));
            return before && after;
        };
        bool split_next = false;
        for (size_t k = 0; k < cps.size(); ++k) {
            const uint32_t c = cps[k];
            if (chunks.empty() || split_next || is_space(c) != is_space(chunks.back().back()))
                chunks.emplace_back();
            chunks.back().push_back(c);
            split_next = hyphen_break(k);
        }
        std::reverse(chunks.begin(), chunks.end());
        std::vector<std::string> lines;
        while (!chunks.empty()) {
            in.count_iteration();
            std::vector<std::vector<uint32_t>> cur;
            size_t cur_len = 0;
            if (blank(chunks.back()) && !lines.empty()) chunks.pop_back();
            while (!chunks.empty() && cur_len + chunks.back().size() <= w) {
                cur_len += chunks.back().size();
                cur.push_back(std::move(chunks.back()));
                chunks.pop_back();
            }
            if (!chunks.empty() && chunks.back().size() > w) {  // textwrap's _handle_long_word
                auto &chunk = chunks.back();
                const size_t space_left = cur_len < w ? w - cur_len : 1;
                if (break_long) {
                    size_t end = space_left;
                    if (break_on_hyphens && chunk.size() > space_left) {
                        size_t hyphen = std::string::npos;
                        for (size_t k = 0; k < space_left; ++k)
                            if (chunk[k] == '-') hyphen = k;
                        bool other = false;
                        for (size_t k = 0; hyphen != std::string::npos && k < hyphen; ++k)
                            other = other || chunk[k] != '-';
                        if (hyphen != std::string::npos && hyphen > 0 && other) end = hyphen + 1;
                    }
                    cur.emplace_back(chunk.begin(), chunk.begin() + static_cast<long>(end));
                    chunk.erase(chunk.begin(), chunk.begin() + static_cast<long>(end));
                } else if (cur.empty()) {
                    cur.push_back(std::move(chunk));
                    chunks.pop_back();
                }
            }
            if (!cur.empty() && blank(cur.back())) cur.pop_back();
            if (!cur.empty()) {
                std::string text;
                for (const auto &c : cur) text += from_codepoints(c);
                lines.push_back(std::move(text));
            }
        }
        if (!first_line) out += wrapstring;
        first_line = false;
        for (size_t k = 0; k < lines.size(); ++k) {
            if (k) out += wrapstring;
            out += lines[k];
        }
        in.check_size(out.size());
    }
    return Value::of(out);
}

// truncate(length=255, killwords=False, end="...", leeway=5): Jinja's, in code points.
Value truncate(Interpreter &, CallArgs &a) {
    const std::string s = soft_str(input(a));
    const int64_t length = int_arg(a, 0, "length", 255);
    const bool killwords = flag(a, 1, "killwords", false);
    const Value endv = arg(a, 2, "end");
    const std::string end = endv.is_undefined() ? "..." : soft_str(endv);
    const int64_t leeway = int_arg(a, 3, "leeway", 5);
    const auto chars = utf8_chars(s);
    const int64_t n = static_cast<int64_t>(chars.size()),
                  end_len = static_cast<int64_t>(utf8_length(end));
    if (length < end_len)
        fail("expected length >= " + std::to_string(end_len) + ", got " + std::to_string(length));
    if (leeway < 0) fail("expected leeway >= 0, got " + std::to_string(leeway));
    if (n <= length + leeway) return Value::of(s);
    std::string head;
    for (int64_t k = 0; k < length - end_len; ++k) head += chars[static_cast<size_t>(k)];
    if (!killwords) {
        const size_t space = head.rfind(' ');
        if (space != std::string::npos) head.resize(space);
    }
    return Value::of(head + end);
}

// attr(name): the attribute only (Jinja's getattr), never an item of a dict.
Value attr(Interpreter &, CallArgs &a) {
    const Value &obj = input(a);
    const std::string name = soft_str(arg(a, 0, "name"));
    if (obj.is_list() && obj.is_group && obj.list->size() == 2) {
        if (name == "grouper") return (*obj.list)[0];
        if (name == "list") return (*obj.list)[1];
    }
    if (obj.is_dict() && obj.dict->is_namespace) {
        if (const Value *v = obj.dict->find(name)) return *v;
    } else if (!obj.is_undefined()) {
        Value m = find_method(obj, name);
        if (!m.is_undefined()) return m;
    }
    return Value::undefined(type_name(obj) + " object has no attribute '" + name + "'");
}

Value forceescape(Interpreter &, CallArgs &a) {
    return Value::of(html_escape(soft_str(input(a))));
}

// striptags: tags and comments removed, the basic entities unescaped, whitespace collapsed.
Value striptags(Interpreter &, CallArgs &a) {
    const std::string s = soft_str(input(a));
    std::string text;
    for (size_t i = 0; i < s.size();) {
        if (s.compare(i, 4, "<!--") == 0) {
            const size_t end = s.find("-->", i + 4);
            if (end != std::string::npos) {
                i = end + 3;
                continue;
            }
        }
        if (s[i] == '<') {
            const size_t end = s.find('>', i + 1);
            if (end != std::string::npos) {
                i = end + 1;
                continue;
            }
        }
        text += s[i++];
    }
    static const std::pair<const char *, const char *> kEntities[] = {
        {"&lt;", "<"},  {"&gt;", ">"},   {"&quot;", "\""},
        {"&#39;", "'"}, {"&#34;", "\""}, {"&amp;", "&"}};
    for (const auto &e : kEntities) text = py_replace(text, e.first, e.second, -1);
    std::string out;
    for (const auto &word : py_split(text, nullptr, -1)) {
        if (!out.empty()) out += ' ';
        out += word;
    }
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
        {"groupby", groupby},
        {"slice", slice_},
        {"wordwrap", wordwrap},
        {"truncate", truncate},
        {"attr", attr},
        {"forceescape", forceescape},
        {"striptags", striptags},
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
