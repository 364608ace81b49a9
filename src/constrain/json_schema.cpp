#include "constrain/json_schema.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "constrain/regex_to_gbnf.h"
#include "constrain/utf8_ranges.h"
#include "util/error.h"

namespace hfk::constrain {
namespace {

using json = nlohmann::ordered_json;

const char *kBaseRules = R"(space ::= "" | " "
json-char ::= [^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" json-u4)
json-u4 ::= [0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} | [dD] [89abAB] [0-9a-fA-F]{2} "\\u" [dD] [c-fC-F] [0-9a-fA-F]{2}
json-string ::= "\"" json-char* "\""
json-int ::= "-"? ("0" | [1-9] [0-9]{0,15})
json-number ::= json-int ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,2})?
json-bool ::= "true" | "false"
json-null ::= "null"
json-value ::= json-object | json-array | json-string | json-number | json-bool | json-null
json-object ::= "{" space (json-string space ":" space json-value space ("," space json-string space ":" space json-value space)*)? "}"
json-array ::= "[" space (json-value space ("," space json-value space)*)? "]"
)";

// A GBNF string literal whose bytes are `text`.
std::string gbnf_literal(const std::string &text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    return out + "\"";
}

std::string digits_class(char lo, char hi) {
    if (lo == hi) return std::string("\"") + lo + "\"";
    return std::string("[") + lo + "-" + hi + "]";
}

// Numbers with the same number of digits, a <= b (strings of equal length).
std::string same_length_range(const std::string &a, const std::string &b) {
    if (a.size() == 1) return digits_class(a[0], b[0]);
    if (a[0] == b[0])
        return std::string("\"") + a[0] + "\" (" + same_length_range(a.substr(1), b.substr(1)) +
               ")";
    const std::string zeros(a.size() - 1, '0'), nines(a.size() - 1, '9');
    std::vector<std::string> alts;
    char lo_first = a[0], hi_first = b[0];
    if (a.substr(1) != zeros) {
        alts.push_back(std::string("\"") + a[0] + "\" (" + same_length_range(a.substr(1), nines) +
                       ")");
        ++lo_first;
    }
    const bool hi_full = b.substr(1) == nines;
    if (!hi_full) --hi_first;
    if (lo_first <= hi_first)
        alts.push_back(digits_class(lo_first, hi_first) + " [0-9]{" + std::to_string(a.size() - 1) +
                       "}");
    if (!hi_full)
        alts.push_back(std::string("\"") + b[0] + "\" (" + same_length_range(zeros, b.substr(1)) +
                       ")");
    std::string out;
    for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + ("(" + alts[i] + ")");
    return out;
}

// Decimal integers in [lo, hi], 0 <= lo <= hi, without leading zeros.
std::string natural_range(int64_t lo, int64_t hi) {
    std::vector<std::string> alts;
    for (int64_t start = lo; start <= hi;) {
        const std::string s = std::to_string(start);
        int64_t top = 9;
        for (size_t k = 1; k < s.size(); ++k) top = top * 10 + 9;
        const int64_t end = std::min(hi, top);
        alts.push_back("(" + same_length_range(s, std::to_string(end)) + ")");
        if (end == hi) break;
        start = end + 1;
    }
    std::string out;
    for (size_t i = 0; i < alts.size(); ++i) out += (i ? " | " : "") + alts[i];
    return out;
}

constexpr int64_t kMaxMagnitude = 9999999999999999;  // 16 digits

class SchemaCompiler {
  public:
    explicit SchemaCompiler(const json &root) : root_(root) {}

    std::string compile() {
        std::string top = visit(root_, "root-value", "");
        out_ += "root ::= space " + top + " space\n";
        return out_ + kBaseRules;
    }

  private:
    [[noreturn]] static void unsupported(const std::string &ptr, const std::string &what) {
        fail(HFK_E_INVALID_ARG,
             "json schema: at '" + (ptr.empty() ? std::string("#") : "#" + ptr) + "': " + what);
    }

