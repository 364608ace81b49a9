#include "tokenizer/pattern.h"

#include "tokenizer/json_util.h"

namespace hfk::tok {

Pattern::Pattern(const json &j, const std::string &where) {
    if (!j.is_object())
        bad(where, "pattern must be an object {\"String\": ...} or {\"Regex\": ...}");
    if (has(j, "String")) {
        literal_ = get_string(j, "String", where);
    } else if (has(j, "Regex")) {
        regex_ = std::make_unique<Regex>(get_string(j, "Regex", where), "tokenizer.json: " + where);
    } else {
        bad(where, "pattern must have a 'String' or 'Regex' field");
    }
}

std::string Pattern::replace_all(std::string_view s, std::string_view content) const {
    std::string out;
    size_t prev = 0;
    for_each_match(s, [&](size_t a, size_t b) {
        out.append(s.substr(prev, a - prev));
        out.append(content);
        prev = b;
    });
    if (prev == 0 && out.empty()) return std::string(s);
    out.append(s.substr(prev));
    return out;
}

}  // namespace hfk::tok
