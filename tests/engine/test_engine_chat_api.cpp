// hfk_engine_submit_chat (a chat turn on the engine, as hfk_session_chat runs it on a session)
// and the batch counters of hfk_engine_statistics (sequence_steps, max_batch_sequences), which
// hfkit serve reports in /metrics.
#include <string>
#include <thread>

#include "engine_api_support.h"

namespace {

using namespace hfk_api_test;

EnginePtr make_engine(hfk_model *m) {
    hfk_engine_params p;
    HFK_ENGINE_PARAMS_INIT(&p);
    p.max_sequences = 4;
    p.n_threads = 1;
    hfk_engine *e = nullptr;
    EXPECT_EQ(hfk_engine_create(&e, m, &p), HFK_OK) << hfk_last_error_message();
    return EnginePtr(e);
}

// aidreams260K has no chat template: Q:/A: turns ended by </s> (its EOS), as tests/server uses.
const char *kTemplate =
    "{% for m in messages %}{% if m.role == 'user' %}Q: {{ m.content }}\n"
    "{% else %}A:{{ m.content }}</s>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}A:{% endif %}";
// A template whose turn ends with text of several tokens, which the model writes: only the stop
// string ends the turn.
const char *kTextTerminatorTemplate =
    "{% for m in messages %}{% if m.role == 'user' %}Q: {{ m.content }}\n"
    "{% else %}A:{{ m.content }} Dimensions unfold\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}A:{% endif %}";

struct Outcome {
    hfk_status status;
    std::string text;
    hfk_stop_reason stop_reason;
    int32_t n_prompt, n_generated;
};

Outcome engine_chat(hfk_engine *e, const char *conversation, const char *tpl,
                    const hfk_gen_params &p) {
    hfk_request_id id = 0;
    Outcome o{};
    o.status = hfk_engine_submit_chat(e, conversation, tpl, &p, nullptr, nullptr, &id);
    if (o.status != HFK_OK) return o;
    char *text = nullptr;
    hfk_engine_result r;
    HFK_ENGINE_RESULT_INIT(&r);
    o.status = hfk_engine_wait(e, id, &text, &r);
    o.text = text ? text : "";
    hfk_free(text);
    o.stop_reason = r.stop_reason;
    o.n_prompt = r.n_prompt_tokens;
    o.n_generated = r.n_generated_tokens;
    return o;
}

Outcome session_chat(hfk_session *s, const char *conversation, const char *tpl,
                     const hfk_gen_params &p) {
    hfk_session_reset(s);
    char *text = nullptr;
    hfk_gen_result r;
    HFK_GEN_RESULT_INIT(&r);
    Outcome o{};
    o.status = hfk_session_chat(s, conversation, tpl, &p, nullptr, nullptr, &text, &r);
    o.text = text ? text : "";
    hfk_free(text);
    o.stop_reason = r.stop_reason;
    o.n_prompt = r.n_prompt_tokens;
    o.n_generated = r.n_generated_tokens;
    return o;
}

TEST(EngineChatApi, ATurnEndsAsTheSessionsDoes) {
    auto model = load(default_model(), 1);
    ASSERT_TRUE(model);
    auto engine = make_engine(model.get());
    ASSERT_TRUE(engine);
    auto s = session(model.get(), 1);
    const char *conversations[] = {
        R"([{"role": "user", "content": "Once upon a time"}])",
        R"([{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi"},
            {"role": "user", "content": "The sky"}])",
    };
    hfk_gen_params p = greedy(80);
    p.ignore_eos = 0;  // the turn ends at EOS
    for (const char *tpl : {kTemplate, kTextTerminatorTemplate}) {
        int stopped_at_turn_end = 0;
        for (const char *c : conversations) {
            const Outcome want = session_chat(s.get(), c, tpl, p);
            ASSERT_EQ(want.status, HFK_OK) << hfk_last_error_message();
            const Outcome got = engine_chat(engine.get(), c, tpl, p);
            ASSERT_EQ(got.status, HFK_OK) << hfk_last_error_message();
            EXPECT_EQ(got.text, want.text) << tpl << c;
            EXPECT_EQ(got.stop_reason, want.stop_reason);
            EXPECT_EQ(got.n_prompt, want.n_prompt);
            EXPECT_EQ(got.n_generated, want.n_generated);
            if (want.stop_reason != HFK_STOP_MAX_TOKENS) ++stopped_at_turn_end;
        }
        EXPECT_GT(stopped_at_turn_end, 0) << tpl;  // the turn's end was reached, not max_tokens
    }
}

