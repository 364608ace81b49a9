// Globals of transformers' template environment: raise_exception, strftime_now, range,
// namespace, dict, cycler, joiner.
#include "chat/error.h"
#include "chat/interpreter.h"

namespace hfk::chat {
namespace {

int64_t int_of(const Value &v) {
    if (v.type == Value::Type::Int) return v.integer;
    if (v.type == Value::Type::Bool) return v.boolean;
    if (v.is_undefined()) undefined_error(v);
    fail("'" + type_name(v) + "' object cannot be interpreted as an integer");
}

Value range(Interpreter &in, CallArgs &a) {
    int64_t start = 0, stop, step = 1;
    if (a.pos.size() == 1)
        stop = int_of(a.pos[0]);
    else if (a.pos.size() == 2 || a.pos.size() == 3) {
        start = int_of(a.pos[0]);
        stop = int_of(a.pos[1]);
        if (a.pos.size() == 3) step = int_of(a.pos[2]);
    } else
        fail("range expected 1 to 3 arguments");
    if (step == 0) fail("range() arg 3 must not be zero");
    std::vector<Value> out;
    long double span = (static_cast<long double>(stop) - start) / step;
    if (span > static_cast<long double>(in.limits().max_range))
        throw TemplateError(ErrorKind::Resource, "range too big: the sandbox allows " +
                                                     std::to_string(in.limits().max_range) +
                                                     " items");
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) out.push_back(Value::of(i));
    return Value::new_list(std::move(out));
}

Value make_dict(CallArgs &a, bool is_namespace) {
    Value d = Value::new_dict();
    d.dict->is_namespace = is_namespace;
    for (auto &p : a.pos) {
        if (!p.is_dict()) fail("dict/namespace: positional argument must be a mapping");
        for (auto &kv : p.dict->items) d.dict->set(kv.first, kv.second);
    }
    for (auto &kv : a.kw) d.dict->set(kv.first, kv.second);
    return d;
}

Value cycler(Interpreter &, CallArgs &a) {
    if (a.pos.empty()) fail("cycler needs at least one item");
    Value obj = Value::new_dict();
    obj.dict->is_namespace = true;  // attributes, not methods of a dict
    auto items = std::make_shared<std::vector<Value>>(a.pos);
    auto pos = std::make_shared<size_t>(0);
    std::weak_ptr<Dict> self = obj.dict;
    obj.dict->set("current", (*items)[0]);
    obj.dict->set("next", Value::native("next", [items, pos, self](Interpreter &, CallArgs &) {
                      Value v = (*items)[*pos];
                      *pos = (*pos + 1) % items->size();
                      if (auto d = self.lock()) d->set("current", (*items)[*pos]);
                      return v;
                  }));
    obj.dict->set("reset", Value::native("reset", [items, pos, self](Interpreter &, CallArgs &) {
                      *pos = 0;
                      if (auto d = self.lock()) d->set("current", (*items)[0]);
                      return Value::none();
                  }));
    return obj;
}

Value joiner(Interpreter &, CallArgs &a) {
    const Value *sep = a.get(0, "sep");
    std::string s = sep ? py_str(*sep) : ", ";
    auto used = std::make_shared<bool>(false);
    return Value::native("joiner", [s, used](Interpreter &, CallArgs &) {
        if (!*used) {
            *used = true;
            return Value::of("");
        }
        return Value::of(s);
    });
}

}  // namespace

void add_globals(Dict &g) {
    g.set("raise_exception",
          Value::native("raise_exception", [](Interpreter &, CallArgs &a) -> Value {
              const Value *m = a.get(0, "message");
              throw TemplateError(ErrorKind::Raised, m ? py_str(*m) : std::string());
          }));
    g.set("strftime_now", Value::native("strftime_now", [](Interpreter &in, CallArgs &a) {
              const Value *f = a.get(0, "format");
              if (!f || !f->is_string()) fail("strftime_now needs a format string");
              return Value::of(in.strftime_now(f->str));
          }));
    g.set("range", Value::native("range", range));
    g.set("namespace", Value::native("namespace", [](Interpreter &, CallArgs &a) {
              return make_dict(a, true);
          }));
    g.set("dict",
          Value::native("dict", [](Interpreter &, CallArgs &a) { return make_dict(a, false); }));
    g.set("cycler", Value::native("cycler", cycler));
    g.set("joiner", Value::native("joiner", joiner));
}

}  // namespace hfk::chat
