// hfk_engine_* through the public C API (labels capi, tsan: CI also runs it under
// ThreadSanitizer): greedy text equals hfk_session_generate's, from several submitting threads
// at once with cancellations; the callback's rules; the stats back to zero; argument checks.
#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine_api_support.h"

namespace {

using namespace hfk_api_test;

EnginePtr make_engine(hfk_model *m, int32_t max_sequences, int32_t max_batch_tokens) {
    hfk_engine_params p;
    HFK_ENGINE_PARAMS_INIT(&p);
    p.max_sequences = max_sequences;
    p.max_batch_tokens = max_batch_tokens;
    p.n_threads = 2;
    hfk_engine *e = nullptr;
    EXPECT_EQ(hfk_engine_create(&e, m, &p), HFK_OK) << hfk_last_error_message();
    return EnginePtr(e);
}

struct Collected {
    std::string text;
    std::thread::id thread;
};

int32_t collect(const char *piece, size_t len, void *ud) {
    auto *c = static_cast<Collected *>(ud);
    c->text.append(piece, len);
    c->thread = std::this_thread::get_id();
    return 0;
}

const char *kPrompts[] = {"Once upon a time", "The sky",  "Hello",
                          "A dog ran to the", "She said", "In the forest there was"};

TEST(EngineApi, ConcurrentSubmitsGiveTheSessionsGreedyTextAndLeaveNothing) {
    auto model = load(default_model(), 1);
    ASSERT_TRUE(model);
    std::vector<std::string> expected;
    {
        auto s = session(model.get(), 1);
        for (const char *p : kPrompts) {
            hfk_session_reset(s.get());
            expected.push_back(generate(s.get(), p, greedy(20)));
        }
    }
    auto engine = make_engine(model.get(), 4, 12);
    ASSERT_TRUE(engine);
    constexpr int kThreads = 4;
    std::atomic<int> mismatches{0}, cancelled{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            const hfk_gen_params p = greedy(20);
            for (size_t i = 0; i < std::size(kPrompts); ++i) {
                Collected c;
                hfk_request_id id = 0;
                ASSERT_EQ(
                    hfk_engine_submit(engine.get(), kPrompts[i], nullptr, 0, &p, collect, &c, &id),
                    HFK_OK)
                    << hfk_last_error_message();
                const bool cancel = (i + size_t(t)) % 4 == 3;
                if (cancel) {
                    const hfk_status cs = hfk_engine_cancel(engine.get(), id);
                    EXPECT_TRUE(cs == HFK_OK || cs == HFK_E_NOT_FOUND);  // it may have ended
                }
                char *text = nullptr;
                hfk_engine_result r;
                HFK_ENGINE_RESULT_INIT(&r);
                const hfk_status st = hfk_engine_wait(engine.get(), id, &text, &r);
                const std::string got = text ? text : "";
                hfk_free(text);
                if (st == HFK_E_CANCELLED) {
                    ++cancelled;
                    if (!cancel) ++mismatches;
                    EXPECT_EQ(r.stop_reason, HFK_STOP_CANCELLED);
                    continue;
                }
                EXPECT_EQ(st, HFK_OK) << hfk_last_error_message();
                if (got != expected[i] || c.text != got) ++mismatches;
                EXPECT_EQ(r.n_generated_tokens, 20);
                EXPECT_NE(c.thread, std::this_thread::get_id());  // the worker's thread
            }
        });
    for (auto &t : threads) t.join();
    EXPECT_EQ(mismatches.load(), 0);
    const hfk_engine_statistics s = stats(engine.get());
    EXPECT_EQ(s.kv_blocks_used, 0);
    EXPECT_EQ(s.running, 0);
    EXPECT_EQ(s.queued, 0);
    EXPECT_EQ(s.results_pending, 0u);
    EXPECT_EQ(s.completed + s.cancelled, uint64_t(kThreads * std::size(kPrompts)));
    EXPECT_EQ(s.cancelled, uint64_t(cancelled.load()));
    EXPECT_GT(s.kv_blocks_total, 0);
}

struct Reentry {
    explicit Reentry(hfk_engine *e) : engine(e) {}
    hfk_engine *engine;
    hfk_status wait_status = HFK_OK;
    std::once_flag once;
};

int32_t wait_from_callback(const char *, size_t, void *ud) {
    auto *r = static_cast<Reentry *>(ud);
    std::call_once(r->once,
                   [&] { r->wait_status = hfk_engine_wait(r->engine, 1, nullptr, nullptr); });
    return 0;
}

