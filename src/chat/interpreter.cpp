// The tree-walking evaluator: expressions, statements, scopes, macros and the sandbox limits.
#include "chat/interpreter.h"

#include <cmath>
#include <algorithm>
#include <limits>
#include <optional>

#include "chat/error.h"
#include "chat/percent_format.h"

namespace hfk::chat {

// The loop object's entry that makes it callable in a recursive loop (not a valid Jinja name,
// so a template cannot reach it as an attribute).
static const char *const kLoopCall = "<loop>";

const Value *Scope::lookup(const std::string &name) const {
    for (const Scope *s = this; s; s = s->parent.get()) {
        auto it = s->vars.find(name);
        if (it != s->vars.end()) return &it->second;
    }
    return nullptr;
}

[[noreturn]] void undefined_error(const Value &v) {
    fail(v.str.empty() ? std::string("'undefined' is undefined") : v.str);
}

static std::string obj_desc(const Value &v) {
    if (v.is_none()) return "'None'";
    return "'" + type_name(v) + " object'";
}

Value get_attr(const Value &obj, const std::string &name) {
    if (obj.is_undefined()) undefined_error(obj);
    if (obj.is_dict()) {
        if (!obj.dict->is_namespace) {
            Value m = find_method(obj, name);
            if (!m.is_undefined()) return m;
        }
        if (const Value *v = obj.dict->find(name)) return *v;
    } else {
        if (obj.is_list() && obj.is_group && obj.list->size() == 2) {
            if (name == "grouper") return (*obj.list)[0];
            if (name == "list") return (*obj.list)[1];
        }
        Value m = find_method(obj, name);
        if (!m.is_undefined()) return m;
    }
    return Value::undefined(obj_desc(obj) + " has no attribute '" + name + "'");
}

static bool normalize_index(int64_t &i, size_t n) {
    if (i < 0) i += static_cast<int64_t>(n);
    return i >= 0 && static_cast<size_t>(i) < n;
}

Value get_item(const Value &obj, const Value &key) {
    if (obj.is_undefined()) undefined_error(obj);
    if (obj.is_dict()) {
        if (key.is_string()) {
            if (const Value *v = obj.dict->find(key.str)) return *v;
            if (!obj.dict->is_namespace) {
                Value m = find_method(obj, key.str);
                if (!m.is_undefined()) return m;
            }
        } else if (key.is_number() && !key.is_undefined()) {
            if (const Value *v = obj.dict->find(py_str(key))) return *v;
        }
        return Value::undefined(obj_desc(obj) + " has no attribute '" + py_str(key) + "'");
    }
    if ((obj.is_list() || obj.is_string()) &&
        (key.type == Value::Type::Int || key.type == Value::Type::Bool)) {
        int64_t i = key.type == Value::Type::Bool ? key.boolean : key.integer;
        if (obj.is_list()) {
            if (normalize_index(i, obj.list->size())) return (*obj.list)[static_cast<size_t>(i)];
        } else {
            auto chars = utf8_chars(obj.str);
            if (normalize_index(i, chars.size())) return Value::of(chars[static_cast<size_t>(i)]);
        }
        return Value::undefined(obj_desc(obj) + " has no element " + py_str(key));
    }
    if (key.is_string()) return get_attr(obj, key.str);
    return Value::undefined(obj_desc(obj) + " has no element " + py_repr(key));
}

std::vector<Value> iterate(const Value &v) {
    switch (v.type) {
        case Value::Type::Undefined:
            return {};
        case Value::Type::List:
            return *v.list;
        case Value::Type::Dict: {
            std::vector<Value> keys;
            for (const auto &kv : v.dict->items) keys.push_back(Value::of(kv.first));
            return keys;
        }
        case Value::Type::String: {
            std::vector<Value> out;
            for (auto &c : utf8_chars(v.str)) out.push_back(Value::of(std::move(c)));
            return out;
        }
        default:
            fail("'" + type_name(v) + "' object is not iterable");
    }
}

Interpreter::Interpreter(const Limits &limits,
                         std::function<std::string(const std::string &)> strftime_now)
    : limits_(limits), strftime_(std::move(strftime_now)) {}

void Interpreter::step() {
    if (++steps_ > limits_.max_steps)
        throw TemplateError(ErrorKind::Resource, "template evaluation exceeded " +
                                                     std::to_string(limits_.max_steps) + " steps");
}

void Interpreter::count_iteration() {
    if (++iterations_ > limits_.max_loop_iterations)
        throw TemplateError(ErrorKind::Resource, "template loops exceeded " +
                                                     std::to_string(limits_.max_loop_iterations) +
                                                     " iterations");
}

void Interpreter::check_size(size_t bytes) const {
    if (bytes > limits_.max_output_bytes)
        throw TemplateError(
            ErrorKind::Resource,
            "template output exceeded " + std::to_string(limits_.max_output_bytes) + " bytes");
}

void Interpreter::append(std::string &out, const std::string &text) const {
    check_size(out.size() + text.size());
    out += text;
}

std::string Interpreter::render(const Program &program, const Dict &globals) {
    auto builtins = std::make_shared<Scope>();
    Dict g;
    add_globals(g);
    for (auto &kv : g.items) builtins->vars[kv.first] = kv.second;
    auto root = std::make_shared<Scope>();
    root->parent = builtins;
    for (const auto &kv : globals.items) root->vars[kv.first] = kv.second;
    std::string out;
    Flow f = exec(program.body, *root, out);
    (void)f;  // break/continue outside a loop: Jinja rejects at compile time; we stop quietly
    // Break the scope -> macro -> scope chains so nothing outlives the render.
    root->vars.clear();
    builtins->vars.clear();
    return out;
}

Value Interpreter::call(const Value &callee, CallArgs &args, int line) {
    (void)line;
    if (callee.is_undefined()) undefined_error(callee);
    if (callee.is_dict()) {  // the loop object of a recursive for: loop(items)
        const Value *f = callee.dict->find(kLoopCall);
        if (f && f->is_callable()) return f->fn->fn(*this, args);
    }
    if (!callee.is_callable()) fail("'" + type_name(callee) + "' object is not callable");
    return callee.fn->fn(*this, args);
}

Value Interpreter::apply_filter(const std::string &name, CallArgs &args) {
    if (!has_filter(name)) fail("no filter named '" + name + "'");
    return run_filter(*this, name, args);
}

bool Interpreter::apply_test(const std::string &name, CallArgs &args) {
    if (!has_test(name)) fail("no test named '" + name + "'");
    return run_test(*this, name, args);
}

void Interpreter::collect_args(const Expr &e, size_t first_arg, Scope &s, CallArgs &args) {
    for (size_t i = first_arg; i < e.args.size(); ++i) args.pos.push_back(eval(*e.args[i], s));
    if (e.star_args) {
        Value v = eval(*e.star_args, s);
        if (v.is_undefined()) undefined_error(v);
        for (auto &x : iterate(v)) args.pos.push_back(std::move(x));
    }
    for (const auto &kv : e.kwargs) args.kw.emplace_back(kv.first, eval(*kv.second, s));
    if (e.star_kwargs) {
        Value v = eval(*e.star_kwargs, s);
        if (v.is_undefined()) undefined_error(v);
        if (!v.is_dict()) fail("argument after ** must be a mapping, not " + type_name(v));
        for (const auto &kv : v.dict->items) args.kw.emplace_back(kv.first, kv.second);
    }
}

static int64_t as_int(const Value &v) {
    return v.type == Value::Type::Bool ? (v.boolean ? 1 : 0) : v.integer;
}

static bool is_intlike(const Value &v) {
    return v.type == Value::Type::Int || v.type == Value::Type::Bool;
}

[[noreturn]] static void bad_operands(const std::string &op, const Value &a, const Value &b) {
    if (a.is_undefined()) undefined_error(a);
    if (b.is_undefined()) undefined_error(b);
    fail("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) +
         "'");
}

static Value repeat(Interpreter &in, const Value &seq, int64_t n) {
    if (n < 0) n = 0;
    if (seq.is_string()) {
        in.check_size(seq.str.size() * static_cast<size_t>(std::min<int64_t>(n, 1 << 30)));
        std::string out;
        for (int64_t i = 0; i < n; ++i) out += seq.str;
        return Value::of(out);
    }
    in.check_size(seq.list->size() * sizeof(Value) *
                  static_cast<size_t>(std::min<int64_t>(n, 1 << 30)));
    std::vector<Value> out;
    for (int64_t i = 0; i < n; ++i) out.insert(out.end(), seq.list->begin(), seq.list->end());
    return Value::new_list(std::move(out));
}

static Value arith(Interpreter &in, const std::string &op, const Value &a, const Value &b) {
    if (op == "+") {
        if (a.is_string() && b.is_string()) {
            in.check_size(a.str.size() + b.str.size());
            return Value::of(a.str + b.str);
        }
        if (a.is_list() && b.is_list()) {
            std::vector<Value> out = *a.list;
            out.insert(out.end(), b.list->begin(), b.list->end());
            Value r = Value::new_list(std::move(out));
            r.is_tuple = a.is_tuple;
            return r;
        }
    }
    if (op == "*") {
        if ((a.is_string() || a.is_list()) && is_intlike(b)) return repeat(in, a, as_int(b));
        if ((b.is_string() || b.is_list()) && is_intlike(a)) return repeat(in, b, as_int(a));
    }
    if (op == "%" && a.is_string()) {  // printf-style: one value, a tuple or a mapping
        std::vector<Value> vals = b.is_list() && b.is_tuple ? *b.list : std::vector<Value>{b};
        std::string out = py_percent_format(a.str, vals, b.is_dict() ? b.dict.get() : nullptr);
        in.check_size(out.size());
        return Value::of(std::move(out));
    }
    if (!a.is_number() || !b.is_number()) bad_operands(op, a, b);
    bool ints = is_intlike(a) && is_intlike(b);
    if (ints) {
        int64_t x = as_int(a), y = as_int(b), r = 0;
        if (op == "+") {
            if (!__builtin_add_overflow(x, y, &r)) return Value::of(r);
        } else if (op == "-") {
            if (!__builtin_sub_overflow(x, y, &r)) return Value::of(r);
        } else if (op == "*") {
            if (!__builtin_mul_overflow(x, y, &r)) return Value::of(r);
        } else if (op == "/") {
            if (y == 0) fail("division by zero");
            return Value::of(static_cast<double>(x) / static_cast<double>(y));
        } else if (op == "//" || op == "%") {
            if (y == 0) fail("integer division or modulo by zero");
            if (x == std::numeric_limits<int64_t>::min() && y == -1) fail("integer overflow");
            int64_t q = x / y, m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) {
                q -= 1;
                m += y;
            }
            return Value::of(op == "//" ? q : m);
        } else if (op == "**") {
            if (y < 0) return Value::of(std::pow(static_cast<double>(x), static_cast<double>(y)));
            int64_t acc = 1;
            bool overflow = false;
            for (int64_t i = 0; i < y && !overflow; ++i) {
                overflow = __builtin_mul_overflow(acc, x, &acc);
                if (acc == 0 || acc == 1) break;
                if (x == -1) {
                    acc = (y % 2) ? -1 : 1;
                    break;
                }
            }
            if (!overflow) return Value::of(acc);
        }
        fail("integer overflow");
    }
    double x = a.as_double(), y = b.as_double();
    if (op == "+") return Value::of(x + y);
    if (op == "-") return Value::of(x - y);
    if (op == "*") return Value::of(x * y);
    if (op == "/") {
        if (y == 0) fail("float division by zero");
        return Value::of(x / y);
    }
    if (op == "//" || op == "%") {
        if (y == 0) fail("float modulo");
        double m = std::fmod(x, y);
        if (m != 0 && ((m < 0) != (y < 0))) m += y;
        if (op == "%") return Value::of(m);
        return Value::of(std::floor((x - m) / y + 0.5));
    }
    return Value::of(std::pow(x, y));
}