TEST(EngineChatApi, ErrorsAreThoseOfTheChatTemplate) {
    auto model = load(default_model(), 1);
    ASSERT_TRUE(model);
    auto engine = make_engine(model.get());
    ASSERT_TRUE(engine);
    const hfk_gen_params p = greedy(4);
    hfk_request_id id = 7;
    // aidreams260K has no template of its own.
    EXPECT_EQ(hfk_engine_submit_chat(engine.get(), R"([{"role": "user", "content": "a"}])", nullptr,
                                     &p, nullptr, nullptr, &id),
              HFK_E_NOT_FOUND);
    EXPECT_EQ(id, 0u);
    EXPECT_EQ(
        hfk_engine_submit_chat(engine.get(), "not json", kTemplate, &p, nullptr, nullptr, &id),
        HFK_E_INVALID_ARG);
    EXPECT_EQ(hfk_engine_submit_chat(engine.get(), nullptr, kTemplate, &p, nullptr, nullptr, &id),
              HFK_E_INVALID_ARG);
    EXPECT_EQ(stats(engine.get()).results_pending, 0u);
}

// The first piece of A submits B from the worker thread: A is still running (it has more
// tokens to go), so B's prompt runs in a step beside A's decode.
struct Chain {
    hfk_engine *engine;
    hfk_gen_params params;
    hfk_request_id second = 0;
    hfk_status submit_status = HFK_E_INTERNAL;
};

int32_t submit_second(const char *, size_t, void *ud) {
    auto *c = static_cast<Chain *>(ud);
    if (c->second == 0)
        c->submit_status = hfk_engine_submit(c->engine, "The sky", nullptr, 0, &c->params, nullptr,
                                             nullptr, &c->second);
    return 0;
}

TEST(EngineChatApi, StatsCountTheRequestsOfEachStep) {
    auto model = load(default_model(), 1);
    ASSERT_TRUE(model);
    auto engine = make_engine(model.get());
    ASSERT_TRUE(engine);
    hfk_engine_statistics s0 = stats(engine.get());
    EXPECT_EQ(s0.max_batch_sequences, 0);
    EXPECT_EQ(s0.sequence_steps, 0u);
    Chain chain{engine.get(), greedy(10)};
    hfk_gen_params first = greedy(30);
    first.ignore_eos = 1;
    hfk_request_id a = 0;
    ASSERT_EQ(hfk_engine_submit(engine.get(), "Once upon a time", nullptr, 0, &first, submit_second,
                                &chain, &a),
              HFK_OK);
    EXPECT_EQ(hfk_engine_wait(engine.get(), a, nullptr, nullptr), HFK_OK);
    ASSERT_EQ(chain.submit_status, HFK_OK);
    EXPECT_EQ(hfk_engine_wait(engine.get(), chain.second, nullptr, nullptr), HFK_OK);
    const hfk_engine_statistics s = stats(engine.get());
    EXPECT_EQ(s.max_batch_sequences, 2);
    EXPECT_GT(s.sequence_steps, s.steps);      // some steps ran both
    EXPECT_LE(s.sequence_steps, 2 * s.steps);  // never more than two at once
    // Alone, one request per step.
    hfk_request_id c = 0;
    const hfk_gen_params p = greedy(5);
    ASSERT_EQ(hfk_engine_submit(engine.get(), "Hello", nullptr, 0, &p, nullptr, nullptr, &c),
              HFK_OK);
    EXPECT_EQ(hfk_engine_wait(engine.get(), c, nullptr, nullptr), HFK_OK);
    const hfk_engine_statistics after = stats(engine.get());
    EXPECT_EQ(after.sequence_steps - s.sequence_steps, after.steps - s.steps);
    EXPECT_EQ(after.last_batch_sequences, 1);
}

}  // namespace
