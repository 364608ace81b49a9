// Constrained decoding through the C ABI: the appended hfk_gen_params fields, the new stop
// reason, the statuses of bad constraints, and that a session stays usable after them.
#include <cstring>

#include "../capi/api_support.h"

namespace {

using namespace hfk_api_test;

struct Outcome {
    hfk_status status;
    std::string text;
    hfk_gen_result result;
};

Outcome run(hfk_session *s, int32_t kind, const char *constraint, int32_t max_new_tokens,
            float temperature = 0.0f, uint64_t seed = 0) {
    hfk_gen_params p;
    HFK_GEN_PARAMS_INIT(&p);
    p.max_new_tokens = max_new_tokens;
    p.temperature = temperature;
    p.seed = seed;
    p.constraint_kind = kind;
    p.constraint = constraint;
    Outcome r{};
    HFK_GEN_RESULT_INIT(&r.result);
    EXPECT_EQ(hfk_session_reset(s), HFK_OK);
    char *text = nullptr;
    r.status = hfk_session_generate(s, "", &p, nullptr, nullptr, &text, &r.result);
    r.text = text ? text : "";
    hfk_free(text);
    return r;
}

TEST(ConstrainCapi, DefaultsAreUnconstrained) {
    hfk_gen_params p;
    HFK_GEN_PARAMS_INIT(&p);
    EXPECT_EQ(p.constraint_kind, HFK_CONSTRAINT_NONE);
    EXPECT_EQ(p.constraint, nullptr);
}

TEST(ConstrainCapi, RegexOutputMatchesAndEndsAsEos) {
    auto m = load(default_model());
    auto s = session(m.get(), 1);
    for (uint64_t seed = 0; seed < 20; ++seed) {
        Outcome r = run(s.get(), HFK_CONSTRAINT_REGEX, "(cat|dog)s? [0-9]{2}", 40, 1.0f, seed);
        ASSERT_EQ(r.status, HFK_OK) << hfk_last_error_message();
        EXPECT_EQ(r.result.stop_reason, HFK_STOP_EOS) << r.text;
        const bool ok = (r.text.rfind("cat", 0) == 0 || r.text.rfind("dog", 0) == 0) &&
                        r.text.size() >= 6 && r.text[r.text.size() - 3] == ' ';
        EXPECT_TRUE(ok) << r.text;
    }
}

TEST(ConstrainCapi, CutShortIsConstraintIncompleteNeverComplete) {
    auto m = load(default_model());
    auto s = session(m.get(), 1);
    Outcome r = run(s.get(), HFK_CONSTRAINT_REGEX, "x{30}", 4);
    ASSERT_EQ(r.status, HFK_OK);
    EXPECT_EQ(r.result.stop_reason, HFK_STOP_CONSTRAINT_INCOMPLETE);
    EXPECT_LT(r.text.size(), 30u);
    // Zero tokens: complete only if the empty text is.
    EXPECT_EQ(run(s.get(), HFK_CONSTRAINT_REGEX, "a", 0).result.stop_reason,
              HFK_STOP_CONSTRAINT_INCOMPLETE);
    EXPECT_EQ(run(s.get(), HFK_CONSTRAINT_REGEX, "a?", 0).result.stop_reason, HFK_STOP_MAX_TOKENS);
}

TEST(ConstrainCapi, AnyJsonWithNullTextGivesJsonThatParses) {
    auto m = load(shared_dir() / "models" / "tiny-gpt2");
    auto s = session(m.get(), 1);
    int complete = 0;
    for (uint64_t seed = 0; seed < 10; ++seed) {
        Outcome r = run(s.get(), HFK_CONSTRAINT_JSON, nullptr, 200, 1.0f, seed);
        ASSERT_EQ(r.status, HFK_OK) << hfk_last_error_message();
        if (r.result.stop_reason == HFK_STOP_CONSTRAINT_INCOMPLETE) continue;
        ++complete;
        EXPECT_TRUE(nlohmann::json::accept(r.text)) << r.text;
    }
    EXPECT_GT(complete, 0);
}

TEST(ConstrainCapi, BadConstraintsAreInvalidArgumentWithThePlace) {
    auto m = load(default_model());
    auto s = session(m.get(), 1);
    struct Case {
        int32_t kind;
        const char *text;
        const char *needle;
    } cases[] = {
        {HFK_CONSTRAINT_GBNF, "root ::= \"a\" (", "line 1, column 14"},
        {HFK_CONSTRAINT_JSON_SCHEMA, R"({"type": "object", "properties": {"a": {"not": {}}}})",
         "#/properties/a/not"},
        {HFK_CONSTRAINT_REGEX, "ab(?<=c)", "offset 4"},
        {HFK_CONSTRAINT_REGEX, nullptr, "constraint is NULL"},
        {99, "x", "constraint_kind"},
    };
    for (const auto &c : cases) {
        Outcome r = run(s.get(), c.kind, c.text, 5);
        EXPECT_EQ(r.status, HFK_E_INVALID_ARG) << c.needle;
        EXPECT_NE(std::strstr(hfk_last_error_message(), c.needle), nullptr)
            << hfk_last_error_message();
    }
    Outcome ok = run(s.get(), HFK_CONSTRAINT_REGEX, "ok", 5);
    EXPECT_EQ(ok.status, HFK_OK);
    EXPECT_EQ(ok.text, "ok");
    EXPECT_EQ(ok.result.stop_reason, HFK_STOP_EOS);
}

}  // namespace
