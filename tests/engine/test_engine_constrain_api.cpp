// A constraint and logprobs through hfk_engine_submit / hfk_engine_wait: the session's text,
// stop reason and logprobs (hfk_session_last_logprobs), the arrays of hfk_engine_result, and a
// bad constraint's status and message.
#include <cstddef>
#include <string>
#include <vector>

#include "engine_api_support.h"

namespace {

using namespace hfk_api_test;

const char *kSchema =
    R"({"type": "object", "properties": {"mood": {"enum": ["happy", "sad"]},
        "legs": {"type": "integer", "minimum": 0, "maximum": 8}},
        "required": ["mood", "legs"], "additionalProperties": false})";

EnginePtr make_engine(hfk_model *m) {
    hfk_engine_params p;
    HFK_ENGINE_PARAMS_INIT(&p);
    p.max_sequences = 4;
    p.max_batch_tokens = 8;
    p.n_threads = 1;
    hfk_engine *e = nullptr;
    EXPECT_EQ(hfk_engine_create(&e, m, &p), HFK_OK) << hfk_last_error_message();
    return EnginePtr(e);
}

struct Logprobs {
    std::vector<int32_t> ids, top_ids;
    std::vector<float> lps, top_lps;
    int32_t n_top = 0;
};

Logprobs session_logprobs(hfk_session *s) {
    Logprobs out;
    int64_t n = 0;
    EXPECT_EQ(hfk_session_last_logprobs(s, nullptr, nullptr, nullptr, 0, &n, &out.n_top),
              HFK_E_BUFFER_TOO_SMALL);
    n = -n;
    out.lps.resize(size_t(n));
    out.top_ids.resize(size_t(n * out.n_top));
    out.top_lps.resize(size_t(n * out.n_top));
    EXPECT_EQ(hfk_session_last_logprobs(s, out.lps.data(), out.top_ids.data(), out.top_lps.data(),
                                        n, &n, &out.n_top),
              HFK_OK);
    out.ids = last_tokens(s);
    return out;
}

TEST(EngineConstrainApi, AConstrainedRequestWithLogprobsGivesTheSessionsResult) {
    auto model = load(default_model(), 1);
    ASSERT_TRUE(model);
    auto engine = make_engine(model.get());
    ASSERT_TRUE(engine);
    auto s = session(model.get(), 1);
    hfk_gen_params p = greedy(40);
    p.ignore_eos = 0;
    p.constraint_kind = HFK_CONSTRAINT_JSON_SCHEMA;
    p.constraint = kSchema;
    p.logprobs = 1;
    p.top_logprobs = 3;
    const std::string prompt = "Once upon a time";
    const std::string want = generate(s.get(), prompt, p);
    const Logprobs want_lp = session_logprobs(s.get());
    ASSERT_FALSE(want_lp.ids.empty());

    // Alongside an unconstrained request.
    hfk_request_id id = 0, other = 0;
    ASSERT_EQ(
        hfk_engine_submit(engine.get(), prompt.c_str(), nullptr, 0, &p, nullptr, nullptr, &id),
        HFK_OK)
        << hfk_last_error_message();
    const hfk_gen_params plain = greedy(20);
    ASSERT_EQ(hfk_engine_submit(engine.get(), "The little dog", nullptr, 0, &plain, nullptr,
                                nullptr, &other),
              HFK_OK);
    char *text = nullptr;
    hfk_engine_result r;
    HFK_ENGINE_RESULT_INIT(&r);
    ASSERT_EQ(hfk_engine_wait(engine.get(), id, &text, &r), HFK_OK) << hfk_last_error_message();
    EXPECT_EQ(std::string(text), want);
    hfk_free(text);
    EXPECT_EQ(r.stop_reason, HFK_STOP_EOS);  // the object closed: nothing may follow
    ASSERT_EQ(r.n_logprobs, int64_t(want_lp.ids.size()));
    ASSERT_EQ(r.n_top_logprobs, 3);
    EXPECT_GE(r.last_prompt_token, 0);
    for (int64_t i = 0; i < r.n_logprobs; ++i) {
        EXPECT_EQ(r.token_ids[i], want_lp.ids[size_t(i)]);
        // Another kernel path (forward_batch against forward): a few ulp apart.
        EXPECT_NEAR(r.logprobs[i], want_lp.lps[size_t(i)], 1e-5);
        for (int64_t k = 0; k < 3; ++k) {
            EXPECT_EQ(r.top_ids[i * 3 + k], want_lp.top_ids[size_t(i * 3 + k)]);
            EXPECT_NEAR(r.top_logprobs[i * 3 + k], want_lp.top_lps[size_t(i * 3 + k)], 1e-5);
        }
    }
    hfk_free(r.token_ids);
    hfk_free(r.logprobs);
    hfk_free(r.top_ids);
    hfk_free(r.top_logprobs);

    // The unconstrained one asked for no logprobs: none, nothing to free.
    hfk_engine_result q;
    HFK_ENGINE_RESULT_INIT(&q);
    ASSERT_EQ(hfk_engine_wait(engine.get(), other, nullptr, &q), HFK_OK);
    EXPECT_EQ(q.n_logprobs, 0);
    EXPECT_EQ(q.token_ids, nullptr);
    EXPECT_EQ(q.logprobs, nullptr);

    // A caller built against the older, shorter struct gets its fields and no arrays.
    ASSERT_EQ(
        hfk_engine_submit(engine.get(), prompt.c_str(), nullptr, 0, &p, nullptr, nullptr, &id),
        HFK_OK);
    hfk_engine_result old;
    ASSERT_EQ(hfk_engine_result_init(&old, offsetof(hfk_engine_result, n_logprobs)), HFK_OK);
    old.n_logprobs = 77;  // beyond its struct_size: never written
    ASSERT_EQ(hfk_engine_wait(engine.get(), id, nullptr, &old), HFK_OK);
    EXPECT_EQ(old.n_generated_tokens, int32_t(want_lp.ids.size()));
    EXPECT_EQ(old.n_logprobs, 77);
    EXPECT_EQ(stats(engine.get()).kv_blocks_used, 0);
}

