// Evaluates a parsed template in a sandbox: no file or environment access, and bounded
// output, loop iterations, call depth and evaluation steps (TemplateError(Resource)).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>

#include "chat/ast.h"
#include "chat/value.h"

namespace hfk::chat {

struct Limits {
    size_t max_output_bytes = 16u << 20;     // any one rendered string (the output, a macro, a set)
    uint64_t max_loop_iterations = 1000000;  // over the whole render
    int max_call_depth = 64;                 // nested macro calls
    uint64_t max_steps = 50000000;           // expressions and statements evaluated
    int64_t max_range = 100000;              // range() length, as Jinja's sandbox
};

// A variable frame. Scopes live on the heap so a macro can hold (weakly) the scope it was
// defined in; a macro that outlives it fails cleanly instead of reading freed memory.
struct Scope : std::enable_shared_from_this<Scope> {
    std::unordered_map<std::string, Value> vars;
    std::shared_ptr<Scope> parent;
    const Value *lookup(const std::string &name) const;
};

class Interpreter {
  public:
    Interpreter(const Limits &limits, std::function<std::string(const std::string &)> strftime_now);

    // Renders `program` with `globals` (template variables; the built-in globals come first).
    std::string render(const Program &program, const Dict &globals);

    // Used by filters, tests, methods and globals.
    const Limits &limits() const { return limits_; }
    void check_size(size_t bytes) const;
    void count_iteration();
    Value call(const Value &callee, CallArgs &args, int line);
    Value apply_filter(const std::string &name, CallArgs &args);
    bool apply_test(const std::string &name, CallArgs &args);
    std::string strftime_now(const std::string &format) const { return strftime_(format); }

  private:
    enum class Flow { Normal, Break, Continue };

    Value eval(const Expr &e, Scope &s);
    Value eval_binary(const Expr &e, Scope &s);
    Value eval_call(const Expr &e, Scope &s);
    Flow exec(const Body &body, Scope &s, std::string &out);
    Flow exec_stmt(const Stmt &st, Scope &s, std::string &out);
    Flow exec_for(const Stmt &st, Scope &s, std::string &out);
    Flow run_loop(const Stmt &st, Scope &s, const Value &seq, int64_t depth0, std::string &out);
    void exec_set(const Stmt &st, Scope &s);
    Value make_macro(const Stmt &st, Scope &s);
    void step();
    void append(std::string &out, const std::string &text) const;
    void collect_args(const Expr &e, size_t first_arg, Scope &s, CallArgs &args);

    Limits limits_;
    std::function<std::string(const std::string &)> strftime_;
    uint64_t steps_ = 0;
    uint64_t iterations_ = 0;
    int call_depth_ = 0;
    int loop_depth_ = 0;
};

// Attribute and item access with Jinja's rules (missing -> Undefined with a reason).
Value get_attr(const Value &obj, const std::string &name);
Value get_item(const Value &obj, const Value &key);
// Iterating a value as Jinja does (dict -> keys, string -> characters, undefined -> nothing).
std::vector<Value> iterate(const Value &v);
// Raises Jinja's UndefinedError for an operation on an undefined value.
[[noreturn]] void undefined_error(const Value &v);

// Filters, tests, methods and globals (filters.cpp, tests.cpp, methods.cpp, globals.cpp).
bool has_filter(const std::string &name);
Value run_filter(Interpreter &in, const std::string &name, CallArgs &args);
bool has_test(const std::string &name);
bool run_test(Interpreter &in, const std::string &name, CallArgs &args);
// A bound method of a string, list or dict; Undefined when the type has no such method.
Value find_method(const Value &obj, const std::string &name);
void add_globals(Dict &globals);

}  // namespace hfk::chat
