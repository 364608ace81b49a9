// Jinja's tests ("x is defined", "n is divisibleby 3", ...).
#include <cmath>
#include <unordered_map>

#include "chat/error.h"
#include "chat/interpreter.h"
#include "chat/strings.h"

namespace hfk::chat {
namespace {

using Test = bool (*)(Interpreter &, CallArgs &);

const Value &subject(CallArgs &a) {
    return a.pos[0];
}
Value other(CallArgs &a) {
    const Value *v = a.get(1, nullptr);
    if (!v) fail("test needs an argument");
    return *v;
}
bool is_int(const Value &v) {
    return v.type == Value::Type::Int;
}

bool defined(Interpreter &, CallArgs &a) {
    return !subject(a).is_undefined();
}
bool undefined(Interpreter &, CallArgs &a) {
    return subject(a).is_undefined();
}
bool none(Interpreter &, CallArgs &a) {
    return subject(a).is_none();
}
bool string(Interpreter &, CallArgs &a) {
    return subject(a).is_string();
}
bool number(Interpreter &, CallArgs &a) {
    return subject(a).is_number();
}
bool integer(Interpreter &, CallArgs &a) {
    return is_int(subject(a));
}
bool float_(Interpreter &, CallArgs &a) {
    return subject(a).type == Value::Type::Float;
}
bool mapping(Interpreter &, CallArgs &a) {
    return subject(a).is_dict();
}
bool iterable(Interpreter &, CallArgs &a) {
    const Value &v = subject(a);
    return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
}
bool sequence(Interpreter &, CallArgs &a) {
    const Value &v = subject(a);
    return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
}
bool boolean(Interpreter &, CallArgs &a) {
    return subject(a).type == Value::Type::Bool;
}
bool true_(Interpreter &, CallArgs &a) {
    return subject(a).type == Value::Type::Bool && subject(a).boolean;
}
bool false_(Interpreter &, CallArgs &a) {
    return subject(a).type == Value::Type::Bool && !subject(a).boolean;
}
int64_t need_int(const Value &v, const char *test) {
    if (v.type == Value::Type::Int) return v.integer;
    if (v.type == Value::Type::Bool) return v.boolean;
    if (v.type == Value::Type::Float && std::floor(v.number) == v.number &&
        std::fabs(v.number) < 9e18)
        return static_cast<int64_t>(v.number);
    if (v.is_undefined()) undefined_error(v);
    fail(std::string("test '") + test + "' needs a number, got " + type_name(v));
}
bool odd(Interpreter &, CallArgs &a) {
    return need_int(subject(a), "odd") % 2 != 0;
}
bool even(Interpreter &, CallArgs &a) {
    return need_int(subject(a), "even") % 2 == 0;
}
bool divisibleby(Interpreter &, CallArgs &a) {
    int64_t d = need_int(other(a), "divisibleby");
    if (d == 0) fail("integer division or modulo by zero");
    if (d == -1) return true;
    return need_int(subject(a), "divisibleby") % d == 0;
}
bool eq(Interpreter &, CallArgs &a) {
    return py_equal(subject(a), other(a));
}
bool ne(Interpreter &, CallArgs &a) {
    return !py_equal(subject(a), other(a));
}
bool lt(Interpreter &, CallArgs &a) {
    return py_less(subject(a), other(a));
}
bool le(Interpreter &, CallArgs &a) {
    return !py_less(other(a), subject(a));
}
bool gt(Interpreter &, CallArgs &a) {
    return py_less(other(a), subject(a));
}
bool ge(Interpreter &, CallArgs &a) {
    return !py_less(subject(a), other(a));
}
bool in(Interpreter &, CallArgs &a) {
    Value c = other(a);
    const Value &x = subject(a);
    if (c.is_string()) return x.is_string() && c.str.find(x.str) != std::string::npos;
    if (c.is_dict()) return x.is_string() && c.dict->find(x.str);
    for (const auto &v : iterate(c))
        if (py_equal(v, x)) return true;
    return false;
}
bool lower(Interpreter &, CallArgs &a) {
    return py_islower(py_str(subject(a)));
}
bool upper(Interpreter &, CallArgs &a) {
    return py_isupper(py_str(subject(a)));
}
bool callable(Interpreter &, CallArgs &a) {
    return subject(a).is_callable();
}
bool sameas(Interpreter &, CallArgs &a) {
    Value o = other(a);
    const Value &x = subject(a);
    if (x.type != o.type) return false;
    switch (x.type) {
        case Value::Type::None:
        case Value::Type::Undefined:
            return true;
        case Value::Type::Bool:
            return x.boolean == o.boolean;
        case Value::Type::List:
            return x.list == o.list;
        case Value::Type::Dict:
            return x.dict == o.dict;
        case Value::Type::Callable:
            return x.fn == o.fn;
        default:
            return py_equal(x, o);
    }
}

// "'upper' is filter", "'odd' is test": whether the name is a known filter or test.
bool is_filter(Interpreter &, CallArgs &a) {
    return subject(a).is_string() && has_filter(subject(a).str);
}
bool is_test(Interpreter &, CallArgs &a) {
    return subject(a).is_string() && has_test(subject(a).str);
}

const std::unordered_map<std::string, Test> &table() {
    static const std::unordered_map<std::string, Test> t = {
        {"defined", defined},
        {"undefined", undefined},
        {"none", none},
        {"string", string},
        {"number", number},
        {"integer", integer},
        {"float", float_},
        {"mapping", mapping},
        {"iterable", iterable},
        {"sequence", sequence},
        {"boolean", boolean},
        {"true", true_},
        {"false", false_},
        {"odd", odd},
        {"even", even},
        {"divisibleby", divisibleby},
        {"equalto", eq},
        {"eq", eq},
        {"==", eq},
        {"ne", ne},
        {"!=", ne},
        {"lt", lt},
        {"lessthan", lt},
        {"<", lt},
        {"le", le},
        {"<=", le},
        {"gt", gt},
        {"greaterthan", gt},
        {">", gt},
        {"ge", ge},
        {">=", ge},
        {"in", in},
        {"lower", lower},
        {"upper", upper},
        {"callable", callable},
        {"sameas", sameas},
        {"filter", is_filter},
        {"test", is_test},
    };
    return t;
}

}  // namespace

bool has_test(const std::string &name) {
    return table().count(name) != 0;
}
bool run_test(Interpreter &in, const std::string &name, CallArgs &args) {
    return table().at(name)(in, args);
}

}  // namespace hfk::chat
