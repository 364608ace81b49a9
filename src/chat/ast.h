// The syntax tree of a template: expressions and statements.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace hfk::chat {

struct Expr;
using ExprP = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind {
        Literal,  // value
        Name,     // name
        List,     // args
        Tuple,    // args
        Dict,     // args: key, value, key, value...
        Attr,     // args[0].name
        Index,    // args[0][args[1]]
        Slice,    // args[0][args[1]:args[2]:args[3]] (null parts allowed)
        Call,     // args[0](args[1..], kwargs)
        Filter,   // name(args[0], args[1..], kwargs)
        Test,     // args[0] is [not] name(args[1..], kwargs)
        Neg,      // -args[0]
        Pos,      // +args[0]
        Not,      // not args[0]
        Binary,   // args[0] op args[1]   (+ - * / // % ** ~ == != < <= > >= in "not in")
        And,      // args[0] and args[1]
        Or,       // args[0] or args[1]
        Cond,     // args[0] if args[1] else args[2] (args[2] may be null)
    };
    Kind kind;
    int line = 0;
    std::string name;      // Name, Attr, Filter, Test; the operator for Binary
    Value value;           // Literal
    bool negated = false;  // Test: "is not"
    std::vector<ExprP> args;
    std::vector<std::pair<std::string, ExprP>> kwargs;
    ExprP star_args, star_kwargs;  // Call, Filter, Test: f(..., *star_args, **star_kwargs)
};

struct Stmt;
using StmtP = std::unique_ptr<Stmt>;
using Body = std::vector<StmtP>;

struct MacroParam {
    std::string name;
    ExprP default_value;  // null: required
};

struct Stmt {
    enum class Kind {
        Text,         // text
        Output,       // {{ expr }}
        If,           // branches (cond, body); else_body
        For,          // targets in expr [if cond]: body, else_body
        Set,          // targets (names, or "ns.attr" via attr_owner) = expr
        SetBlock,     // {% set name %}body{% endset %}, optional filter chain in expr
        Macro,        // name(params): body
        CallBlock,    // {% call(params) macro(args) %}body{% endcall %}: expr is the call
        FilterBlock,  // {% filter f %}body{% endfilter %}: expr is the filter over Name "__body"
        Break,
        Continue,
        Block,  // body only (e.g. {% generation %}): rendered in place
        With,   // {% with a = x, ... %}body{% endwith %}: params are the assignments
    };
    Kind kind;
    int line = 0;
    std::string text;
    ExprP expr;  // Output, For iterable, Set value, CallBlock call, FilterBlock filter
    ExprP cond;  // For filter
    std::vector<std::string> targets;  // For / Set names; Set of an attribute: {owner, attr}
    bool attr_target = false;          // Set ns.attr
    bool recursive = false;            // For ... recursive: loop(items) renders a level
    std::vector<std::pair<ExprP, Body>> branches;
    Body body, else_body;
    std::string name;  // Macro
    std::vector<MacroParam> params;
};

struct Program {
    Body body;
};

}  // namespace hfk::chat