    // `hint` as the letters and digits a rule name may hold.
    static std::string rule_stem(const std::string &hint) {
        std::string name;
        for (char c : hint)
            name += ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
                        ? c
                        : '-';
        return name.empty() ? "r" : name;
    }

    std::string new_rule(const std::string &hint, const std::string &body) {
        const std::string name = "s-" + rule_stem(hint) + "-" + std::to_string(counter_++);
        out_ += name + " ::= " + body + "\n";
        if (out_.size() > (16u << 20))
            fail(HFK_E_INVALID_ARG, "json schema: the grammar is too large");
        return name;
    }

    const json &resolve_ref(const std::string &ref, const std::string &ptr) {
        if (ref == "#") return root_;
        if (ref.rfind("#/", 0) != 0)
            unsupported(ptr, "only local $ref (#/...) is supported: " + ref);
        try {
            return root_.at(json::json_pointer(ref.substr(1)));
        } catch (const std::exception &) {
            unsupported(ptr, "$ref '" + ref + "' points to nothing");
        }
    }

    std::string visit(const json &s, const std::string &hint, const std::string &ptr) {
        if (++depth_ > 200) unsupported(ptr, "the schema is nested too deeply");
        std::string r = visit_inner(s, hint, ptr);
        --depth_;
        return r;
    }

    std::string visit_inner(const json &s, const std::string &hint, const std::string &ptr) {
        if (s.is_boolean()) {
            if (!s.get<bool>()) unsupported(ptr, "the schema 'false' matches nothing");
            return "json-value";
        }
        if (!s.is_object()) unsupported(ptr, "a schema must be an object or a boolean");
        static const std::set<std::string> kIgnored = {
            "title", "description", "default",    "examples", "$schema",   "$id",    "$comment",
            "$defs", "definitions", "deprecated", "readOnly", "writeOnly", "strict", "name"};
        static const std::set<std::string> kKnown = {"type",
                                                     "nullable",
                                                     "properties",
                                                     "required",
                                                     "additionalProperties",
                                                     "items",
                                                     "prefixItems",
                                                     "minItems",
                                                     "maxItems",
                                                     "enum",
                                                     "const",
                                                     "anyOf",
                                                     "oneOf",
                                                     "allOf",
                                                     "$ref",
                                                     "minLength",
                                                     "maxLength",
                                                     "pattern",
                                                     "format",
                                                     "minimum",
                                                     "maximum",
                                                     "exclusiveMinimum",
                                                     "exclusiveMaximum"};
        for (auto it = s.begin(); it != s.end(); ++it)
            if (!kIgnored.count(it.key()) && !kKnown.count(it.key()))
                unsupported(ptr + "/" + it.key(),
                            "the keyword '" + it.key() + "' is not supported");

        if (s.contains("$ref")) {
            if (s.size() > 1) {
                for (auto it = s.begin(); it != s.end(); ++it)
                    if (it.key() != "$ref" && !kIgnored.count(it.key()))
                        unsupported(ptr, "keywords beside $ref are not supported");
            }
            if (!s["$ref"].is_string()) unsupported(ptr + "/$ref", "must be a string");
            const std::string ref = s["$ref"].get<std::string>();
            auto it = refs_.find(ref);
            if (it != refs_.end()) return it->second;
            // The rule name is taken before the body is built, so recursion refers to it.
            std::string name = "ref-" + std::to_string(counter_++);
            refs_[ref] = name;
            const json &target = resolve_ref(ref, ptr + "/$ref");
            std::string body = visit(target, ref, ref.substr(1));
            out_ += name + " ::= " + body + "\n";
            return name;
        }
        if (s.contains("const")) return gbnf_literal(s["const"].dump());
        if (s.contains("enum")) {
            const json &e = s["enum"];
            if (!e.is_array() || e.empty()) unsupported(ptr + "/enum", "must be a non-empty array");
            std::string body;
            for (size_t i = 0; i < e.size(); ++i)
                body += (i ? " | " : "") + gbnf_literal(e[i].dump());
            return new_rule(hint, body);
        }
        for (const char *k : {"anyOf", "oneOf"})
            if (s.contains(k)) {
                const json &list = s[k];
                if (!list.is_array() || list.empty())
                    unsupported(ptr + "/" + k, "must be a non-empty array");
                if (std::string(k) == "oneOf") check_one_of(s, ptr);
                std::string body;
                for (size_t i = 0; i < list.size(); ++i)
                    body += (i ? " | " : "") + visit(merged(s, list[i], k), hint,
                                                     ptr + "/" + k + "/" + std::to_string(i));
                return new_rule(hint, body);
            }
        if (s.contains("allOf")) {
            const json &list = s["allOf"];
            if (!list.is_array() || list.size() != 1)
                unsupported(ptr + "/allOf", "only allOf with a single schema is supported");
            return visit(merged(s, list[0], "allOf"), hint, ptr + "/allOf/0");
        }

        std::vector<std::string> types;
        if (s.contains("type")) {
            const json &t = s["type"];
            if (t.is_string()) {
                types.push_back(t.get<std::string>());
            } else if (t.is_array()) {
                for (const auto &x : t) {
                    if (!x.is_string()) unsupported(ptr + "/type", "must hold type names");
                    types.push_back(x.get<std::string>());
                }
            } else {
                unsupported(ptr + "/type", "must be a string or an array");
            }
        } else if (s.contains("properties") || s.contains("additionalProperties")) {
            types.push_back("object");
        } else if (s.contains("items") || s.contains("prefixItems")) {
            types.push_back("array");
        } else if (s.contains("pattern") || s.contains("format") || s.contains("minLength") ||
                   s.contains("maxLength")) {
            types.push_back("string");
        } else if (s.contains("minimum") || s.contains("maximum")) {
            types.push_back("number");
        } else {
            return "json-value";
        }
        if (s.value("nullable", false)) types.push_back("null");
        std::string body;
        for (size_t i = 0; i < types.size(); ++i)
            body += (i ? " | " : "") + typed(s, types[i], hint, ptr);
        return types.size() == 1 ? body : new_rule(hint, body);
    }

