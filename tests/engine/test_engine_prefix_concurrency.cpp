// The prefix cache with submits, cancels, waits and stats from several threads at once (label
// tsan: CI runs it under ThreadSanitizer): prompts share a long prefix, so requests take, share
// and give back cached blocks while others run; every request that was not cancelled gives its
// solo output, and afterwards no block is held.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "engine_support.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

using hfk::Engine;
using hfk::EngineParams;
using hfk::EngineRequest;
using hfk::EngineResult;

constexpr int32_t kBlock = 8;
constexpr size_t kDistinct = 6;

EngineRequest request(size_t i) {
    const auto &tok = *hfk_test::aidreams()->tokenizer;
    std::vector<int32_t> ids = tok.encode(
        "Once upon a time, there was a little girl named Lily. She loved to play outside with "
        "her dog.",
        true);
    const std::vector<int32_t> s = tok.encode(hfk_test::kStoryPrompts[i % kDistinct], false);
    ids.insert(ids.end(), s.begin(), s.end());
    EngineRequest r;
    r.ids = ids;
    r.options.max_new_tokens = 6 + int32_t(i % 3) * 4;
    return r;
}

TEST(EnginePrefixConcurrency, SharedPrefixesFromSeveralThreadsGiveSoloOutputs) {
    auto lm = hfk_test::aidreams();
    constexpr size_t kThreads = 4, kPerThread = 6;
    std::vector<EngineResult> solo;
    for (size_t i = 0; i < kDistinct * 3; ++i) {
        Engine e(lm, EngineParams{.max_sequences = 1, .n_threads = 1, .block_tokens = kBlock});
        solo.push_back(e.wait(e.submit(request(i))));
    }
    Engine e(lm, EngineParams{.max_sequences = 4,
                              .max_batch_tokens = 16,
                              .n_threads = 2,
                              .max_queued = 64,
                              .block_tokens = kBlock});
    ASSERT_EQ(e.wait(e.submit(request(0))).tokens, solo[0].tokens);  // the prefix is cached
    std::atomic<bool> done{false};
    std::thread watcher([&] {
        while (!done.load()) {
            const hfk::EngineStats s = e.stats();
            EXPECT_LE(s.kv_blocks_used + s.kv_blocks_cached, s.kv_blocks_total);
            std::this_thread::yield();
        }
    });
    const hfk_test::ClientTally tally =
        hfk_test::run_cancelling_clients(e, kThreads, kPerThread, request, solo);
    done = true;
    watcher.join();
    EXPECT_EQ(tally.failures, 0);
    const hfk::EngineStats s = e.stats();
    EXPECT_GT(s.prefix_cache_hits, 0u);
    EXPECT_EQ(s.kv_blocks_used, 0);
    EXPECT_EQ(s.running, 0);
    EXPECT_EQ(s.queued, 0);
    EXPECT_EQ(s.results_pending, 0u);
}

}  // namespace