TEST(EngineApi, WaitFromACallbackIsReentrantAndArgumentsAreChecked) {
    auto model = load(default_model(), 1);
    ASSERT_TRUE(model);
    auto engine = make_engine(model.get(), 2, 16);
    ASSERT_TRUE(engine);
    Reentry re(engine.get());
    const hfk_gen_params p = greedy(5);
    hfk_request_id id = 0;
    ASSERT_EQ(hfk_engine_submit(engine.get(), "Once", nullptr, 0, &p, wait_from_callback, &re, &id),
              HFK_OK);
    EXPECT_EQ(id, 1u);
    EXPECT_EQ(hfk_engine_wait(engine.get(), id, nullptr, nullptr), HFK_OK);
    EXPECT_EQ(re.wait_status, HFK_E_REENTRANT);
    EXPECT_EQ(hfk_engine_wait(engine.get(), id, nullptr, nullptr), HFK_E_NOT_FOUND);
    EXPECT_EQ(hfk_engine_cancel(engine.get(), id), HFK_E_NOT_FOUND);

    // Token ids as the prompt give the text's output.
    const hfk_tokenizer *tok = hfk_model_tokenizer(model.get());
    const std::vector<int32_t> ids = tokenize(tok, "Once upon a time", true);
    char *a = nullptr, *b = nullptr;
    ASSERT_EQ(hfk_engine_submit(engine.get(), nullptr, ids.data(), int64_t(ids.size()), &p, nullptr,
                                nullptr, &id),
              HFK_OK);
    ASSERT_EQ(hfk_engine_wait(engine.get(), id, &a, nullptr), HFK_OK);
    ASSERT_EQ(
        hfk_engine_submit(engine.get(), "Once upon a time", nullptr, 0, &p, nullptr, nullptr, &id),
        HFK_OK);
    ASSERT_EQ(hfk_engine_wait(engine.get(), id, &b, nullptr), HFK_OK);
    EXPECT_STREQ(a, b);
    hfk_free(a);
    hfk_free(b);

    EXPECT_EQ(hfk_engine_submit(engine.get(), nullptr, nullptr, 0, &p, nullptr, nullptr, &id),
              HFK_E_INVALID_ARG);
    EXPECT_EQ(id, 0u);
    EXPECT_EQ(hfk_engine_submit(nullptr, "x", nullptr, 0, &p, nullptr, nullptr, &id),
              HFK_E_INVALID_ARG);
    const int32_t bad[] = {1, 1 << 30};
    EXPECT_EQ(hfk_engine_submit(engine.get(), nullptr, bad, 2, &p, nullptr, nullptr, &id),
              HFK_E_INVALID_ARG);
    hfk_gen_params constrained = p;
    constrained.constraint_kind = HFK_CONSTRAINT_JSON_SCHEMA;
    constrained.constraint = "{\"type\": \"object\", \"properties\": ";  // truncated
    EXPECT_EQ(hfk_engine_submit(engine.get(), "x", nullptr, 0, &constrained, nullptr, nullptr, &id),
              HFK_E_INVALID_ARG);
    hfk_engine_params ep;
    HFK_ENGINE_PARAMS_INIT(&ep);
    ep.max_sequences = 0;
    hfk_engine *e = nullptr;
    EXPECT_EQ(hfk_engine_create(&e, model.get(), &ep), HFK_E_INVALID_ARG);
    EXPECT_EQ(e, nullptr);
    HFK_ENGINE_PARAMS_INIT(&ep);
    ep.kv_dtype = 7;
    EXPECT_EQ(hfk_engine_create(&e, model.get(), &ep), HFK_E_INVALID_ARG);
    EXPECT_EQ(e, nullptr);
    EXPECT_NE(std::string(hfk_last_error_message()).find("hfk_engine_params.kv_dtype 7"),
              std::string::npos)
        << hfk_last_error_message();
    // A BF16 pool: half the bytes a block, as the statistics say.
    ep.kv_dtype = HFK_KV_BF16;
    ASSERT_EQ(hfk_engine_create(&e, model.get(), &ep), HFK_OK);
    hfk_engine_statistics half, full;
    HFK_ENGINE_STATISTICS_INIT(&half);
    HFK_ENGINE_STATISTICS_INIT(&full);
    ASSERT_EQ(hfk_engine_stats(e, &half), HFK_OK);
    ASSERT_EQ(hfk_engine_stats(engine.get(), &full), HFK_OK);
    EXPECT_EQ(half.kv_block_bytes * 2, full.kv_block_bytes);
    // A caller built before kv_dtype (a struct that ends before it) gets F32.
    hfk_engine_params old = ep;
    old.struct_size = offsetof(hfk_engine_params, kv_dtype);
    hfk_engine *e_old = nullptr;
    ASSERT_EQ(hfk_engine_create(&e_old, model.get(), &old), HFK_OK);
    hfk_engine_statistics st_old;
    HFK_ENGINE_STATISTICS_INIT(&st_old);
    ASSERT_EQ(hfk_engine_stats(e_old, &st_old), HFK_OK);
    EXPECT_EQ(st_old.kv_block_bytes, full.kv_block_bytes);
    hfk_engine_free(e_old);
    ASSERT_EQ(hfk_engine_submit(e, "Once upon a time", nullptr, 0, &p, nullptr, nullptr, &id),
              HFK_OK);
    EXPECT_EQ(hfk_engine_wait(e, id, nullptr, nullptr), HFK_OK);
    hfk_engine_free(e);
    e = nullptr;
    hfk_engine_statistics st{};
    EXPECT_EQ(hfk_engine_stats(engine.get(), &st), HFK_E_INVALID_ARG);  // not initialised
    hfk_engine_free(nullptr);
}

TEST(EngineApi, Gpt2HasNoBatchedForward) {
    auto model = load(shared_dir() / "models/tiny-gpt2", 1);
    ASSERT_TRUE(model);
    hfk_engine *e = nullptr;
    EXPECT_EQ(hfk_engine_create(&e, model.get(), nullptr), HFK_E_UNSUPPORTED);
    EXPECT_EQ(e, nullptr);
}

}  // namespace
