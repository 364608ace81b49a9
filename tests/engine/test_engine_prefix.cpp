// The engine's prefix cache over its paged KV pool: a request whose prompt starts with blocks
// another request computed reads them instead of prefilling them, with the same greedy output
// as without them (alone and in a batch, at one and two threads); two requests sharing a prefix
// hold its blocks once; eviction under a small budget never touches a running sequence; cancel
// and finish give every block back. The oracle is always the same request run by itself on a
// fresh engine (no cached block can exist there).
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <string>
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

constexpr int32_t kBlock = 8;  // tokens per KV block in these tests

const char *const kPrefix = hfk_test::kLilyStory;
const std::vector<std::string> kSuffixes = {" they went to the park", " she found a shiny red ball",
                                            " it started to rain", " Max ran away"};

std::vector<int32_t> tokens(const std::string &text, bool special) {
    return hfk_test::aidreams()->tokenizer->encode(text, special);
}

// The prefix then suffix i (ids, so the block arithmetic below is exact).
std::vector<int32_t> prompt(size_t i) {
    std::vector<int32_t> ids = tokens(kPrefix, true);
    const std::vector<int32_t> s = tokens(kSuffixes[i], false);
    ids.insert(ids.end(), s.begin(), s.end());
    return ids;
}

EngineRequest request(const std::vector<int32_t> &ids, int32_t n, bool ignore_eos = false) {
    EngineRequest r;
    r.ids = ids;
    r.options.max_new_tokens = n;
    r.options.ignore_eos = ignore_eos;
    return r;
}

// The request alone on a fresh engine.
EngineResult solo(const EngineRequest &r) {
    Engine e(hfk_test::aidreams(),
             EngineParams{.max_sequences = 1, .n_threads = 1, .block_tokens = kBlock});
    EngineResult out = e.wait(e.submit(r));
    EXPECT_EQ(e.stats().prefix_cache_hits, 0u);
    return out;
}

