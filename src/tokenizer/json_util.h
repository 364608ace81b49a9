// Typed access to untrusted tokenizer.json fields: every mismatch is an HFK_E_FORMAT error that
// names the field. `where` is a path such as "normalizer.normalizers[1]".
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "util/error.h"

namespace hfk::tok {

using json = nlohmann::json;

[[noreturn]] inline void bad(const std::string &where, const std::string &what) {
    fail(HFK_E_FORMAT, "tokenizer.json: " + where + ": " + what);
}

inline const json &field(const json &j, const char *key, const std::string &where) {
    if (!j.is_object()) bad(where, "expected an object");
    auto it = j.find(key);
    if (it == j.end()) bad(where, std::string("missing field '") + key + "'");
    return *it;
}

inline bool has(const json &j, const char *key) {
    if (!j.is_object()) return false;
    auto it = j.find(key);
    return it != j.end() && !it->is_null();
}

inline std::string get_string(const json &j, const char *key, const std::string &where) {
    const json &v = field(j, key, where);
    if (!v.is_string()) bad(where + "." + key, "expected a string");
    return v.get<std::string>();
}

inline std::string opt_string(const json &j, const char *key, const std::string &where,
                              const std::string &def) {
    if (!has(j, key)) return def;
    const json &v = j.at(key);
    if (!v.is_string()) bad(where + "." + key, "expected a string");
    return v.get<std::string>();
}

inline bool opt_bool(const json &j, const char *key, const std::string &where, bool def) {
    if (!has(j, key)) return def;
    const json &v = j.at(key);
    if (!v.is_boolean()) bad(where + "." + key, "expected a boolean");
    return v.get<bool>();
}

inline int64_t opt_int(const json &j, const char *key, const std::string &where, int64_t def) {
    if (!has(j, key)) return def;
    const json &v = j.at(key);
    if (!v.is_number_integer()) bad(where + "." + key, "expected an integer");
    return v.get<int64_t>();
}

inline std::string type_of(const json &j, const std::string &where) {
    return get_string(j, "type", where);
}

}  // namespace hfk::tok