static bool contains(const Value &container, const Value &item) {
    switch (container.type) {
        case Value::Type::String:
            if (!item.is_string())
                fail("'in <string>' requires string as left operand, not " + type_name(item));
            return container.str.find(item.str) != std::string::npos;
        case Value::Type::List:
            for (const auto &v : *container.list)
                if (py_equal(v, item)) return true;
            return false;
        case Value::Type::Dict:
            return item.is_string() && container.dict->find(item.str) != nullptr;
        case Value::Type::Undefined:
            return false;
        default:
            fail("argument of type '" + type_name(container) + "' is not iterable");
    }
}

Value Interpreter::eval_binary(const Expr &e, Scope &s) {
    const std::string &op = e.name;
    Value a = eval(*e.args[0], s);
    Value b = eval(*e.args[1], s);
    if (op == "~") {
        std::string r = py_str(a) + py_str(b);
        check_size(r.size());
        return Value::of(std::move(r));
    }
    if (op == "==") return Value::of(py_equal(a, b));
    if (op == "!=") return Value::of(!py_equal(a, b));
    if (op == "in") return Value::of(contains(b, a));
    if (op == "not in") return Value::of(!contains(b, a));
    if (op == "<" || op == ">" || op == "<=" || op == ">=") {
        if (a.is_undefined()) undefined_error(a);
        if (b.is_undefined()) undefined_error(b);
        if (op == "<") return Value::of(py_less(a, b));
        if (op == ">") return Value::of(py_less(b, a));
        if (op == "<=") return Value::of(!py_less(b, a));
        return Value::of(!py_less(a, b));
    }
    return arith(*this, op, a, b);
}

