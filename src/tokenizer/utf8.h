// UTF-8 helpers shared by the tokenizer: decoding one code point, encoding one, and making any byte
// string valid UTF-8 the way Rust's String::from_utf8_lossy does (one U+FFFD per maximal invalid
// subpart, as the Unicode standard recommends), so that every later stage can assume valid UTF-8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace hfk::utf8 {

// Length in bytes of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not a
// valid sequence (truncated, overlong, surrogate, > U+10FFFF).
size_t valid_len(std::string_view s, size_t i);

// Decodes the code point at s[i] (which must start a valid sequence) and advances i past it.
// On invalid input returns U+FFFD and advances one byte, so loops always terminate.
char32_t next(std::string_view s, size_t &i);

void append(std::string &out, char32_t cp);

// Length of the maximal invalid subpart starting at s[i] (>= 1): the longest prefix of a
// sequence that could still have become valid.
size_t invalid_len(std::string_view s, size_t i);

bool is_valid(std::string_view s);

// from_utf8_lossy: every maximal invalid subpart becomes U+FFFD.
std::string sanitize(std::string_view s);

// Byte length of the UTF-8 sequence introduced by lead byte b (1 for ASCII and stray bytes).
inline size_t seq_len(unsigned char b) {
    return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
}

}  // namespace hfk::utf8
