// What the CLI prints about names it did not choose (cache directories, Hub ids, paths, library
// messages): terminal text never carries raw control sequences, and JSON is always valid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace cli {

// `s` with every invalid UTF-8 sequence replaced by U+FFFD (as Python's "replace" does).
std::string valid_utf8(std::string_view s);

// `s` for a terminal: control characters (C0, DEL, C1; ESC included) and invalid UTF-8 bytes
// become visible escapes (\x1b), so a directory name cannot move the cursor or retitle the
// window. Printable UTF-8 passes through.
std::string terminal_safe(std::string_view s);

// `s` as a quoted JSON string: valid UTF-8 (invalid bytes become U+FFFD), controls escaped.
std::string json_string(std::string_view s);

// A number for JSON: "%.7g", or null for NaN and infinities (which JSON cannot hold).
std::string json_number(double d);

}  // namespace cli