    // oneOf: a value must match exactly one branch. The grammar is the union of the branches
    // (each of which only produces values its branch accepts), so it is exact iff no value
    // can match two branches, which is proven here from what the branches say by JSON Schema's
    // own semantics (not from the grammar: {"minLength": 3} generates strings but accepts
    // every number). Two branches are disjoint when the JSON types they accept do not meet,
    // when both are finite sets of values (const, enum) with no value in common, or when
    // objects are all they share and a property both require is disjoint in the same sense (a
    // discriminator such as {"kind": {"const": "a"}} against {"const": "b"}). Anything else is
    // refused.
    static constexpr unsigned kNull = 1, kBool = 2, kObject = 4, kArray = 8, kString = 16;
    static constexpr unsigned kNumber = 32;  // integer and number meet: 1.0 is an integer
    static constexpr unsigned kAnyType = 63;

    static unsigned type_of_value(const json &v) {
        if (v.is_null()) return kNull;
        if (v.is_boolean()) return kBool;
        if (v.is_object()) return kObject;
        if (v.is_array()) return kArray;
        if (v.is_string()) return kString;
        return kNumber;
    }

    // The schema behind local $refs (what visit() compiles; depth-limited against cycles).
    const json &deref(const json &s, const std::string &ptr) {
        const json *p = &s;
        for (int k = 0; k < 64 && p->is_object() && p->contains("$ref") && (*p)["$ref"].is_string();
             ++k)
            p = &resolve_ref((*p)["$ref"].get<std::string>(), ptr);
        return *p;
    }