TEST(EngineConstrainApi, ABadConstraintIsAStatusAndAMessageAndTheEngineGoesOn) {
    auto model = load(default_model(), 1);
    ASSERT_TRUE(model);
    auto engine = make_engine(model.get());
    ASSERT_TRUE(engine);
    struct Bad {
        int32_t kind;
        const char *text;
    };
    const Bad bad[] = {
        {HFK_CONSTRAINT_JSON_SCHEMA, "{\"type\": \"object\", \"properties\": "},
        {HFK_CONSTRAINT_REGEX, "a(b"},
        {HFK_CONSTRAINT_GBNF, "root ::= nothing"},
        {HFK_CONSTRAINT_GBNF, nullptr},  // needs its text
        {42, "x"},
    };
    for (const Bad &b : bad) {
        hfk_gen_params p = greedy(8);
        p.constraint_kind = b.kind;
        p.constraint = b.text;
        hfk_request_id id = 5;
        EXPECT_EQ(hfk_engine_submit(engine.get(), "Once", nullptr, 0, &p, nullptr, nullptr, &id),
                  HFK_E_INVALID_ARG)
            << (b.text ? b.text : "(null)");
        EXPECT_EQ(id, 0u);
        EXPECT_GT(std::string(hfk_last_error_message()).size(), 0u);
    }
    hfk_gen_params p = greedy(8);
    p.logprobs = 1;
    p.top_logprobs = HFK_MAX_TOP_LOGPROBS + 1;
    hfk_request_id id = 0;
    EXPECT_EQ(hfk_engine_submit(engine.get(), "Once", nullptr, 0, &p, nullptr, nullptr, &id),
              HFK_E_INVALID_ARG);
    EXPECT_NE(std::string(hfk_last_error_message()).find("top_logprobs"), std::string::npos);
    p = greedy(8);
    p.constraint_kind = HFK_CONSTRAINT_REGEX;
    p.constraint = "(yes|no)!";
    ASSERT_EQ(hfk_engine_submit(engine.get(), "Once", nullptr, 0, &p, nullptr, nullptr, &id),
              HFK_OK);
    char *text = nullptr;
    ASSERT_EQ(hfk_engine_wait(engine.get(), id, &text, nullptr), HFK_OK);
    const std::string t = text;
    hfk_free(text);
    auto s = session(model.get(), 1);
    EXPECT_EQ(t, generate(s.get(), "Once", p));
    EXPECT_EQ(t.back(), '!');
}

}  // namespace
