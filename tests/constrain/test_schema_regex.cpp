// The JSON Schema and regex front ends. Regexes are checked against std::regex (ECMAScript
// fullmatch, an independent engine) over generated strings; schemas on hand-picked documents
// (the seeded generation test validates thousands more with python3-jsonschema) and on the
// errors that must name the offending keyword.
#include <gtest/gtest.h>

#include <random>
#include <regex>

#include "constrain/json_schema.h"
#include "constrain/regex_to_gbnf.h"
#include "constrain_test_util.h"
#include "util/error.h"

namespace hfk::constrain::test {
namespace {

TEST(RegexToGbnf, AgreesWithStdRegexOnRandomStrings) {
    const std::vector<std::string> patterns = {
        "a|b",          "ab*c",       "(ab|c)+d?",       "[a-c]{2,3}",
        "x{2,}y",       "[^ab]c",     "\\d+\\.\\d{1,2}", "(a|ab)(c|bcd)",
        "\\w\\s\\W",    "a.c",        "(?:ab)*",         "[\\d\\-x]+",
        "^abc$",        "a{0,2}b{1}", "[.]\\*",          "(a?){3}b",
        "\\x41\\u0042", "([ab]c?)*d", "[a-]+",           "a+?b*?"};
    const std::string alphabet = "abcdxy0123 .*-A_B\n";
    std::mt19937 rng(11);
    for (const auto &p : patterns) {
        StackEngine e(compile_constraint(Kind::Regex, p));
        const std::regex oracle(p, std::regex::ECMAScript);
        int matched = 0;
        for (int k = 0; k < 400; ++k) {
            std::string s;
            size_t len = rng() % 7;
            for (size_t i = 0; i < len; ++i) s += alphabet[rng() % alphabet.size()];
            const bool expect = std::regex_match(s, oracle);
            matched += expect;
            EXPECT_EQ(match(e, s) == 1, expect) << "/" << p << "/ on '" << s << "'";
        }
        (void)matched;
    }
}

TEST(RegexToGbnf, PrefixesOfMatchesAreLivePrefixes) {
    StackEngine e(compile_constraint(Kind::Regex, "\\d{3}-[A-Z]{2}"));
    EXPECT_EQ(match(e, "12"), 0);
    EXPECT_EQ(match(e, "123-A"), 0);
    EXPECT_EQ(match(e, "123-AB"), 1);
    EXPECT_EQ(match(e, "123-ABC"), -1);
    EXPECT_EQ(match(e, "12a"), -1);
}

void expect_error(Kind kind, const std::string &spec, const std::string &needle) {
    try {
        compile_constraint(kind, spec);
        ADD_FAILURE() << "no error for: " << spec;
    } catch (const Error &e) {
        EXPECT_EQ(e.status(), HFK_E_INVALID_ARG) << spec;
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
            << spec << " -> " << e.what();
    }
}

TEST(RegexToGbnf, UnsupportedSyntaxNamesTheOffset) {
    expect_error(Kind::Regex, "(a)\\1", "offset 4: unsupported escape '\\1'");
    expect_error(Kind::Regex, "a(?=b)", "lookaround");
    expect_error(Kind::Regex, "ab)", "unbalanced ')'");
    expect_error(Kind::Regex, "(ab", "unbalanced '('");
    expect_error(Kind::Regex, "a**", "a quantifier after a quantifier");
    expect_error(Kind::Regex, "*a", "nothing to repeat");
    expect_error(Kind::Regex, "[b-a]", "end before its start");
    expect_error(Kind::Regex, "a^b", "anchors");
}

TEST(JsonSchema, ObjectsWithRequiredAndOptionalPropertiesInOrder) {
    const char *s = R"({"type": "object", "properties": {"a": {"type": "integer"},
        "b": {"type": "string"}, "c": {"type": "boolean"}}, "required": ["b"],
        "additionalProperties": false})";
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"b": "x"})"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a": -3, "b": "x", "c": true})"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a":1,"b":"","c":false})"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"b": "x", "c": true})"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a": 1})"), -1);      // b is required
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"c": true, )"), -1);  // b must come first
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"b": 1})"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"b": "x", "d": 1})"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({})"), -1);
}

