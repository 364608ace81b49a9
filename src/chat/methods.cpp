// Methods templates call on strings, dicts and lists (message.content.strip(), tool.get(...)).
#include "chat/error.h"
#include "chat/interpreter.h"
#include "chat/strings.h"

namespace hfk::chat {
namespace {

const Value *opt(CallArgs &a, size_t i, const char *name) {
    const Value *v = a.get(i, name);
    return (v && !v->is_none()) ? v : nullptr;
}

std::string need_str(const Value *v, const char *what) {
    if (!v || !v->is_string()) fail(std::string(what) + " must be a string");
    return v->str;
}

long need_long(const Value *v, long def) {
    if (!v) return def;
    if (v->type == Value::Type::Int) return static_cast<long>(v->integer);
    if (v->type == Value::Type::Bool) return v->boolean;
    fail("an integer argument is required");
}

Value str_list(const std::vector<std::string> &parts) {
    std::vector<Value> out;
    for (const auto &p : parts) out.push_back(Value::of(p));
    return Value::new_list(std::move(out));
}

// str.format: {} {0} {name}, {{ and }}; format specs are not supported.
std::string py_format(Interpreter &in, const std::string &fmt, CallArgs &a) {
    std::string out;
    size_t auto_idx = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        char c = fmt[i];
        if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out += '{';
            ++i;
        } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
            out += '}';
            ++i;
        } else if (c == '{') {
            size_t e = fmt.find('}', i);
            if (e == std::string::npos) fail("Single '{' encountered in format string");
            std::string field = fmt.substr(i + 1, e - i - 1);
            if (field.find(':') != std::string::npos || field.find('!') != std::string::npos)
                fail("format specs are not supported in str.format");
            const Value *v = nullptr;
            if (field.empty())
                v = a.get(auto_idx++, nullptr);
            else if (std::isdigit(static_cast<unsigned char>(field[0])))
                v = a.get(static_cast<size_t>(std::atoi(field.c_str())), nullptr);
            else
                for (auto &kv : a.kw)
                    if (kv.first == field) v = &kv.second;
            if (!v) fail("format: missing argument '" + field + "'");
            out += py_str(*v);
            i = e;
        } else {
            out += c;
        }
        in.check_size(out.size());
    }
    return out;
}

Value string_method(const std::string &self, const std::string &name) {
    auto bind = [&](NativeFn fn) { return Value::native(name, std::move(fn)); };
    if (name == "strip" || name == "lstrip" || name == "rstrip") {
        bool l = name != "rstrip", r = name != "lstrip";
        return bind([self, l, r](Interpreter &, CallArgs &a) {
            const Value *c = opt(a, 0, "chars");
            std::string chars = c ? need_str(c, "chars") : "";
            return Value::of(py_strip(self, c ? &chars : nullptr, l, r));
        });
    }
    if (name == "split" || name == "rsplit") {
        return bind([self](Interpreter &, CallArgs &a) {
            const Value *s = opt(a, 0, "sep");
            std::string sep = s ? need_str(s, "sep") : "";
            if (s && sep.empty()) fail("empty separator");
            return str_list(
                py_split(self, s ? &sep : nullptr, need_long(opt(a, 1, "maxsplit"), -1)));
        });
    }
    if (name == "splitlines")
        return bind([self](Interpreter &, CallArgs &) { return str_list(py_splitlines(self)); });
    if (name == "startswith" || name == "endswith") {
        bool starts = name == "startswith";
        return bind([self, starts](Interpreter &, CallArgs &a) {
            const Value *p = a.get(0, nullptr);
            if (!p) fail("startswith/endswith need an argument");
            std::vector<std::string> cands;
            if (p->is_list())
                for (auto &x : *p->list) cands.push_back(need_str(&x, "prefix"));
            else
                cands.push_back(need_str(p, "prefix"));
            for (auto &c : cands) {
                if (c.size() > self.size()) continue;
                if (starts ? self.compare(0, c.size(), c) == 0
                           : self.compare(self.size() - c.size(), c.size(), c) == 0)
                    return Value::of(true);
            }
            return Value::of(false);
        });
    }
    if (name == "replace")
        return bind([self](Interpreter &in, CallArgs &a) {
            std::string r =
                py_replace(self, need_str(a.get(0, nullptr), "old"),
                           need_str(a.get(1, nullptr), "new"), need_long(opt(a, 2, "count"), -1));
            in.check_size(r.size());
            return Value::of(std::move(r));
        });
    if (name == "upper")
        return bind([self](Interpreter &, CallArgs &) { return Value::of(py_upper(self)); });
    if (name == "lower")
        return bind([self](Interpreter &, CallArgs &) { return Value::of(py_lower(self)); });
    if (name == "title")
        return bind([self](Interpreter &, CallArgs &) { return Value::of(py_title(self)); });
    if (name == "capitalize")
        return bind([self](Interpreter &, CallArgs &) { return Value::of(py_capitalize(self)); });
    if (name == "format")
        return bind(
            [self](Interpreter &in, CallArgs &a) { return Value::of(py_format(in, self, a)); });
    if (name == "find" || name == "rfind" || name == "count") {
        return bind([self, name](Interpreter &, CallArgs &a) {
            std::string sub = need_str(a.get(0, nullptr), "sub");
            if (name == "count") {
                if (sub.empty()) return Value::of(static_cast<int64_t>(utf8_length(self) + 1));
                int64_t n = 0;
                for (size_t p = self.find(sub); p != std::string::npos;
                     p = self.find(sub, p + sub.size()))
                    ++n;
                return Value::of(n);
            }
            size_t p = name == "find" ? self.find(sub) : self.rfind(sub);
            if (p == std::string::npos) return Value::of(-1);
            return Value::of(static_cast<int64_t>(utf8_length(self.substr(0, p))));
        });
    }
    if (name == "join")
        return bind([self](Interpreter &in, CallArgs &a) {
            const Value *it = a.get(0, nullptr);
            if (!it) fail("join needs an argument");
            std::string out;
            bool first = true;
            for (auto &v : iterate(*it)) {
                if (!first) out += self;
                first = false;
                out += need_str(&v, "join item");
                in.check_size(out.size());
            }
            return Value::of(out);
        });
    if (name == "isdigit" || name == "isalpha" || name == "isspace" || name == "isalnum")
        return bind([self, name](Interpreter &, CallArgs &) {
            if (self.empty()) return Value::of(false);
            for (unsigned char c : self) {
                bool ok = name == "isdigit"   ? std::isdigit(c)
                          : name == "isalpha" ? std::isalpha(c)
                          : name == "isspace" ? std::isspace(c)
                                              : std::isalnum(c);
                if (!ok) return Value::of(false);
            }
            return Value::of(true);
        });
    return Value::undefined();
}