    // A superset of the types of the values `s` accepts.
    unsigned accepted_types(const json &s0, const std::string &ptr, int depth) {
        if (depth > 64) return kAnyType;
        const json &s = deref(s0, ptr);
        if (s.is_boolean()) return s.get<bool>() ? kAnyType : 0;
        if (!s.is_object()) return kAnyType;
        unsigned t = kAnyType;
        if (s.contains("type")) {
            unsigned listed = 0;
            const json &ty = s["type"];
            for (const json &x : ty.is_array() ? ty : json::array({ty})) {
                const std::string n = x.is_string() ? x.get<std::string>() : "";
                listed |= n == "null"                         ? kNull
                          : n == "boolean"                    ? kBool
                          : n == "object"                     ? kObject
                          : n == "array"                      ? kArray
                          : n == "string"                     ? kString
                          : (n == "integer" || n == "number") ? kNumber
                                                              : kAnyType;
            }
            if (s.value("nullable", false)) listed |= kNull;
            t &= listed;
        }
        if (auto v = accepted_values(s, ptr)) {
            unsigned listed = 0;
            for (const json &x : *v) listed |= type_of_value(x);
            t &= listed;
        }
        for (const char *k : {"anyOf", "oneOf"})
            if (s.contains(k) && s[k].is_array()) {
                unsigned any = 0;
                for (const json &b : s[k]) any |= accepted_types(b, ptr, depth + 1);
                t &= any;
            }
        if (s.contains("allOf") && s["allOf"].is_array())
            for (const json &b : s["allOf"]) t &= accepted_types(b, ptr, depth + 1);
        return t;
    }

    // The values `s` accepts when they are a finite list (const, enum), else nothing.
    std::optional<std::vector<json>> accepted_values(const json &s0, const std::string &ptr) {
        const json &s = deref(s0, ptr);
        if (!s.is_object()) return std::nullopt;
        if (s.contains("const")) return std::vector<json>{s["const"]};
        if (s.contains("enum") && s["enum"].is_array())
            return std::vector<json>(s["enum"].begin(), s["enum"].end());
        return std::nullopt;
    }

    static bool values_meet(const std::vector<json> &a, const std::vector<json> &b) {
        for (const json &x : a)
            for (const json &y : b)
                if (x == y) return true;  // nlohmann compares numbers by value: 1 == 1.0
        return false;
    }

    bool disjoint(const json &a0, const json &b0, const std::string &ptr, int depth = 0) {
        if (depth > 16) return false;
        const unsigned common = accepted_types(a0, ptr, 0) & accepted_types(b0, ptr, 0);
        if (common == 0) return true;
        const auto va = accepted_values(a0, ptr), vb = accepted_values(b0, ptr);
        if (va && vb) return !values_meet(*va, *vb);
        if (common != kObject) return false;
        const json &a = deref(a0, ptr), &b = deref(b0, ptr);
        auto required = [](const json &s, const std::string &key) {
            if (!s.contains("required") || !s["required"].is_array()) return false;
            for (const json &r : s["required"])
                if (r == key) return true;
            return false;
        };
        if (!a.contains("properties") || !a["properties"].is_object() ||
            !b.contains("properties") || !b["properties"].is_object())
            return false;
        for (auto it = a["properties"].begin(); it != a["properties"].end(); ++it) {
            if (!required(a, it.key()) || !required(b, it.key()) ||
                !b["properties"].contains(it.key()))
                continue;
            if (disjoint(it.value(), b["properties"][it.key()], ptr, depth + 1)) return true;
        }
        return false;
    }

    void check_one_of(const json &s, const std::string &ptr) {
        const json &list = s["oneOf"];
        if (!list.is_array()) return;  // refused by the caller
        for (size_t i = 0; i < list.size(); ++i)
            for (size_t j = i + 1; j < list.size(); ++j)
                if (!disjoint(merged(s, list[i], "oneOf"), merged(s, list[j], "oneOf"), ptr))
                    fail(HFK_E_UNSUPPORTED,
                         "json schema: at '#" + ptr + "/oneOf': branches " + std::to_string(i) +
                             " and " + std::to_string(j) +
                             " may both match a value, and oneOf can only be compiled exactly "
                             "when no value can match two branches (different types, different "
                             "const/enum values, or objects with a required property whose "
                             "const/enum values differ); use anyOf if a value may match both");
    }