size_t common_prefix(const std::vector<int32_t> &a, const std::vector<int32_t> &b) {
    return size_t(std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
}

// The tokens a prompt can take from the cache when `earlier` prompts have run: whole blocks of
// its longest common prefix with one of them, but never its last token.
uint64_t expected_hit(const std::vector<int32_t> &ids,
                      const std::vector<std::vector<int32_t>> &earlier) {
    size_t best = 0;
    for (const auto &e : earlier) best = std::max(best, common_prefix(ids, e));
    return uint64_t(std::min(best / kBlock, (ids.size() - 1) / kBlock) * kBlock);
}

void expect_same(const EngineResult &got, const EngineResult &want) {
    EXPECT_EQ(got.status, HFK_OK) << got.error;
    EXPECT_EQ(got.tokens, want.tokens);
    EXPECT_EQ(got.text, want.text);
    EXPECT_EQ(got.stop_reason, want.stop_reason);
}

TEST(EnginePrefix, GreedyOutputIsTheSameWithAndWithoutACachedPrefix) {
    auto lm = hfk_test::aidreams();
    const std::vector<int32_t> warm = tokens(std::string(kPrefix) + " the sun was hot", true);
    ASSERT_GE(tokens(kPrefix, true).size(), size_t(3 * kBlock));  // several shared blocks
    std::vector<EngineResult> want;
    for (size_t i = 0; i < kSuffixes.size(); ++i) want.push_back(solo(request(prompt(i), 20)));
    const EngineResult want_warm = solo(request(warm, 20));

    for (int threads : {1, 2}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        {  // One at a time: each request reads what the earlier ones left in the cache.
            Engine e(
                lm, EngineParams{.max_sequences = 4, .n_threads = threads, .block_tokens = kBlock});
            expect_same(e.wait(e.submit(request(warm, 20))), want_warm);
            EXPECT_EQ(e.stats().prefix_cache_hits, 0u);
            std::vector<std::vector<int32_t>> earlier{warm};
            uint64_t hits = 0;
            for (size_t i = 0; i < kSuffixes.size(); ++i) {
                SCOPED_TRACE("suffix " + std::to_string(i));
                expect_same(e.wait(e.submit(request(prompt(i), 20))), want[i]);
                hits += expected_hit(prompt(i), earlier);
                EXPECT_EQ(e.stats().prefix_cache_hits, hits);
                earlier.push_back(prompt(i));
            }
            // The same prompt again: every full block but the one holding its last token.
            expect_same(e.wait(e.submit(request(warm, 20))), want_warm);
            EXPECT_EQ(e.stats().prefix_cache_hits, hits + (warm.size() - 1) / kBlock * kBlock);
            EXPECT_EQ(e.stats().kv_blocks_used, 0);
        }
        {  // All at once after one warm-up, prompts cut into chunks by a small step budget.
            Engine e(lm, EngineParams{.max_sequences = 8,
                                      .max_batch_tokens = 11,
                                      .n_threads = threads,
                                      .block_tokens = kBlock});
            expect_same(e.wait(e.submit(request(warm, 20))), want_warm);
            std::vector<uint64_t> ids;
            uint64_t least = 0;
            for (size_t i = 0; i < kSuffixes.size(); ++i) {
                ids.push_back(e.submit(request(prompt(i), 20)));
                least += expected_hit(prompt(i), {warm});
            }
            for (size_t i = 0; i < ids.size(); ++i) expect_same(e.wait(ids[i]), want[i]);
            EXPECT_GE(e.stats().prefix_cache_hits, least);
            EXPECT_GT(least, 0u);
            EXPECT_EQ(e.stats().kv_blocks_used, 0);
        }
    }
}

// A request that holds the worker in its first callback (its prompt has been run and its full
// blocks published by then) until the test releases it.
struct Held {
    std::promise<void> started, release;
    std::shared_future<void> go = release.get_future().share();
    bool first = true;
    EngineRequest wrap(EngineRequest r) {
        r.on_piece = [this](std::string_view) {
            if (first) {
                first = false;
                started.set_value();
                go.wait();
            }
            return false;
        };
        return r;
    }
};

TEST(EnginePrefix, TwoRequestsSharingAPrefixHoldItsBlocksOnce) {
    auto lm = hfk_test::aidreams();
    const std::vector<int32_t> a_ids = prompt(0), b_ids = prompt(1);
    const EngineRequest a = request(a_ids, 20, true), b = request(b_ids, 20, true);
    const EngineResult want_a = solo(a), want_b = solo(b);
    Engine e(lm, EngineParams{.max_sequences = 2, .block_tokens = kBlock});
    const int64_t blocks_a = (int64_t(a_ids.size()) + 19 + kBlock - 1) / kBlock;
    const int64_t blocks_b = (int64_t(b_ids.size()) + 19 + kBlock - 1) / kBlock;
    const uint64_t shared = expected_hit(b_ids, {a_ids});
    ASSERT_GE(shared, uint64_t(3 * kBlock));

    Held hold;
    const uint64_t id_a = e.submit(hold.wrap(a));
    hold.started.get_future().wait();
    EXPECT_EQ(e.stats().kv_blocks_used, blocks_a);
    const uint64_t id_b = e.submit(b);  // admitted at once: there is room
    const hfk::EngineStats s = e.stats();
    EXPECT_EQ(s.running, 2);
    EXPECT_EQ(s.prefix_cache_hits, shared);
    EXPECT_EQ(s.kv_blocks_used, blocks_a + blocks_b - int64_t(shared / kBlock));
    hold.release.set_value();
    expect_same(e.wait(id_a), want_a);
    expect_same(e.wait(id_b), want_b);
    const hfk::EngineStats end = e.stats();
    EXPECT_EQ(end.kv_blocks_used, 0);
    // What stays cached: every full block each ran (prompt and reply: 20 ids, the last never
    // run), the shared ones once.
    EXPECT_EQ(end.kv_blocks_cached, int64_t((a_ids.size() + 19) / kBlock +
                                            (b_ids.size() + 19) / kBlock - shared / kBlock));
}

// A budget of 15 blocks: a long request X holds 12 while five short ones (3 blocks each, one
// full prompt block) pass through the other 3 one after another, each evicting the block its
// predecessor left cached. X's output is its solo output; so is every other's.
TEST(EnginePrefix, EvictionUnderASmallBudgetNeverTouchesARunningSequence) {
    auto lm = hfk_test::aidreams();
    const uint64_t bb =
        Engine(lm, EngineParams{.n_ctx = 128, .block_tokens = kBlock}).stats().kv_block_bytes;
    std::vector<int32_t> x_ids = prompt(2);
    x_ids.resize(30);
    const EngineRequest x = request(x_ids, 60, true);  // 30 + 59 tokens: 12 blocks
    std::vector<EngineRequest> shorts;
    for (int32_t k = 0; k < 5; ++k) {
        std::vector<int32_t> ids = tokens(hfk_test::kStoryPrompts[size_t(k + 1)], true);
        ids.resize(12, 3 + k);  // 12 tokens: 3 blocks with 8 new ones
        ids[1] = 100 + k;       // distinct first blocks
        shorts.push_back(request(ids, 8, true));
    }
    const EngineResult want_x = solo(x);
    std::vector<EngineResult> want;
    for (const auto &r : shorts) want.push_back(solo(r));

    Engine e(
        lm,
        EngineParams{
            .max_sequences = 2, .kv_budget_bytes = 15 * bb, .n_ctx = 128, .block_tokens = kBlock});
    ASSERT_EQ(e.stats().kv_blocks_total, 15);
    Held hold;
    const uint64_t id_x = e.submit(hold.wrap(x));
    hold.started.get_future().wait();
    std::vector<uint64_t> ids;
    for (const auto &r : shorts) ids.push_back(e.submit(r));  // one runs, four wait
    EXPECT_EQ(e.stats().queued, 4);
    hold.release.set_value();
    for (size_t k = 0; k < ids.size(); ++k) expect_same(e.wait(ids[k]), want[k]);
    expect_same(e.wait(id_x), want_x);
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
    EXPECT_EQ(e.stats().prefix_cache_hits, 0u);

    // The last short prompt's block survived (free blocks are taken before cached ones); the
    // first one's was evicted. Either way the output is the solo one.
    expect_same(e.wait(e.submit(shorts[4])), want[4]);
    EXPECT_EQ(e.stats().prefix_cache_hits, uint64_t(kBlock));
    expect_same(e.wait(e.submit(shorts[0])), want[0]);
    EXPECT_EQ(e.stats().prefix_cache_hits, uint64_t(kBlock));
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
    EXPECT_LE(e.stats().kv_blocks_cached, 15);
}

// A prompt of whole blocks, run twice: the second run takes all but its last block from the
// cache (that block's last token must be run for the logits).
TEST(EnginePrefix, APromptOfWholeBlocksRunsItsLastBlockAgain) {
    auto lm = hfk_test::aidreams();
    std::vector<int32_t> ids = prompt(3);
    ids.resize(3 * kBlock);
    const EngineResult want = solo(request(ids, 10));
    Engine e(lm, EngineParams{.max_sequences = 2, .block_tokens = kBlock});
    expect_same(e.wait(e.submit(request(ids, 10))), want);
    EXPECT_EQ(e.stats().kv_blocks_cached, 4);  // 24 + 9 ids run: the reply's first block too
    expect_same(e.wait(e.submit(request(ids, 10))), want);
    EXPECT_EQ(e.stats().prefix_cache_hits, uint64_t(2 * kBlock));
    EXPECT_EQ(e.stats().kv_blocks_cached, 4);  // its third and fourth published once only
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
}

TEST(EnginePrefix, CancelAndFinishGiveEveryBlockBackAndKeepTheCacheValid) {
    auto lm = hfk_test::aidreams();
    const std::vector<int32_t> a_ids = prompt(0), b_ids = prompt(1), c_ids = prompt(2);
    Engine e(lm, EngineParams{.max_sequences = 2, .block_tokens = kBlock});
    Held hold;
    const uint64_t id_a = e.submit(hold.wrap(request(a_ids, 12, true)));
    hold.started.get_future().wait();
    const uint64_t id_b = e.submit(request(b_ids, 12));  // running, sharing a's blocks
    const uint64_t id_c = e.submit(request(c_ids, 12));  // queued
    EXPECT_EQ(e.stats().running, 2);
    EXPECT_EQ(e.stats().queued, 1);
    EXPECT_TRUE(e.cancel(id_b));
    EXPECT_TRUE(e.cancel(id_c));
    hold.release.set_value();
    EXPECT_EQ(e.wait(id_b).status, HFK_E_CANCELLED);
    EXPECT_EQ(e.wait(id_c).status, HFK_E_CANCELLED);
    EXPECT_EQ(e.wait(id_a).status, HFK_OK);
    hfk::EngineStats s = e.stats();
    EXPECT_EQ(s.kv_blocks_used, 0);
    // a's prompt and reply (12 ids, the last never run); b never ran a step.
    EXPECT_EQ(s.kv_blocks_cached, int64_t((a_ids.size() + 11) / kBlock));

    // The cached prefix still gives b's solo output.
    const uint64_t before = s.prefix_cache_hits;
    expect_same(e.wait(e.submit(request(b_ids, 12))), solo(request(b_ids, 12)));
    EXPECT_EQ(e.stats().prefix_cache_hits - before, expected_hit(b_ids, {a_ids}));
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
}

}  // namespace
