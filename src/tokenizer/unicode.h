// Character classes with the exact meaning the Rust tokenizers library gives them (Rust's char
// methods and the unicode_categories crate), answered by utf8proc's tables.
#pragma once

#include <string>
#include <string_view>

namespace hfk::tok::uni {

bool is_whitespace(char32_t c);        // Rust char::is_whitespace (the White_Space property)
bool is_alphanumeric(char32_t c);      // Rust char::is_alphanumeric (letters and numbers)
bool is_numeric(char32_t c);           // Rust char::is_numeric (Nd, Nl, No)
bool is_punctuation(char32_t c);       // unicode_categories is_punctuation (P*)
bool is_bert_punctuation(char32_t c);  // ASCII punctuation or P*
bool is_mark_nonspacing(char32_t c);   // Mn
bool is_cjk(char32_t c);               // the BERT "Chinese character" ranges

// Rust str::to_lowercase applied character by character (no final-sigma context rule).
void append_lowercase(std::string &out, char32_t c);

enum class Form { NFC, NFD, NFKC, NFKD };
std::string normalize(std::string_view s, Form form);

}  // namespace hfk::tok::uni
