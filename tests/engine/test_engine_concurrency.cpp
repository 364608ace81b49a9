// hfk::Engine from several threads at once (label tsan: CI runs it under ThreadSanitizer):
// concurrent submit, cancel, wait and stats; every greedy request that was not cancelled gives
// its solo output, and afterwards no KV block, running or queued request, or result is left.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine_support.h"
#include "util/error.h"

namespace {

using hfk::Engine;
using hfk::EngineParams;
using hfk::EngineRequest;
using hfk::EngineResult;

// Six distinct prompts, each with three lengths, in turn.
constexpr size_t kDistinct = 6;

EngineRequest greedy(size_t i) {
    return hfk_test::greedy(hfk_test::kStoryPrompts[i % kDistinct], 8 + int32_t(i % 3) * 4);
}

TEST(EngineConcurrency, SubmitCancelWaitFromSeveralThreadsLeavesNothingBehind) {
    auto lm = hfk_test::aidreams();
    constexpr size_t kThreads = 4, kPerThread = 6;
    std::vector<EngineResult> solo;
    {
        Engine e(lm, EngineParams{.max_sequences = 1, .n_threads = 1});
        for (size_t i = 0; i < kDistinct * 3; ++i) solo.push_back(e.wait(e.submit(greedy(i))));
    }
    Engine e(lm, EngineParams{
                     .max_sequences = 4, .max_batch_tokens = 16, .n_threads = 2, .max_queued = 64});
    std::atomic<bool> done{false};
    std::thread watcher([&] {  // stats() while everything moves
        while (!done.load()) {
            const hfk::EngineStats s = e.stats();
            EXPECT_LE(s.kv_blocks_used, s.kv_blocks_total);
            EXPECT_LE(s.running, 4);
            std::this_thread::yield();
        }
    });
    const hfk_test::ClientTally tally =
        hfk_test::run_cancelling_clients(e, kThreads, kPerThread, greedy, solo);
    done = true;
    watcher.join();
    EXPECT_EQ(tally.failures, 0);
    const hfk::EngineStats s = e.stats();
    EXPECT_EQ(s.kv_blocks_used, 0);
    EXPECT_EQ(s.running, 0);
    EXPECT_EQ(s.queued, 0);
    EXPECT_EQ(s.results_pending, 0u);
    EXPECT_EQ(s.completed + s.cancelled, kThreads * kPerThread);
    EXPECT_EQ(s.cancelled, uint64_t(tally.cancelled));
}

// Freeing an engine with requests queued and running cancels them and joins the worker; the
// callbacks of running ones see no call after the destructor returns.
TEST(EngineConcurrency, DestroyingWithWorkInFlightCancelsIt) {
    auto lm = hfk_test::aidreams();
    std::atomic<int> pieces{0}, late{0};
    std::atomic<bool> destroyed{false};
    {
        Engine e(lm, EngineParams{.max_sequences = 2, .max_batch_tokens = 8});
        for (size_t i = 0; i < 6; ++i) {
            EngineRequest r = greedy(i);
            r.options.max_new_tokens = 500;
            r.options.ignore_eos = true;
            r.on_piece = [&](std::string_view) {
                ++pieces;
                if (destroyed.load()) ++late;
                return false;
            };
            e.submit(r);
        }
    }
    destroyed = true;
    EXPECT_EQ(late.load(), 0);
    EXPECT_LT(pieces.load(), 6 * 500);  // cancelled, not run to the end
}

}  // namespace
