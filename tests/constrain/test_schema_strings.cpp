// JSON strings the constraints generate: a \u escape of a UTF-16 surrogate comes only as a
// high-low pair (one character), never alone: RFC 8259 leaves a lone surrogate's meaning
// undefined and strict parsers (nlohmann, serde_json) refuse it. And minLength/maxLength count
// characters, so a pair counts once, as python3-jsonschema counts it.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "constrain_test_util.h"
#include "schema_oracle.h"

namespace hfk::constrain {
namespace {

using test::match_kind;

TEST(SchemaStrings, SurrogateEscapesComeOnlyAsPairs) {
    for (auto [kind, spec] :
         {std::pair{Kind::Json, ""}, {Kind::JsonSchema, R"({"type": "string"})"}}) {
        EXPECT_EQ(match_kind(kind, spec, R"("\ud83d\ude00")"), 1);
        EXPECT_EQ(match_kind(kind, spec, R"("\uD83D\uDE00 \u00e9\uFFFF\u0000")"), 1);
        EXPECT_EQ(match_kind(kind, spec, R"("\ud800")"), -1);
        EXPECT_EQ(match_kind(kind, spec, R"("\ud83dx")"), -1);
        EXPECT_EQ(match_kind(kind, spec, R"("\ud83d\u0041")"), -1);
        EXPECT_EQ(match_kind(kind, spec, R"("\ude00")"), -1);
    }
}

TEST(SchemaStrings, ALengthCountsASurrogatePairAsOneCharacter) {
    const char *s = R"({"type": "string", "minLength": 2, "maxLength": 2})";
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"("\ud83d\ude00")"), -1);
    EXPECT_EQ(match_kind(Kind::JsonSchema, s, R"("a\ud83d\ude00")"), 1);
}

TEST(SchemaStrings, SampledStringsParseStrictlyAndValidate) {
    const std::string s = R"({"type": "array", "minItems": 4, "maxItems": 8,
        "items": {"type": "string", "minLength": 6, "maxLength": 8}})";
    const auto docs = sample_documents(s, 200, 13);
    ASSERT_GE(docs.size(), 100u);
    int escaped = 0;
    for (const auto &d : docs) {
        EXPECT_TRUE(nlohmann::json::accept(d)) << d;
        escaped += d.find("\\u") != std::string::npos;
    }
    EXPECT_GE(escaped, 10);  // the sampler did write \u escapes
    EXPECT_EQ(n_invalid(s, docs), 0);
}

}  // namespace
}  // namespace hfk::constrain
