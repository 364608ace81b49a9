// JSON <-> Value, and Python's json.dumps as transformers' tojson filter calls it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chat/value.h"

namespace hfk::chat {

// Objects keep their key order (ordered_json), as Python's json.loads does.
Value from_json(const nlohmann::ordered_json &j);

struct DumpOptions {
    std::optional<std::string> indent;  // null: one line
    std::string item_sep = ", ";
    std::string key_sep = ": ";
    bool sort_keys = false;
    bool ensure_ascii = false;
};

// json.dumps(v, ...); throws TemplateError for values JSON cannot hold (Undefined, functions).
std::string py_json_dumps(const Value &v, const DumpOptions &opt);

}  // namespace hfk::chat
