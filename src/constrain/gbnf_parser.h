// GBNF, llama.cpp's grammar text format, parsed into a byte Grammar.
//
// Supported: rules `name ::= ...` (names of letters, digits, '-' and '_'; the start rule is
// `root`), alternation `|`, sequences, groups `( )`, `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}`,
// string literals "..." and character classes [...] with ranges and `^` negation, `.` (any
// character), `#` comments to the end of the line, and the escapes \n \r \t \\ \" \' \[ \] \-
// \^ \/ \xHH \uHHHH \UHHHHHHHH (code points, written as UTF-8). Rules may span lines; a rule ends
// where the next `name ::=` starts. Not supported: llama.cpp's token references (<[id]>, <name>).
// Left recursion is refused (the message names the rule).
#pragma once

#include <string_view>

#include "constrain/grammar.h"

namespace hfk::constrain {

// Throws hfk::Error(HFK_E_INVALID_ARG) whose message names the line and column of the problem.
Grammar parse_gbnf(std::string_view text, std::string_view root = "root");

}  // namespace hfk::constrain