static Value slice(const Value &obj, const Value &start, const Value &stop, const Value &stepv) {
    if (obj.is_undefined()) undefined_error(obj);
    auto opt = [](const Value &v, const char *what) -> std::optional<int64_t> {
        if (v.is_undefined() || v.is_none()) return std::nullopt;
        if (!is_intlike(v)) fail(std::string("slice ") + what + " must be an integer");
        return as_int(v);
    };
    int64_t st = opt(stepv, "step").value_or(1);
    if (st == 0) fail("slice step cannot be zero");
    std::vector<Value> items;
    std::vector<std::string> chars;
    size_t n;
    if (obj.is_list())
        n = obj.list->size();
    else if (obj.is_string()) {
        chars = utf8_chars(obj.str);
        n = chars.size();
    } else
        fail("'" + type_name(obj) + "' object is not subscriptable");
    int64_t len = static_cast<int64_t>(n);
    auto clamp = [&](std::optional<int64_t> v, int64_t def) {
        if (!v) return def;
        int64_t x = *v;
        if (x < 0) x += len;
        if (st > 0) return std::clamp<int64_t>(x, 0, len);
        return std::clamp<int64_t>(x, -1, len - 1);
    };
    int64_t b = clamp(opt(start, "start"), st > 0 ? 0 : len - 1);
    int64_t en = clamp(opt(stop, "stop"), st > 0 ? len : -1);
    std::vector<size_t> idx;
    if (st > 0)
        for (int64_t i = b; i < en; i += st) idx.push_back(static_cast<size_t>(i));
    else
        for (int64_t i = b; i > en; i += st) idx.push_back(static_cast<size_t>(i));
    if (obj.is_list()) {
        for (size_t i : idx) items.push_back((*obj.list)[i]);
        Value r = Value::new_list(std::move(items));
        r.is_tuple = obj.is_tuple;
        return r;
    }
    std::string out;
    for (size_t i : idx) out += chars[i];
    return Value::of(out);
}

