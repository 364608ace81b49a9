// Character classes over Unicode code points, spelled as UTF-8 byte sequences: the grammar and
// the matcher work on bytes, so [a-zé] or [^"] become alternatives of byte-range sequences
// (the construction of RE2 and Rust's utf8-ranges).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "constrain/grammar.h"

namespace hfk::constrain {

using CodepointRanges = std::vector<std::pair<uint32_t, uint32_t>>;  // inclusive

// Sorted, merged, surrogates (U+D800-DFFF) removed; `negate` takes the complement in
// [0, U+10FFFF].
CodepointRanges normalize_ranges(CodepointRanges ranges, bool negate);

// Each result is one sequence of byte sets matching exactly the UTF-8 encodings of a sub-range.
std::vector<std::vector<ByteSet>> utf8_sequences(const CodepointRanges &ranges);

// Appends the UTF-8 encoding of `cp` to `out`.
void append_utf8(std::string &out, uint32_t cp);

}  // namespace hfk::constrain