TEST(JsonSchema, IntegerBoundsAreExact) {
    const char *s = R"({"type": "integer", "minimum": -15, "exclusiveMaximum": 120})";
    StackEngine e(compile_constraint(Kind::JsonSchema, s));
    for (int v = -200; v <= 300; ++v)
        EXPECT_EQ(match(e, std::to_string(v)) == 1, v >= -15 && v < 120) << v;
    EXPECT_EQ(match(e, "007"), -1);
    EXPECT_EQ(match(e, "-0"), -1);
}

TEST(JsonSchema, ArraysEnumsConstAnyOfRefsAndFormats) {
    const char *s = R"({"$defs": {"node": {"type": "object", "properties": {
        "v": {"enum": [1, "two", null]}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"},
        "maxItems": 2}}, "required": ["v"], "additionalProperties": false}},
        "anyOf": [{"$ref": "#/$defs/node"}, {"const": "leaf"}, {"type": ["number", "null"]},
                  {"type": "string", "format": "date"}]})";
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"v": "two", "kids": [{"v": 1}, {"v": null}]})"),
              1);
    EXPECT_EQ(
        match_kind(Kind::JsonSchema, s, R"({"v": 1, "kids": [{"v": 1}, {"v": 1}, {"v": 1}]})"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"("leaf")"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"(null)"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"(-1.5e3)"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"("2024-02-28")"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"("2024-02-30")"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"("2024-13-01")"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"v": 3})"), -1);
}

TEST(JsonSchema, PatternIsASearchInsideAJsonString) {
    // A literal quote is written as its JSON escape; a class never yields one.
    const char *s = R"({"type": "string", "pattern": "^[a-z\"]+\"\\d$"})";
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"("ab\"7")"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"("a\"\"7")"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"("abc")"), -1);
    const char *unanchored = R"({"type": "string", "pattern": "x\\d"})";
    EXPECT_EQ(match_kind(Kind::JsonSchema, unanchored, R"("hello x1 there")"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, unanchored, R"("hello)"), 0);  // needs more
    EXPECT_EQ(match_kind(Kind::JsonSchema, unanchored, R"("hello")"), -1);
}

TEST(JsonSchema, UnsupportedKeywordsNameTheirPointer) {
    expect_error(Kind::JsonSchema,
                 R"({"type": "object", "properties": {"a": {"type": "integer", "multipleOf": 3}}})",
                 "at '#/properties/a/multipleOf'");
    expect_error(Kind::JsonSchema,
                 R"({"type": "array", "items": {"type": "integer"}, "uniqueItems": true})",
                 "'#/uniqueItems'");
    expect_error(Kind::JsonSchema, R"({"$ref": "#/$defs/missing"})", "points to nothing");
    expect_error(Kind::JsonSchema, R"({"type": "string", "format": "hostname"})", "#/format");
    expect_error(Kind::JsonSchema, R"({"type": "integer", "minimum": 5, "maximum": 2})",
                 "no integer");
    expect_error(Kind::JsonSchema, R"({"type": "number", "minimum": -1.5})", "number bounds");
    expect_error(Kind::JsonSchema, R"({"type": "object",)", "not valid JSON (at byte");
    expect_error(Kind::JsonSchema, R"({"type": "string", "pattern": "(a"})", "'#/pattern'");
    expect_error(Kind::JsonSchema, R"(false)", "matches nothing");
}

TEST(JsonValue, AnyJsonValueWithBoundedWhitespace) {
    EXPECT_EQ(match_kind(Kind::Json, "", R"({"a": [1, 2.5e-3, "x\u00e9\n", true, null, {}]})"), 1);
    EXPECT_EQ(match_kind(Kind::Json, "", "[1,]"), -1);
    EXPECT_EQ(match_kind(Kind::Json, "", "01"), -1);
    EXPECT_EQ(match_kind(Kind::Json, "", "\"\x01\""), -1);
    EXPECT_EQ(match_kind(Kind::Json, "", "[1,  2]"), -1);  // one space at most
}

}  // namespace
}  // namespace hfk::constrain::test
