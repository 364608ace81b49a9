// Values of the Jinja interpreter: Python's object model reduced to what chat templates use.
// Lists and dicts are shared (Python reference semantics: a namespace or a list made in the
// template is mutated in place).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace hfk::chat {

struct Value;
class Interpreter;

struct Dict {
    std::vector<std::pair<std::string, Value>> items;  // insertion order, as Python dicts
    bool is_namespace = false;                         // made by namespace(): attributes assignable
    const Value *find(const std::string &key) const;
    void set(const std::string &key, Value v);
};

struct CallArgs {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
    // The argument named `name` or at position `index`; nullptr when neither was given.
    const Value *get(size_t index, const char *name) const;
};

using NativeFn = std::function<Value(Interpreter &, CallArgs &)>;

struct Callable {
    std::string name;
    NativeFn fn;
};

struct Value {
    enum class Type : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Callable };
    Type type = Type::Undefined;
    bool boolean = false;
    bool is_tuple = false;  // a list that prints as a Python tuple
    bool is_group = false;  // groupby's (grouper, list) tuple: also .grouper and .list
    int64_t integer = 0;
    double number = 0;
    std::string str;  // the String, or for Undefined the reason it is undefined
    std::shared_ptr<std::vector<Value>> list;
    std::shared_ptr<Dict> dict;
    std::shared_ptr<Callable> fn;

    static Value undefined(std::string hint = {});
    static Value none();
    static Value of(bool b);
    static Value of(int64_t i);
    static Value of(int i) { return of(static_cast<int64_t>(i)); }
    static Value of(double d);
    static Value of(std::string s);
    static Value of(const char *s) { return of(std::string(s)); }
    static Value new_list(std::vector<Value> items = {});
    static Value new_dict();
    static Value native(std::string name, NativeFn fn);

    bool is_undefined() const { return type == Type::Undefined; }
    bool is_none() const { return type == Type::None; }
    bool is_string() const { return type == Type::String; }
    bool is_list() const { return type == Type::List; }
    bool is_dict() const { return type == Type::Dict; }
    bool is_number() const {
        return type == Type::Int || type == Type::Float || type == Type::Bool;
    }
    bool is_callable() const { return type == Type::Callable; }

    bool truthy() const;
    double as_double() const;  // for numbers
};

// Python's str() and repr() of a value (str of a list is the repr of its items).
std::string py_str(const Value &v);
std::string py_repr(const Value &v);
std::string py_float_repr(double d);
// Python's == (1 == 1.0 == True, deep for lists and dicts).
bool py_equal(const Value &a, const Value &b);
// Python's <; throws TemplateError for unorderable types.
bool py_less(const Value &a, const Value &b);
// Python's type name for messages ("dict object", "str object").
std::string type_name(const Value &v);

// Converting from and to JSON (nlohmann) is in json_convert.h.

// UTF-8 helpers: strings index and slice by code point as in Python.
std::vector<std::string> utf8_chars(const std::string &s);
size_t utf8_length(const std::string &s);

}  // namespace hfk::chat
