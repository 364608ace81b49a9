// Reading lines with a ceiling: `inspect --file /dev/zero` or `chat < /dev/zero` must stop with
// an error, not grow one line until memory runs out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace cli {

enum class LineStatus { kLine, kEnd, kTooLong };

// Reads one line (without its '\n') into `line`, keeping at most `max_bytes` bytes: kTooLong as
// soon as the line is longer (the rest is not read), kEnd at end of input with nothing read.
LineStatus read_line(std::FILE *in, size_t max_bytes, std::string &line);

// The most bytes a prompt for a context of n_ctx tokens is allowed to have: n_ctx tokens of
// kMaxBytesPerToken each (longer than any token of the vocabularies we know, whitespace runs
// and special tokens included), so anything longer cannot fit and is refused before it is read.
constexpr size_t kMaxBytesPerToken = 64;
size_t max_prompt_bytes(int64_t n_ctx);

}  // namespace cli