Value Interpreter::eval(const Expr &e, Scope &s) {
    step();
    switch (e.kind) {
        case Expr::Kind::Literal:
            return e.value;
        case Expr::Kind::Name: {
            if (const Value *v = s.lookup(e.name)) return *v;
            return Value::undefined("'" + e.name + "' is undefined");
        }
        case Expr::Kind::List:
        case Expr::Kind::Tuple: {
            std::vector<Value> items;
            for (const auto &a : e.args) items.push_back(eval(*a, s));
            Value v = Value::new_list(std::move(items));
            v.is_tuple = e.kind == Expr::Kind::Tuple;
            return v;
        }
        case Expr::Kind::Dict: {
            Value d = Value::new_dict();
            for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
                Value k = eval(*e.args[i], s);
                d.dict->set(py_str(k), eval(*e.args[i + 1], s));
            }
            return d;
        }
        case Expr::Kind::Attr:
            return get_attr(eval(*e.args[0], s), e.name);
        case Expr::Kind::Index: {
            Value obj = eval(*e.args[0], s);
            return get_item(obj, eval(*e.args[1], s));
        }
        case Expr::Kind::Slice: {
            Value obj = eval(*e.args[0], s);
            Value parts[3];
            for (int i = 0; i < 3; ++i)
                if (e.args[static_cast<size_t>(i) + 1])
                    parts[i] = eval(*e.args[static_cast<size_t>(i) + 1], s);
            return slice(obj, parts[0], parts[1], parts[2]);
        }
        case Expr::Kind::Call: {
            Value callee = eval(*e.args[0], s);
            CallArgs args;
            collect_args(e, 1, s, args);
            return call(callee, args, e.line);
        }
        case Expr::Kind::Filter: {
            CallArgs args;
            collect_args(e, 0, s, args);
            return apply_filter(e.name, args);
        }
        case Expr::Kind::Test: {
            CallArgs args;
            collect_args(e, 0, s, args);
            bool r = apply_test(e.name, args);
            return Value::of(e.negated ? !r : r);
        }
        case Expr::Kind::Neg:
        case Expr::Kind::Pos: {
            Value v = eval(*e.args[0], s);
            if (!v.is_number())
                bad_operands(e.kind == Expr::Kind::Neg ? "unary -" : "unary +", v, v);
            if (e.kind == Expr::Kind::Pos) return v;
            if (v.type == Value::Type::Float) return Value::of(-v.number);
            if (as_int(v) == std::numeric_limits<int64_t>::min()) fail("integer overflow");
            return Value::of(-as_int(v));
        }
        case Expr::Kind::Not:
            return Value::of(!eval(*e.args[0], s).truthy());
        case Expr::Kind::And: {
            Value a = eval(*e.args[0], s);
            return a.truthy() ? eval(*e.args[1], s) : a;
        }
        case Expr::Kind::Or: {
            Value a = eval(*e.args[0], s);
            return a.truthy() ? a : eval(*e.args[1], s);
        }
        case Expr::Kind::Cond: {
            if (eval(*e.args[1], s).truthy()) return eval(*e.args[0], s);
            if (e.args[2]) return eval(*e.args[2], s);
            return Value::undefined(
                "the inline if-expression evaluated to false and no else section was defined.");
        }
        case Expr::Kind::Binary:
            return eval_binary(e, s);
    }
    return Value::undefined();
}

