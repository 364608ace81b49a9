// hfk_engine_cancel_queued through the C API: what a draining server calls on SIGTERM. Every
// request still waiting ends at once with HFK_E_CANCELLED and no text; the running one goes on
// to its full, unchanged text; the statistics come back to zero.
#include <condition_variable>
#include <mutex>
#include <string>

#include "engine_api_support.h"

namespace {

using namespace hfk_api_test;

// Holds the engine's worker inside the first piece of the running request until released, so
// that the requests submitted meanwhile are certainly queued (max_sequences 1).
struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool entered = false, released = false;
    std::string text;
};

int32_t hold_first_piece(const char *piece, size_t len, void *ud) {
    auto *g = static_cast<Gate *>(ud);
    std::unique_lock lk(g->mu);
    g->text.append(piece, len);
    if (!g->entered) {
        g->entered = true;
        g->cv.notify_all();
        g->cv.wait(lk, [&] { return g->released; });
    }
    return 0;
}

TEST(EngineCancelQueued, EndsTheWaitingRequestsAndLetsTheRunningOneFinish) {
    auto model = load(default_model(), 1);
    ASSERT_TRUE(model);
    std::string expected;
    {
        auto s = session(model.get(), 1);
        expected = generate(s.get(), "Once upon a time", greedy(16));
    }
    hfk_engine_params p;
    HFK_ENGINE_PARAMS_INIT(&p);
    p.max_sequences = 1;
    p.n_threads = 1;
    hfk_engine *engine = nullptr;
    ASSERT_EQ(hfk_engine_create(&engine, model.get(), &p), HFK_OK) << hfk_last_error_message();

    const hfk_gen_params g = greedy(16);
    Gate gate;
    hfk_request_id running = 0;
    ASSERT_EQ(hfk_engine_submit(engine, "Once upon a time", nullptr, 0, &g, hold_first_piece, &gate,
                                &running),
              HFK_OK);
    {
        std::unique_lock lk(gate.mu);
        gate.cv.wait(lk, [&] { return gate.entered; });
    }
    hfk_request_id waiting[3] = {};
    for (hfk_request_id &id : waiting)
        ASSERT_EQ(hfk_engine_submit(engine, "The sky", nullptr, 0, &g, nullptr, nullptr, &id),
                  HFK_OK);
    EXPECT_EQ(stats(engine).queued, 3);

    int32_t n = -1;
    ASSERT_EQ(hfk_engine_cancel_queued(engine, &n), HFK_OK);
    EXPECT_EQ(n, 3);
    EXPECT_EQ(stats(engine).queued, 0);
    for (hfk_request_id id : waiting) {
        char *text = nullptr;
        hfk_engine_result r;
        HFK_ENGINE_RESULT_INIT(&r);
        EXPECT_EQ(hfk_engine_wait(engine, id, &text, &r), HFK_E_CANCELLED);
        EXPECT_EQ(r.stop_reason, HFK_STOP_CANCELLED);
        EXPECT_EQ(r.n_generated_tokens, 0);
        EXPECT_EQ(std::string(text ? text : ""), "");
        hfk_free(text);
    }
    {
        std::lock_guard lk(gate.mu);
        gate.released = true;
    }
    gate.cv.notify_all();
    char *text = nullptr;
    ASSERT_EQ(hfk_engine_wait(engine, running, &text, nullptr), HFK_OK);
    EXPECT_EQ(std::string(text ? text : ""), expected);
    hfk_free(text);
    EXPECT_EQ(gate.text, expected);

    ASSERT_EQ(hfk_engine_cancel_queued(engine, &n), HFK_OK);  // nothing waits: a no-op
    EXPECT_EQ(n, 0);
    const hfk_engine_statistics s = stats(engine);
    EXPECT_EQ(s.running, 0);
    EXPECT_EQ(s.kv_blocks_used, 0);
    EXPECT_EQ(s.cancelled, 3u);
    EXPECT_EQ(s.completed, 1u);
    EXPECT_EQ(hfk_engine_cancel_queued(nullptr, &n), HFK_E_INVALID_ARG);
    EXPECT_EQ(n, 0);
    hfk_engine_free(engine);
}

}  // namespace