    // `s` without the combinator `key`, merged with `branch` (sibling keywords apply to each).
    static json merged(const json &s, const json &branch, const char *key) {
        json out = s;
        out.erase(key);
        bool only_annotations = true;
        for (auto it = out.begin(); it != out.end(); ++it)
            if (it.key() != "title" && it.key() != "description" && it.key() != "$defs" &&
                it.key() != "definitions" && it.key() != "$schema")
                only_annotations = false;
        if (only_annotations || !branch.is_object()) return branch;
        for (auto it = branch.begin(); it != branch.end(); ++it) out[it.key()] = it.value();
        return out;
    }

    std::string typed(const json &s, const std::string &type, const std::string &hint,
                      const std::string &ptr) {
        if (type == "null") return "json-null";
        if (type == "boolean") return "json-bool";
        if (type == "string") return string_rule(s, hint, ptr);
        if (type == "integer") return integer_rule(s, hint, ptr);
        if (type == "number") return number_rule(s, hint, ptr);
        if (type == "object") return object_rule(s, hint, ptr);
        if (type == "array") return array_rule(s, hint, ptr);
        unsupported(ptr + "/type", "unknown type '" + type + "'");
    }

    static int64_t count(const json &s, const char *key, int64_t dflt, const std::string &ptr) {
        if (!s.contains(key)) return dflt;
        const json &v = s[key];
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 10000)
            unsupported(ptr + "/" + key, "must be an integer in [0, 10000]");
        return v.get<int64_t>();
    }

    std::string string_rule(const json &s, const std::string &hint, const std::string &ptr) {
        if (s.contains("pattern")) {
            if (s.contains("format") || s.contains("minLength") || s.contains("maxLength"))
                unsupported(ptr, "pattern together with format or min/maxLength is not supported");
            if (!s["pattern"].is_string()) unsupported(ptr + "/pattern", "must be a string");
            RegexOptions o;
            o.json_string = true;
            o.search = true;
            std::string re;
            try {
                re = regex_to_gbnf(s["pattern"].get<std::string>(), o);
            } catch (const Error &e) {
                unsupported(ptr + "/pattern", e.what());
            }
            return new_rule(hint, "\"\\\"\" " + re + " \"\\\"\"");
        }
        if (s.contains("format")) {
            if (s.contains("minLength") || s.contains("maxLength"))
                unsupported(ptr, "format together with min/maxLength is not supported");
            const std::string f = s["format"].is_string() ? s["format"].get<std::string>() : "";
            std::string body;
            const std::string date =
                R"([0-9]{4} "-" (("0" [13578] | "1" [02]) "-" ("0" [1-9] | [12] [0-9] | "3" [01]) | ("0" [469] | "11") "-" ("0" [1-9] | [12] [0-9] | "30") | "02" "-" ("0" [1-9] | "1" [0-9] | "2" [0-8])))";
            const std::string time =
                R"(([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,6})? ("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9]))";
            if (f == "date")
                body = date;
            else if (f == "time")
                body = time;
            else if (f == "date-time")
                body = "(" + date + ") \"T\" (" + time + ")";
            else if (f == "uuid")
                body =
                    "[0-9a-f]{8} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" [0-9a-f]{4} \"-\" "
                    "[0-9a-f]{12}";
            else if (f == "email")
                body =
                    "[a-zA-Z0-9._%+-]{1,64} \"@\" [a-zA-Z0-9] [a-zA-Z0-9-]{0,62} (\".\" "
                    "[a-zA-Z0-9] [a-zA-Z0-9-]{0,62}){0,3} \".\" [a-zA-Z]{2,6}";
            else
                unsupported(ptr + "/format", "the format '" + f + "' is not supported");
            return new_rule(hint, "\"\\\"\" (" + body + ") \"\\\"\"");
        }
        const int64_t lo = count(s, "minLength", 0, ptr);
        const int64_t hi = count(s, "maxLength", -1, ptr);
        if (hi >= 0 && hi < lo) unsupported(ptr, "maxLength < minLength");
        if (lo == 0 && hi < 0) return "json-string";
        return new_rule(hint, "\"\\\"\" json-char{" + std::to_string(lo) + "," +
                                  (hi >= 0 ? std::to_string(hi) : "") + "} \"\\\"\"");
    }

    static bool bound(const json &s, const char *key, double &v, const std::string &ptr) {
        if (!s.contains(key)) return false;
        if (!s[key].is_number()) unsupported(ptr + "/" + key, "must be a number");
        v = s[key].get<double>();
        if (!std::isfinite(v)) unsupported(ptr + "/" + key, "must be finite");
        return true;
    }

    std::string integer_rule(const json &s, const std::string &hint, const std::string &ptr) {
        double v = 0;
        double lo = -double(kMaxMagnitude), hi = double(kMaxMagnitude);
        bool any = false;
        if (bound(s, "minimum", v, ptr)) lo = std::max(lo, std::ceil(v)), any = true;
        if (bound(s, "exclusiveMinimum", v, ptr)) lo = std::max(lo, std::floor(v) + 1), any = true;
        if (bound(s, "maximum", v, ptr)) hi = std::min(hi, std::floor(v)), any = true;
        if (bound(s, "exclusiveMaximum", v, ptr)) hi = std::min(hi, std::ceil(v) - 1), any = true;
        if (!any) return "json-int";
        if (lo > hi) unsupported(ptr, "no integer satisfies the bounds");
        if (lo < -double(kMaxMagnitude) || hi > double(kMaxMagnitude))
            unsupported(ptr, "integer bounds beyond 16 digits are not supported");
        const int64_t a = int64_t(lo), b = int64_t(hi);
        std::vector<std::string> alts;
        if (a < 0) alts.push_back("\"-\" (" + natural_range(std::max<int64_t>(-b, 1), -a) + ")");
        if (b >= 0) alts.push_back(natural_range(std::max<int64_t>(a, 0), b));
        std::string body;
        for (size_t i = 0; i < alts.size(); ++i) body += (i ? " | " : "") + ("(" + alts[i] + ")");
        return new_rule(hint, body);
    }

    std::string number_rule(const json &s, const std::string &hint, const std::string &ptr) {
        double lo = 0, hi = 0;
        const bool has_lo = bound(s, "minimum", lo, ptr), has_hi = bound(s, "maximum", hi, ptr);
        if (s.contains("exclusiveMinimum") || s.contains("exclusiveMaximum"))
            unsupported(ptr, "exclusive bounds on a number are not supported (use integer)");
        if (!has_lo && !has_hi) return "json-number";
        if (!has_lo || lo < 0 || lo != std::floor(lo) || (has_hi && hi != std::floor(hi)))
            unsupported(ptr,
                        "number bounds are supported only as an integral minimum >= 0 and "
                        "an optional integral maximum");
        if (has_hi && hi < lo) unsupported(ptr, "maximum < minimum");
        if (!has_hi) hi = double(kMaxMagnitude);
        if (hi > double(kMaxMagnitude)) unsupported(ptr, "bounds beyond 16 digits");
        // lo <= int.frac < hi, or exactly hi (an optional all-zero fraction).
        std::string body;
        if (hi > lo)
            body = "(" + natural_range(int64_t(lo), int64_t(hi) - 1) + ") (\".\" [0-9]{1,16})? | ";
        body += "\"" + std::to_string(int64_t(hi)) + "\" (\".\" \"0\"{1,16})?";
        return new_rule(hint, body);
    }

    // A JSON string key that is none of `names`. It is written without escapes, so that its
    // text is its value and excluding the names is exact: the complement of the names' trie,
    // one rule per node (a name with a character JSON must escape can never be written so).
    std::string other_key_rule(const std::vector<std::string> &names, const std::string &hint) {
        struct Node {
            bool is_name = false;
            std::map<uint32_t, size_t> next;  // code point -> node
            std::string rule;
        };
        std::vector<Node> trie(1);
        for (const auto &name : names) {
            std::vector<uint32_t> cps;
            if (!plain_code_points(name, cps)) continue;
            size_t at = 0;
            for (uint32_t cp : cps) {
                auto it = trie[at].next.find(cp);
                if (it == trie[at].next.end()) {
                    it = trie[at].next.emplace(cp, trie.size()).first;
                    trie.emplace_back();
                }
                at = it->second;
            }
            trie[at].is_name = true;
        }
        // Names first (a node's rule refers to its children's), then the bodies; no recursion,
        // so a long name cannot exhaust the stack.
        for (Node &node : trie)
            node.rule = "s-" + rule_stem(hint + "-key") + "-" + std::to_string(counter_++);
        const std::string plain = "[^\"\\\\\\x00-\\x1F";
        for (const Node &node : trie) {
            std::string body = node.is_name ? "" : "\"\" | ";
            std::string others = plain;
            for (const auto &[cp, child] : node.next) {
                std::string ch;
                append_utf8(ch, cp);
                body += gbnf_literal(ch) + " " + trie[child].rule + " | ";
                char buf[16];
                std::snprintf(buf, sizeof buf, "\\U%08X", unsigned(cp));
                others += buf;
            }
            out_ += node.rule + " ::= " + body + others + "] " + plain + "]*\n";
            if (out_.size() > (16u << 20))
                fail(HFK_E_INVALID_ARG, "json schema: the grammar is too large");
        }
        return "\"\\\"\" " + trie[0].rule + " \"\\\"\"";
    }

    // The code points of `s` (valid UTF-8, as the JSON parser guarantees), false when one of
    // them must be escaped in a JSON string.
    static bool plain_code_points(const std::string &s, std::vector<uint32_t> &out) {
        for (size_t i = 0; i < s.size();) {
            const auto b = uint8_t(s[i]);
            const int len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
            uint32_t cp = len == 1 ? b : b & (0x3Fu >> (len - 1));
            for (int k = 1; k < len && i + size_t(k) < s.size(); ++k)
                cp = (cp << 6) | (uint8_t(s[i + size_t(k)]) & 0x3Fu);
            if (cp < 0x20 || cp == '"' || cp == '\\') return false;
            out.push_back(cp);
            i += size_t(len);
        }
        return true;
    }

    std::string object_rule(const json &s, const std::string &hint, const std::string &ptr) {
        std::set<std::string> required;
        if (s.contains("required")) {
            if (!s["required"].is_array()) unsupported(ptr + "/required", "must be an array");
            for (const auto &r : s["required"]) {
                if (!r.is_string()) unsupported(ptr + "/required", "must hold strings");
                required.insert(r.get<std::string>());
            }
        }
        const json props = s.contains("properties") ? s["properties"] : json::object();
        if (!props.is_object()) unsupported(ptr + "/properties", "must be an object");
        for (const auto &r : required)
            if (!props.contains(r))
                unsupported(ptr + "/required", "'" + r + "' is required but not in properties");
        // The members besides the declared ones: JSON Schema allows any unless
        // additionalProperties says otherwise; hfkit generates them only when the schema asks
        // for them (see the header: declared properties alone mean those keys only).
        std::string extra_value;  // empty: no other members
        if (s.contains("additionalProperties")) {
            const json &ap = s["additionalProperties"];
            if (!ap.is_boolean())
                extra_value = visit(ap, hint + "-value", ptr + "/additionalProperties");
            else if (ap.get<bool>())
                extra_value = "json-value";
        } else if (props.empty()) {
            extra_value = "json-value";
        }
        if (props.empty()) {
            if (extra_value.empty()) return new_rule(hint, "\"{\" space \"}\"");
            if (extra_value == "json-value") return "json-object";
            std::string kv = "json-string space \":\" space " + extra_value + " space";
            return new_rule(hint, "\"{\" space (" + kv + " (\",\" space " + kv + ")*)? \"}\"");
        }
        // Declared order; per position k, "first" (nothing written yet) and "rest" (a comma
        // before each) rules.
        std::vector<std::string> names, kvs;
        std::vector<bool> req;
        for (auto it = props.begin(); it != props.end(); ++it) {
            names.push_back(it.key());
            req.push_back(required.count(it.key()) != 0);
        }
        for (size_t k = 0; k < names.size(); ++k) {
            std::string v =
                visit(props[names[k]], hint + "-" + names[k], ptr + "/properties/" + names[k]);
            kvs.push_back(gbnf_literal(json(names[k]).dump()) + " space \":\" space " + v +
                          " space");
        }
        const size_t n = names.size();
        std::vector<std::string> rest(n + 1), first(n + 1);
        rest[n] = first[n] = "\"\"";
        if (!extra_value.empty()) {
            // Other members come after the declared ones, under keys that are none of the
            // declared names (a declared name there would repeat it or bypass its schema).
            const std::string kv =
                other_key_rule(names, hint) + " space \":\" space " + extra_value + " space";
            rest[n] = new_rule(hint + "-other", "(\",\" space " + kv + ")*");
            first[n] = new_rule(hint + "-other-first", "(" + kv + " " + rest[n] + ")?");
        }
        for (size_t k = n; k-- > 0;) {
            std::string r = req[k] ? "\",\" space " + kvs[k] + " " + rest[k + 1]
                                   : "(\",\" space " + kvs[k] + ")? " + rest[k + 1];
            rest[k] = new_rule(hint + "-rest", r);
            std::string f = req[k] ? kvs[k] + " " + rest[k + 1]
                                   : kvs[k] + " " + rest[k + 1] + " | " + first[k + 1];
            first[k] = new_rule(hint + "-first", f);
        }
        return new_rule(hint, "\"{\" space " + first[0] + " \"}\"");
    }

    std::string array_rule(const json &s, const std::string &hint, const std::string &ptr) {
        int64_t lo = count(s, "minItems", 0, ptr);
        int64_t hi = count(s, "maxItems", -1, ptr);
        if (hi >= 0 && hi < lo) unsupported(ptr, "maxItems < minItems");
        if (s.contains("prefixItems")) {
            const json &p = s["prefixItems"];
            if (!p.is_array()) unsupported(ptr + "/prefixItems", "must be an array");
            if (!(s.contains("items") && s["items"].is_boolean() && !s["items"].get<bool>()))
                unsupported(ptr + "/prefixItems", "supported only with \"items\": false");
            if (lo > int64_t(p.size()) || (hi >= 0 && hi < int64_t(p.size())))
                unsupported(ptr, "minItems/maxItems with prefixItems are not supported");
            std::string body = "\"[\" space";
            for (size_t i = 0; i < p.size(); ++i)
                body += std::string(i ? " \",\" space " : " ") +
                        visit(p[i], hint + "-item", ptr + "/prefixItems/" + std::to_string(i)) +
                        " space";
            return new_rule(hint, body + " \"]\"");
        }
        std::string item = s.contains("items") ? visit(s["items"], hint + "-item", ptr + "/items")
                                               : std::string("json-value");
        std::string more = "(\",\" space " + item + " space)";
        std::string body;
        auto reps = [&](int64_t a, int64_t b) {
            return "{" + std::to_string(a) + "," + (b >= 0 ? std::to_string(b) : "") + "}";
        };
        if (lo == 0) {
            if (hi == 0) return new_rule(hint, "\"[\" space \"]\"");
            body = "\"[\" space (" + item + " space " + more + reps(0, hi < 0 ? -1 : hi - 1) +
                   ")? \"]\"";
        } else {
            body = "\"[\" space " + item + " space " + more + reps(lo - 1, hi < 0 ? -1 : hi - 1) +
                   " \"]\"";
        }
        return new_rule(hint, body);
    }

    const json &root_;
    std::string out_;
    std::map<std::string, std::string> refs_;
    int counter_ = 0;
    int depth_ = 0;
};

}  // namespace

std::string json_value_gbnf() {
    return std::string("root ::= space json-value space\n") + kBaseRules;
}

std::string json_schema_to_gbnf(std::string_view schema_json) {
    nlohmann::ordered_json doc;
    try {
        doc = nlohmann::ordered_json::parse(schema_json);
    } catch (const nlohmann::json::parse_error &e) {
        fail(HFK_E_INVALID_ARG,
             std::string("json schema: not valid JSON (at byte ") + std::to_string(e.byte) + ")");
    }
    return SchemaCompiler(doc).compile();
}

}  // namespace hfk::constrain
