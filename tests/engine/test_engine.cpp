// hfk::Engine: outputs independent of the batch, streaming, stops, the KV budget and its queue.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine_support.h"
#include "runtime/session.h"
#include "util/error.h"

namespace {

using hfk_test::status_of;

using hfk::Engine;
using hfk::EngineParams;
using hfk::EngineRequest;
using hfk::EngineResult;

const std::vector<std::string> &kPrompts = hfk_test::kStoryPrompts;
using hfk_test::greedy;

// A session's greedy continuation of n tokens after `prompt`, from the start (reset).
struct SessionRun {
    std::string text;
    std::vector<int32_t> tokens;
};
SessionRun session_greedy(hfk::Session &s, const std::string &prompt, int32_t n) {
    hfk::GenerateOptions o;
    o.max_new_tokens = n;
    SessionRun run;
    hfk::GenerateResult res;
    std::atomic<bool> cancel{false};
    s.reset();
    s.generate(prompt, o, {}, cancel, run.text, res);
    run.tokens = res.tokens;
    return run;
}

TEST(Engine, GreedyOutputIsTheSameAloneAmongSevenAndAsASession) {
    auto lm = hfk_test::aidreams();
    std::vector<EngineResult> alone;
    {
        Engine e(lm, EngineParams{.max_sequences = 1, .n_threads = 1});
        for (const auto &p : kPrompts) alone.push_back(e.wait(e.submit(greedy(p, 24))));
    }
    for (int threads : {1, 2}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        // A small step budget: prompts are cut into chunks while others decode.
        Engine e(lm,
                 EngineParams{.max_sequences = 8, .max_batch_tokens = 11, .n_threads = threads});
        std::vector<uint64_t> ids;
        for (const auto &p : kPrompts) ids.push_back(e.submit(greedy(p, 24)));
        for (size_t i = 0; i < ids.size(); ++i) {
            const EngineResult r = e.wait(ids[i]);
            EXPECT_EQ(r.status, HFK_OK);
            EXPECT_EQ(r.tokens, alone[i].tokens) << kPrompts[i];
            EXPECT_EQ(r.text, alone[i].text);
            EXPECT_EQ(r.stop_reason, alone[i].stop_reason);
        }
        EXPECT_GT(e.stats().steps, 0u);
    }
    // A session (forward(), sgemm prefill) is a separate implementation of the same function:
    // on this model its greedy text is the same.
    hfk::Session s(lm, 0, 1);
    for (size_t i = 0; i < kPrompts.size(); ++i) {
        const SessionRun run = session_greedy(s, kPrompts[i], 24);
        EXPECT_EQ(run.text, alone[i].text) << kPrompts[i];
        EXPECT_EQ(run.tokens, alone[i].tokens);
    }
}

TEST(Engine, SeededSamplingIsTheSameAloneAndAmongOthers) {
    auto lm = hfk_test::aidreams();
    EngineRequest q = greedy(kPrompts[2], 20);
    q.options.sampler.temperature = 0.9f;
    q.options.sampler.top_p = 0.95f;
    q.options.sampler.seed = 1234;
    EngineResult alone;
    {
        Engine e(lm, EngineParams{.max_sequences = 1, .n_threads = 1});
        alone = e.wait(e.submit(q));
    }
    Engine e(lm, EngineParams{.max_sequences = 4, .max_batch_tokens = 8, .n_threads = 2});
    std::vector<uint64_t> others;
    for (int i = 0; i < 3; ++i) {
        EngineRequest o = greedy(kPrompts[size_t(i + 4)], 12);
        o.options.sampler.temperature = 1.0f;
        o.options.sampler.seed = uint64_t(i);
        others.push_back(e.submit(o));
    }
    const EngineResult got = e.wait(e.submit(q));
    EXPECT_EQ(got.tokens, alone.tokens);
    EXPECT_EQ(got.text, alone.text);
    for (uint64_t id : others) EXPECT_EQ(e.wait(id).status, HFK_OK);
}

TEST(Engine, StreamsPiecesStopsOnAStringAndOnTheCallback) {
    auto lm = hfk_test::aidreams();
    Engine e(lm, EngineParams{.max_sequences = 2});
    const EngineResult full = e.wait(e.submit(greedy(kPrompts[0], 30)));
    ASSERT_EQ(full.stop_reason, HFK_STOP_MAX_TOKENS);
    ASSERT_EQ(full.n_generated_tokens, 30);

    std::string streamed;
    EngineRequest r = greedy(kPrompts[0], 30);
    r.on_piece = [&](std::string_view p) {
        streamed += p;
        return false;
    };
    const EngineResult again = e.wait(e.submit(r));
    EXPECT_EQ(streamed, full.text);

    // A stop string taken from the middle of the greedy text ends the output right before it.
    ASSERT_GT(full.text.size(), 12u);
    const std::string stop = full.text.substr(8, 4);
    EngineRequest s = greedy(kPrompts[0], 30);
    s.options.stop_strings = {stop};
    const EngineResult stopped = e.wait(e.submit(s));
    EXPECT_EQ(stopped.stop_reason, HFK_STOP_STRING);
    EXPECT_EQ(stopped.text, full.text.substr(0, full.text.find(stop)));

    int calls = 0;
    EngineRequest c = greedy(kPrompts[0], 30);
    c.on_piece = [&](std::string_view) { return ++calls == 2; };
    const EngineResult by_cb = e.wait(e.submit(c));
    EXPECT_EQ(by_cb.stop_reason, HFK_STOP_CALLBACK);
    EXPECT_EQ(calls, 2);
    EXPECT_LT(by_cb.n_generated_tokens, 30);
}

TEST(Engine, RefusesWhatCannotRunBeforeQueueing) {
    auto lm = hfk_test::aidreams();
    Engine e(lm, EngineParams{.max_sequences = 2, .kv_budget_bytes = 0, .n_ctx = 64});
    EngineRequest big;
    big.ids.assign(65, 1);
    EXPECT_EQ(status_of([&] { e.submit(big); }), HFK_E_CONTEXT_FULL);
    EngineRequest bad;
    bad.ids = {1, 100000};
    EXPECT_EQ(status_of([&] { e.submit(bad); }), HFK_E_INVALID_ARG);
    EngineRequest neg = greedy("x", -1);
    EXPECT_EQ(status_of([&] { e.submit(neg); }), HFK_E_INVALID_ARG);
    EngineRequest constrained = greedy("x", 4);
    constrained.options.constraint_kind = 1;
    constrained.options.constraint_text = "root ::= \"a";  // unterminated: does not compile
    EXPECT_EQ(status_of([&] { e.submit(constrained); }), HFK_E_INVALID_ARG);
    EXPECT_EQ(status_of([&] { e.wait(12345); }), HFK_E_NOT_FOUND);
    EXPECT_EQ(e.stats().kv_blocks_used, 0);

    // A budget of 2 blocks of 16 tokens: a request that may need 3 can never run.
    const uint64_t bb = e.stats().kv_block_bytes;
    Engine small(lm, EngineParams{.max_sequences = 2, .kv_budget_bytes = 2 * bb, .n_ctx = 64});
    EXPECT_EQ(small.stats().kv_blocks_total, 2);
    EXPECT_EQ(status_of([&] { small.submit(greedy("Once", 40)); }), HFK_E_RESOURCE);
    EXPECT_EQ(small.wait(small.submit(greedy("Once", 8))).status, HFK_OK);
}

TEST(Engine, BadParamsAndGpt2AreRefused) {
    auto lm = hfk_test::aidreams();
    EXPECT_EQ(status_of([&] { Engine e(lm, EngineParams{.max_sequences = 0}); }),
              HFK_E_INVALID_ARG);
    EXPECT_EQ(
        status_of([&] { Engine e(lm, EngineParams{.max_sequences = 4, .max_batch_tokens = 3}); }),
        HFK_E_INVALID_ARG);
    EXPECT_EQ(status_of([&] { Engine e(lm, EngineParams{.kv_budget_bytes = 1}); }),
              HFK_E_INVALID_ARG);
    EXPECT_EQ(status_of([&] { Engine e(lm, EngineParams{.kv_type = hfk::DType::I8}); }),
              HFK_E_INVALID_ARG);
    auto gpt2 = hfk::LoadedModel::load(hfk_test::shared_models_dir() / "tiny-gpt2", {}, {});
    EXPECT_EQ(status_of([&] { Engine e(gpt2, EngineParams{}); }), HFK_E_UNSUPPORTED);
}

// A 16-bit pool: a block takes half the bytes (the same budget holds twice the blocks), and the
// greedy text is a session's with a cache of the same type, alone and among others.
TEST(Engine, A16BitPoolHoldsTwiceTheTokensAndGivesTheSessionsText) {
    auto lm = hfk_test::aidreams();
    for (hfk::DType t : {hfk::DType::BF16, hfk::DType::F16}) {
        SCOPED_TRACE(hfk::dtype_name(t));
        const uint64_t budget = 256 << 10;  // 8 F32 blocks: not every request runs at once
        Engine f32(lm, EngineParams{.kv_budget_bytes = budget, .n_threads = 1});
        Engine e(lm, EngineParams{.max_sequences = 8,
                                  .max_batch_tokens = 11,
                                  .kv_budget_bytes = budget,
                                  .n_threads = 2,
                                  .kv_type = t});
        EXPECT_EQ(e.stats().kv_block_bytes * 2, f32.stats().kv_block_bytes);
        EXPECT_EQ(e.stats().kv_blocks_total, 2 * f32.stats().kv_blocks_total);
        std::vector<uint64_t> ids;
        for (const auto &p : kPrompts) ids.push_back(e.submit(greedy(p, 24)));
        hfk::Session s(lm, 0, 1, t);
        for (size_t i = 0; i < ids.size(); ++i) {
            const EngineResult r = e.wait(ids[i]);
            ASSERT_EQ(r.status, HFK_OK);
            const SessionRun run = session_greedy(s, kPrompts[i], 24);
            EXPECT_EQ(r.text, run.text) << kPrompts[i];
            EXPECT_EQ(r.tokens, run.tokens);
        }
    }
}

// The pool: with room for one request's blocks, the second waits in the queue (not running),
// a third is refused busy, and everything comes back when the first ends.
TEST(Engine, AFullPoolQueuesThenRefusesBusyAndNothingLeaks) {
    auto lm = hfk_test::aidreams();
    const uint64_t bb = Engine(lm, EngineParams{.n_ctx = 64}).stats().kv_block_bytes;
    // Prompt + 30 new tokens < 48: three blocks of 16 each; the budget holds three.
    Engine e(lm, EngineParams{
                     .max_sequences = 4, .kv_budget_bytes = 3 * bb, .max_queued = 1, .n_ctx = 64});
    std::promise<void> started, release;
    std::shared_future<void> go = release.get_future().share();
    bool first = true;
    EngineRequest a = greedy(kPrompts[0], 30);
    a.options.ignore_eos = true;
    a.on_piece = [&](std::string_view) {
        if (first) {
            first = false;
            started.set_value();
            go.wait();  // holds the worker (and A's blocks) until the test says so
        }
        return false;
    };
    const uint64_t id_a = e.submit(a);
    started.get_future().wait();
    EXPECT_EQ(e.stats().running, 1);
    EXPECT_EQ(e.stats().kv_blocks_used, 3);

    const uint64_t id_b = e.submit(greedy(kPrompts[1], 30));
    EXPECT_EQ(e.stats().queued, 1);
    EXPECT_EQ(e.stats().running, 1);
    EXPECT_EQ(status_of([&] { e.submit(greedy(kPrompts[2], 30)); }), HFK_E_BUSY);
    EXPECT_TRUE(e.cancel(id_b));
    const EngineResult b = e.wait(id_b);
    EXPECT_EQ(b.status, HFK_E_CANCELLED);
    EXPECT_EQ(b.stop_reason, HFK_STOP_CANCELLED);
    EXPECT_EQ(b.n_generated_tokens, 0);
    EXPECT_FALSE(e.cancel(id_b));
    const uint64_t id_c = e.submit(greedy(kPrompts[2], 30));
    release.set_value();

    const EngineResult ra = e.wait(id_a);
    EXPECT_EQ(ra.status, HFK_OK);
    EXPECT_EQ(ra.n_generated_tokens, 30);
    EXPECT_EQ(e.wait(id_c).status, HFK_OK);
    const hfk::EngineStats s = e.stats();
    EXPECT_EQ(s.running, 0);
    EXPECT_EQ(s.queued, 0);
    EXPECT_EQ(s.kv_blocks_used, 0);
    EXPECT_EQ(s.results_pending, 0u);
    EXPECT_EQ(s.cancelled, 1u);
}

// Cancelling a running request stops it at a step boundary with its partial text.
TEST(Engine, CancelARunningRequestKeepsItsPartialText) {
    auto lm = hfk_test::aidreams();
    Engine e(lm, EngineParams{.max_sequences = 2});
    std::atomic<uint64_t> id{0};
    std::promise<void> got_id;
    std::shared_future<void> known = got_id.get_future().share();
    int pieces = 0;
    EngineRequest r = greedy(kPrompts[3], 200);
    r.options.ignore_eos = true;
    r.on_piece = [&](std::string_view) {
        if (++pieces == 3) {
            known.wait();
            e.cancel(id.load());  // from the callback itself: allowed
        }
        return false;
    };
    id = e.submit(r);
    got_id.set_value();
    const EngineResult res = e.wait(id);
    EXPECT_EQ(res.status, HFK_E_CANCELLED);
    EXPECT_EQ(res.stop_reason, HFK_STOP_CANCELLED);
    EXPECT_GE(pieces, 3);
    EXPECT_LT(res.n_generated_tokens, 200);
    EXPECT_FALSE(res.text.empty());
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
}

}  // namespace
