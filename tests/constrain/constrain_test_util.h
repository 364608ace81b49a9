// Shared helpers of the constrained-decoding tests: run a text through a grammar's matcher.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "constrain/constraint.h"
#include "constrain/gbnf_parser.h"
#include "constrain/stack_engine.h"

namespace hfk::constrain::test {

// 1: the whole text matches; 0: a valid prefix but not complete; -1: not even a prefix.
inline int match(StackEngine &e, std::string_view text) {
    StateId s = e.start();
    for (char c : text) {
        s = e.step(s, uint8_t(c));
        if (s == kDeadState) return -1;
    }
    return e.accepting(s) ? 1 : 0;
}

inline int match_gbnf(std::string_view gbnf, std::string_view text) {
    StackEngine e(std::make_shared<const Grammar>(parse_gbnf(gbnf)));
    return match(e, text);
}

inline int match_kind(Kind kind, std::string_view spec, std::string_view text) {
    StackEngine e(compile_constraint(kind, spec));
    return match(e, text);
}

}  // namespace hfk::constrain::test
