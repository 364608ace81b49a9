// Objects in JSON Schema: which members a schema lets the grammar generate. An object schema
// that declares no properties holds any members (JSON Schema's default), `additionalProperties`
// true or a schema adds members after the declared ones (keys other than the declared names),
// and declared properties without `additionalProperties` generate those keys only (hfkit's
// documented choice, as llama.cpp/ollama and XGrammar's strict mode; OpenAI's strict mode
// requires `additionalProperties: false` anyway). Sampled documents are validated by Debian's
// python3-jsonschema.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <set>

#include "constrain_test_util.h"
#include "schema_oracle.h"

namespace hfk::constrain {
namespace {

using test::match_kind;

// How many documents have a member whose key is not in `declared`, in an object at `path`
// (a JSON pointer; "" the document itself).
int n_with_other_keys(const std::vector<std::string> &docs, const std::string &path,
                      const std::set<std::string> &declared) {
    int n = 0;
    for (const auto &d : docs) {
        const auto j = nlohmann::json::parse(d);
        const auto &obj = j.at(nlohmann::json::json_pointer(path));
        for (auto it = obj.begin(); it != obj.end(); ++it)
            if (!declared.count(it.key())) {
                ++n;
                break;
            }
    }
    return n;
}

TEST(SchemaObjects, AnObjectWithoutDeclaredPropertiesHoldsAnyMembers) {
    for (const char *s : {R"({"type": "object"})", R"({"type": "object", "properties": {}})",
                          R"({"type": "object", "additionalProperties": true})",
                          R"({"type": ["object", "null"]})"}) {
        EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({})"), 1) << s;
        EXPECT_EQ(
            match_kind(Kind::JsonSchema, s, R"({"a": 1, "b": [true, null], "c": {"d": "x"}})"), 1)
            << s;
        EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a": })"), -1) << s;
        EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"([1])"), -1) << s;
    }
}

TEST(SchemaObjects, AnyObjectAsAPropertySamplesValidateAndHaveMembers) {
    const std::string s = R"({"type": "object", "properties": {"name": {"const": "f"},
        "arguments": {"type": "object"}}, "required": ["name", "arguments"],
        "additionalProperties": false})";
    const auto docs = sample_documents(s, 80, 3);
    ASSERT_GE(docs.size(), 40u);
    EXPECT_EQ(n_invalid(s, docs), 0);
    EXPECT_GE(n_with_other_keys(docs, "/arguments", {}), 10);
}

TEST(SchemaObjects, DeclaredPropertiesWithoutAdditionalPropertiesGenerateOnlyThoseKeys) {
    const char *s = R"({"type": "object", "properties": {"a": {"type": "integer"},
        "b": {"type": "string"}}, "required": ["a"]})";
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a": 1, "b": "x"})"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a": 1, "c": 2})"), -1);
}

TEST(SchemaObjects, AdditionalPropertiesTrueAddsOtherKeysAfterTheDeclaredOnes) {
    const char *s = R"({"type": "object", "properties": {"a": {"type": "integer"},
        "ab": {"type": "string"}}, "required": ["a"], "additionalProperties": true})";
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a": 1})"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a": 1, "ab": "x", "abc": [2], "": {}})"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a": 1, "b": null, "é": 1, "x": 2})"), 1);
    // A declared name is never an additional key (it would repeat or bypass its schema), in
    // any spelling: additional keys are written without escapes.
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a": 1, "a": "x"})"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a": 1, "ab": 2})"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a": 1, "x": 2, "ab": "y"})"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"a": 1, "\u0061": 2})"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"x": 2, "a": 1})"), -1);  // declared first
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"x": 2})"), -1);          // a is required
    // Names beyond ASCII are excluded character by character (classes are code points).
    const char *u = R"({"type": "object", "properties": {"é😀": {"type": "null"}},
        "additionalProperties": true})";
    EXPECT_EQ(match_kind(Kind::JsonSchema, u, R"({"é😀": null, "é": 1, "é😀x": 2, "😀": 3})"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, u, R"({"é😀": null, "é😀": 1})"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, u, R"({"é😀": 1})"), -1);
}

TEST(SchemaObjects, AdditionalPropertiesSchemaBesidePropertiesConstrainsTheOtherValues) {
    const char *s = R"({"type": "object", "properties": {"id": {"type": "integer"}},
        "additionalProperties": {"type": "string", "maxLength": 3}})";
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"id": 7, "x": "abc", "y": ""})"), 1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"x": "abc"})"), 1);  // id is optional
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"id": 7, "x": 1})"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"id": 7, "x": "abcd"})"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"({"id": 7, "id": "abc"})"), -1);
}

TEST(SchemaObjects, AdditionalMembersBesidePropertiesSampleValid) {
    const std::vector<std::pair<std::string, std::set<std::string>>> cases = {
        {R"({"type": "object", "properties": {"k": {"enum": ["a", "b"]}, "kk": {"type": "boolean"},
            "n": {"type": "integer", "minimum": 0, "maximum": 9}}, "required": ["k"],
            "additionalProperties": true})",
         {"k", "kk", "n"}},
        {R"({"type": "object", "properties": {"k": {"type": "null"}},
            "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 99}})",
         {"k"}},
    };
    for (const auto &[s, declared] : cases) {
        const auto docs = sample_documents(s, 80, 7);
        ASSERT_GE(docs.size(), 40u) << s;
        EXPECT_EQ(n_invalid(s, docs), 0) << s;
        EXPECT_GE(n_with_other_keys(docs, "", declared), 10) << s;
    }
}

}  // namespace
}  // namespace hfk::constrain
