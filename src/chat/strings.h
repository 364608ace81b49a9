// Python str operations the templates use, on UTF-8 strings (code point aware where it matters).
#pragma once

#include <string>
#include <vector>

namespace hfk::chat {

// str.strip/lstrip/rstrip: `chars` null -> Python's whitespace.
std::string py_strip(const std::string &s, const std::string *chars, bool left, bool right);
// str.split(sep=None, maxsplit=-1)
std::vector<std::string> py_split(const std::string &s, const std::string *sep, long maxsplit);
std::vector<std::string> py_splitlines(const std::string &s);
std::string py_upper(const std::string &s);
std::string py_lower(const std::string &s);
std::string py_title(const std::string &s);
std::string py_capitalize(const std::string &s);
std::string py_replace(const std::string &s, const std::string &from, const std::string &to,
                       long count);
bool py_islower(const std::string &s);
bool py_isupper(const std::string &s);
std::string html_escape(const std::string &s);
std::vector<uint32_t> to_codepoints(const std::string &s);
std::string from_codepoints(const std::vector<uint32_t> &cps);

}  // namespace hfk::chat
