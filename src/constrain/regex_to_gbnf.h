// A regular expression (a documented subset) as a GBNF expression; the whole generated text must
// match it (Python's re.fullmatch), so ^ and $ at the ends are accepted and change nothing.
//
// Supported: literal characters; escapes \d \D \w \W \s \S \n \r \t \f \v \0 \xHH \uHHHH and a
// backslash before any punctuation; `.` (any character but \n); classes [...] with ranges,
// negation and \d \w \s (and negations) inside; groups (...), (?:...), (?<name>...),
// (?P<name>...); alternation |; quantifiers * + ? {m} {m,} {m,n}, lazy or possessive suffixes
// accepted (they do not change the set of matches). Not supported (HFK_E_INVALID_ARG naming
// the offset): backreferences, lookaround, anchors or \b inside the expression, inline flags.
// Classes are ASCII (\w is [A-Za-z0-9_], \d is [0-9], \s is [ \t\n\r\f\v]).
#pragma once

#include <string>
#include <string_view>

namespace hfk::constrain {

struct RegexOptions {
    // Inside a JSON string: characters JSON must escape (controls, '"', '\') are written as
    // their escapes in literals and dropped from classes and '.'.
    bool json_string = false;
    // JSON Schema's `pattern` searches (unanchored): without ^ or $ any text may come before or
    // after the match.
    bool search = false;
};

// A GBNF expression (to place on the right of `::=`).
std::string regex_to_gbnf(std::string_view regex, const RegexOptions &opts = {});

}  // namespace hfk::constrain