Interpreter::Flow Interpreter::exec(const Body &body, Scope &s, std::string &out) {
    for (const auto &st : body) {
        Flow f = exec_stmt(*st, s, out);
        if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
}

static void assign_targets(Scope &s, const std::vector<std::string> &targets, const Value &v) {
    if (targets.size() == 1) {
        s.vars[targets[0]] = v;
        return;
    }
    if (v.is_undefined()) undefined_error(v);
    std::vector<Value> items = iterate(v);
    if (items.size() != targets.size())
        fail(std::string(items.size() > targets.size() ? "too many" : "not enough") +
             " values to unpack (expected " + std::to_string(targets.size()) + ", got " +
             std::to_string(items.size()) + ")");
    for (size_t i = 0; i < targets.size(); ++i) s.vars[targets[i]] = items[i];
}

void Interpreter::exec_set(const Stmt &st, Scope &s) {
    Value v = eval(*st.expr, s);
    if (st.attr_target) {
        const Value *owner = s.lookup(st.targets[0]);
        if (!owner || !owner->is_dict() || !owner->dict->is_namespace)
            fail("cannot assign attribute on non-namespace object");
        owner->dict->set(st.targets[1], std::move(v));
        return;
    }
    assign_targets(s, st.targets, v);
}

Interpreter::Flow Interpreter::exec_for(const Stmt &st, Scope &s, std::string &out) {
    return run_loop(st, s, eval(*st.expr, s), 0, out);
}

// One level of a for loop over `seq` (depth0 > 0: a level of a recursive loop, rendered by
// loop(items) from the level above).
Interpreter::Flow Interpreter::run_loop(const Stmt &st, Scope &s, const Value &seq, int64_t depth0,
                                        std::string &out) {
    std::vector<Value> all = iterate(seq);
    auto scope = std::make_shared<Scope>();
    scope->parent = s.shared_from_this();
    std::vector<Value> items;
    if (st.cond) {
        for (auto &v : all) {
            count_iteration();
            assign_targets(*scope, st.targets, v);
            if (eval(*st.cond, *scope).truthy()) items.push_back(std::move(v));
        }
    } else {
        items = std::move(all);
    }
    if (items.empty()) {
        scope->vars.clear();
        return exec(st.else_body, s, out);
    }
    const int64_t n = static_cast<int64_t>(items.size());
    // loop.changed(*values): true when the values differ from the previous call's (one state
    // per loop level, as Jinja's LoopContext).
    auto last_changed = std::make_shared<std::optional<std::vector<Value>>>();
    Value changed = Value::native("changed", [last_changed](Interpreter &, CallArgs &a) -> Value {
        bool same = last_changed->has_value() && (*last_changed)->size() == a.pos.size();
        for (size_t k = 0; same && k < a.pos.size(); ++k)
            same = py_equal((**last_changed)[k], a.pos[k]);
        if (same) return Value::of(false);
        *last_changed = a.pos;
        return Value::of(true);
    });
    Value recurse;
    if (st.recursive) {
        std::weak_ptr<Scope> home = s.shared_from_this();
        const Stmt *def = &st;
        recurse = Value::native("loop", [this, home, def, depth0](Interpreter &, CallArgs &a) {
            auto parent = home.lock();
            if (!parent) fail("loop() called outside its loop");
            if (a.pos.size() != 1 || !a.kw.empty())
                fail("loop() takes exactly one argument (the items of the next level)");
            if (++call_depth_ > limits_.max_call_depth) {
                --call_depth_;
                throw TemplateError(
                    ErrorKind::Resource,
                    "recursive loop nested deeper than " + std::to_string(limits_.max_call_depth));
            }
            struct Leave {
                int &d;
                ~Leave() { --d; }
            } leave{call_depth_};
            std::string level;
            run_loop(*def, *parent, a.pos[0], depth0 + 1, level);
            return Value::of(std::move(level));
        });
    }
    ++loop_depth_;
    for (int64_t i = 0; i < n; ++i) {
        count_iteration();
        const size_t ui = static_cast<size_t>(i);
        assign_targets(*scope, st.targets, items[ui]);
        Value loop = Value::new_dict();
        Dict &d = *loop.dict;
        d.set("index", Value::of(i + 1));
        d.set("index0", Value::of(i));
        d.set("revindex", Value::of(n - i));
        d.set("revindex0", Value::of(n - i - 1));
        d.set("first", Value::of(i == 0));
        d.set("last", Value::of(i == n - 1));
        d.set("length", Value::of(n));
        d.set("depth", Value::of(depth0 + 1));
        d.set("depth0", Value::of(depth0));
        d.set("previtem", i > 0 ? items[ui - 1] : Value::undefined("there is no previous item"));
        d.set("nextitem", i + 1 < n ? items[ui + 1] : Value::undefined("there is no next item"));
        d.set("cycle", Value::native("cycle", [i](Interpreter &, CallArgs &a) -> Value {
                  if (a.pos.empty()) fail("no items for cycling given");
                  return a.pos[static_cast<size_t>(i) % a.pos.size()];
              }));
        d.set("changed", changed);
        if (st.recursive) d.set(kLoopCall, recurse);
        scope->vars["loop"] = loop;
        Flow f = exec(st.body, *scope, out);
        if (f == Flow::Break) break;
    }
    --loop_depth_;
    scope->vars.clear();
    return Flow::Normal;
}

Value Interpreter::make_macro(const Stmt &st, Scope &s) {
    std::weak_ptr<Scope> home = s.shared_from_this();
    const Stmt *def = &st;
    return Value::native(st.name, [this, home, def](Interpreter &, CallArgs &args) -> Value {
        auto parent = home.lock();
        if (!parent) fail("macro '" + def->name + "' called outside the scope it was defined in");
        if (++call_depth_ > limits_.max_call_depth) {
            --call_depth_;
            throw TemplateError(ErrorKind::Resource, "macro calls nested deeper than " +
                                                         std::to_string(limits_.max_call_depth));
        }
        struct Leave {
            int &d;
            ~Leave() { --d; }
        } leave{call_depth_};
        auto scope = std::make_shared<Scope>();
        scope->parent = parent;
        std::vector<Value> varargs;
        for (size_t i = 0; i < args.pos.size(); ++i) {
            if (i < def->params.size())
                scope->vars[def->params[i].name] = args.pos[i];
            else
                varargs.push_back(args.pos[i]);
        }
        Value kwargs = Value::new_dict();
        for (auto &kv : args.kw) {
            bool is_param = false;
            for (const auto &p : def->params) is_param = is_param || p.name == kv.first;
            if (is_param || kv.first == "caller")
                scope->vars[kv.first] = kv.second;
            else
                kwargs.dict->set(kv.first, kv.second);
        }
        for (const auto &p : def->params) {
            if (scope->vars.count(p.name)) continue;
            scope->vars[p.name] = p.default_value
                                      ? eval(*p.default_value, *scope)
                                      : Value::undefined("'" + p.name + "' is undefined");
        }
        Value va = Value::new_list(std::move(varargs));
        va.is_tuple = true;
        scope->vars["varargs"] = va;
        scope->vars["kwargs"] = kwargs;
        std::string out;
        exec(def->body, *scope, out);
        scope->vars.clear();
        return Value::of(std::move(out));
    });
}

Interpreter::Flow Interpreter::exec_stmt(const Stmt &st, Scope &s, std::string &out) {
    step();
    switch (st.kind) {
        case Stmt::Kind::Text:
            append(out, st.text);
            return Flow::Normal;
        case Stmt::Kind::Output: {
            Value v = eval(*st.expr, s);
            append(out, py_str(v));
            return Flow::Normal;
        }
        case Stmt::Kind::If:
            for (const auto &br : st.branches)
                if (eval(*br.first, s).truthy()) return exec(br.second, s, out);
            return exec(st.else_body, s, out);
        case Stmt::Kind::For:
            return exec_for(st, s, out);
        case Stmt::Kind::Set:
            exec_set(st, s);
            return Flow::Normal;
        case Stmt::Kind::SetBlock: {
            std::string body;
            exec(st.body, s, body);
            Value v = Value::of(std::move(body));
            if (st.expr) {
                auto tmp = std::make_shared<Scope>();
                tmp->parent = s.shared_from_this();
                tmp->vars["__body"] = v;
                v = eval(*st.expr, *tmp);
            }
            s.vars[st.targets[0]] = v;
            return Flow::Normal;
        }
        case Stmt::Kind::Macro:
            s.vars[st.name] = make_macro(st, s);
            return Flow::Normal;
        case Stmt::Kind::CallBlock: {
            std::weak_ptr<Scope> home = s.shared_from_this();
            const Stmt *def = &st;
            Value caller =
                Value::native("caller", [this, home, def](Interpreter &, CallArgs &args) {
                    auto parent = home.lock();
                    if (!parent) fail("caller() used outside its call block");
                    auto scope = std::make_shared<Scope>();
                    scope->parent = parent;
                    for (size_t i = 0; i < def->params.size(); ++i) {
                        const Value *a = args.get(i, def->params[i].name.c_str());
                        scope->vars[def->params[i].name] =
                            a ? *a
                            : def->params[i].default_value
                                ? eval(*def->params[i].default_value, *scope)
                                : Value::undefined();
                    }
                    std::string body;
                    exec(def->body, *scope, body);
                    scope->vars.clear();
                    return Value::of(std::move(body));
                });
            const Expr &c = *st.expr;
            Value callee = eval(*c.args[0], s);
            CallArgs args;
            collect_args(c, 1, s, args);
            args.kw.emplace_back("caller", caller);
            append(out, py_str(call(callee, args, c.line)));
            return Flow::Normal;
        }
        case Stmt::Kind::FilterBlock: {
            std::string body;
            exec(st.body, s, body);
            auto tmp = std::make_shared<Scope>();
            tmp->parent = s.shared_from_this();
            tmp->vars["__body"] = Value::of(std::move(body));
            append(out, py_str(eval(*st.expr, *tmp)));
            return Flow::Normal;
        }
        case Stmt::Kind::Break:
            return loop_depth_ > 0 ? Flow::Break : Flow::Normal;
        case Stmt::Kind::Continue:
            return loop_depth_ > 0 ? Flow::Continue : Flow::Normal;
        case Stmt::Kind::Block:
            return exec(st.body, s, out);
        case Stmt::Kind::With: {
            // The values are computed in the enclosing scope; the names (and any set inside)
            // live only in the block.
            auto scope = std::make_shared<Scope>();
            scope->parent = s.shared_from_this();
            for (const auto &p : st.params) scope->vars[p.name] = eval(*p.default_value, s);
            Flow f = exec(st.body, *scope, out);
            scope->vars.clear();
            return f;
        }
    }
    return Flow::Normal;
}

}  // namespace hfk::chat
