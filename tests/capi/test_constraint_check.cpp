// hfk_constraint_check: a constraint compiled without a model, with the verdict and message a
// generate call gives for the same constraint (so a server can refuse it before answering).
#include <string>

#include "api_support.h"

using namespace hfk_api_test;

namespace {

hfk_status check(int32_t kind, const char *text) {
    return hfk_constraint_check(kind, text);
}

std::string last_error() {
    const char *m = hfk_last_error_message();
    return m ? m : "";
}

// What hfk_session_generate says about the same constraint on the bundled model.
hfk_status generate_with(hfk_session *s, int32_t kind, const char *text, std::string &message) {
    hfk_gen_params p;
    HFK_GEN_PARAMS_INIT(&p);
    p.max_new_tokens = 4;
    p.constraint_kind = kind;
    p.constraint = text;
    const hfk_status st = hfk_session_generate(s, "Once", &p, nullptr, nullptr, nullptr, nullptr);
    message = last_error();
    return st;
}

}  // namespace

TEST(ConstraintCheck, AcceptsEveryKindThatCompiles) {
    EXPECT_EQ(check(HFK_CONSTRAINT_NONE, nullptr), HFK_OK);
    EXPECT_EQ(check(HFK_CONSTRAINT_JSON, nullptr), HFK_OK);
    EXPECT_EQ(check(HFK_CONSTRAINT_JSON_SCHEMA,
                    R"({"type": "object", "properties": {"a": {"enum": [1, 2]}},
                        "required": ["a"], "additionalProperties": false})"),
              HFK_OK)
        << last_error();
    EXPECT_EQ(check(HFK_CONSTRAINT_REGEX, "[a-z]{2}-\\d{3}"), HFK_OK) << last_error();
    EXPECT_EQ(check(HFK_CONSTRAINT_GBNF, "root ::= \"yes\" | \"no\"\n"), HFK_OK) << last_error();
}

TEST(ConstraintCheck, RefusesWhatDoesNotCompileNamingIt) {
    EXPECT_EQ(check(HFK_CONSTRAINT_JSON_SCHEMA, R"({"type": "object", "patternProperties": {}})"),
              HFK_E_INVALID_ARG);
    EXPECT_NE(last_error().find("patternProperties"), std::string::npos) << last_error();
    EXPECT_EQ(check(HFK_CONSTRAINT_JSON_SCHEMA, "{not json"), HFK_E_INVALID_ARG);
    EXPECT_EQ(check(HFK_CONSTRAINT_REGEX, "(ab"), HFK_E_INVALID_ARG);
    EXPECT_EQ(check(HFK_CONSTRAINT_GBNF, "root ::= undefined-rule\n"), HFK_E_INVALID_ARG);
    EXPECT_EQ(check(HFK_CONSTRAINT_GBNF, nullptr), HFK_E_INVALID_ARG);
    EXPECT_EQ(check(99, "x"), HFK_E_INVALID_ARG);
    EXPECT_NE(last_error().find("constraint_kind"), std::string::npos) << last_error();
}

TEST(ConstraintCheck, AgreesWithGenerate) {
    ModelPtr model = load(default_model(), 1);
    ASSERT_TRUE(model);
    SessionPtr s = session(model.get(), 1);
    struct Case {
        int32_t kind;
        const char *text;
    };
    const Case cases[] = {{HFK_CONSTRAINT_JSON_SCHEMA, R"({"type": "string", "maxLength": 3})"},
                          {HFK_CONSTRAINT_JSON_SCHEMA, R"({"not": {}})"},
                          {HFK_CONSTRAINT_REGEX, "a+b"},
                          {HFK_CONSTRAINT_REGEX, "a{3,1}"},
                          {HFK_CONSTRAINT_GBNF, "root ::= [a-z"}};
    for (const Case &c : cases) {
        const hfk_status checked = check(c.kind, c.text);
        const std::string check_message = last_error();
        std::string gen_message;
        const hfk_status generated = generate_with(s.get(), c.kind, c.text, gen_message);
        EXPECT_EQ(checked, generated) << c.text << ": " << gen_message;
        if (checked != HFK_OK) {
            EXPECT_EQ(check_message, gen_message) << c.text;
        }
    }
}