Value dict_method(const Value &self, const std::string &name) {
    auto d = self.dict;
    if (name == "items" || name == "keys" || name == "values") {
        return Value::native(name, [d, name](Interpreter &, CallArgs &) {
            std::vector<Value> out;
            for (const auto &kv : d->items) {
                if (name == "keys")
                    out.push_back(Value::of(kv.first));
                else if (name == "values")
                    out.push_back(kv.second);
                else {
                    Value t = Value::new_list({Value::of(kv.first), kv.second});
                    t.is_tuple = true;
                    out.push_back(t);
                }
            }
            return Value::new_list(std::move(out));
        });
    }
    if (name == "get") {
        return Value::native(name, [d](Interpreter &, CallArgs &a) {
            const Value *k = a.get(0, nullptr);
            if (!k) fail("get needs a key");
            if (k->is_string())
                if (const Value *v = d->find(k->str)) return *v;
            const Value *def = a.get(1, "default");
            return def ? *def : Value::none();
        });
    }
    return Value::undefined();
}

Value list_method(const Value &self, const std::string &name) {
    auto l = self.list;
    if (name == "append" && !self.is_tuple) {
        // transformers' ImmutableSandboxedEnvironment refuses this; templates written for other
        // engines use it on lists they made, so it is allowed here.
        return Value::native(name, [l](Interpreter &in, CallArgs &a) {
            if (a.pos.size() != 1) fail("append takes exactly one argument");
            in.count_iteration();
            l->push_back(a.pos[0]);
            return Value::none();
        });
    }
    if (name == "index" || name == "count") {
        return Value::native(name, [l, name](Interpreter &, CallArgs &a) {
            const Value *x = a.get(0, nullptr);
            if (!x) fail(name + " needs an argument");
            int64_t n = 0;
            for (size_t i = 0; i < l->size(); ++i) {
                if (!py_equal((*l)[i], *x)) continue;
                if (name == "index") return Value::of(static_cast<int64_t>(i));
                ++n;
            }
            if (name == "index") fail("value is not in list");
            return Value::of(n);
        });
    }
    return Value::undefined();
}

}  // namespace

Value find_method(const Value &obj, const std::string &name) {
    if (obj.is_string()) return string_method(obj.str, name);
    if (obj.is_dict() && !obj.dict->is_namespace) return dict_method(obj, name);
    if (obj.is_list()) return list_method(obj, name);
    return Value::undefined();
}

}  // namespace hfk::chat
