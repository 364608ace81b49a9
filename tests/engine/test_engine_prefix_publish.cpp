// The engine publishes a finished request's generated blocks to the prefix cache (as vLLM
// caches decode blocks): a follow-up whose prompt extends the conversation (the previous prompt,
// then the reply, then new text: a chat's next turn) reads the reply's blocks instead of
// prefilling them, with the same output bits as on a fresh engine. Only whole blocks every
// position of which has been run are published (the last generated id is sampled, never run),
// nothing beyond the prompt when the request was cancelled or failed, and published blocks are
// evicted like prompt ones when the pool needs them. The oracle is always the same request run
// by itself on a fresh engine (no cached block can exist there).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <future>
#include <stdexcept>
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

const char *const kTurn1 = hfk_test::kLilyStory;

// A shorter first turn, for conversations of three turns within the 128-token context.
const char *const kShortTurn1 = "Once upon a time, there was a little girl named Lily.";

std::vector<int32_t> tokens(const std::string &text, bool special) {
    return hfk_test::aidreams()->tokenizer->encode(text, special);
}

EngineRequest request(const std::vector<int32_t> &ids, int32_t n) {
    EngineRequest r;
    r.ids = ids;
    r.options.max_new_tokens = n;
    r.options.ignore_eos = true;  // exactly n ids: the block arithmetic below is exact
    r.options.logprobs = true;    // the raw logits' log-softmax, compared bit for bit
    r.options.top_logprobs = 3;
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

bool same_bits(float a, float b) {
    return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}

void expect_same(const EngineResult &got, const EngineResult &want) {
    EXPECT_EQ(got.status, HFK_OK) << got.error;
    EXPECT_EQ(got.tokens, want.tokens);
    EXPECT_EQ(got.text, want.text);
    EXPECT_EQ(got.stop_reason, want.stop_reason);
    ASSERT_EQ(got.logprobs.size(), want.logprobs.size());
    for (size_t i = 0; i < got.logprobs.size(); ++i) {
        const hfk::TokenLogprob &g = got.logprobs[i], &w = want.logprobs[i];
        EXPECT_EQ(g.id, w.id) << "token " << i;
        EXPECT_TRUE(same_bits(g.logprob, w.logprob)) << "token " << i;
        ASSERT_EQ(g.top.size(), w.top.size()) << "token " << i;
        for (size_t k = 0; k < g.top.size(); ++k) {
            EXPECT_EQ(g.top[k].first, w.top[k].first) << "token " << i;
            EXPECT_TRUE(same_bits(g.top[k].second, w.top[k].second)) << "token " << i;
        }
    }
}

// The next turn: the earlier prompt, its reply's ids, then new text.
std::vector<int32_t> next_turn(const std::vector<int32_t> &prompt,
                               const std::vector<int32_t> &reply) {
    std::vector<int32_t> ids = prompt;
    ids.insert(ids.end(), reply.begin(), reply.end());
    const std::vector<int32_t> more = tokens(" Then they went home.", false);
    ids.insert(ids.end(), more.begin(), more.end());
    return ids;
}

// Full blocks of n tokens, in tokens.
uint64_t whole_blocks(size_t n) {
    return uint64_t(n / kBlock * kBlock);
}

// Turn 1 runs n new ids where prompt + n is a whole number of blocks: its last block then holds
// the last generated id, whose KV is never written, so that block must not be published; the
// blocks before it, reply included, must be.
TEST(EnginePrefixPublish, TheNextTurnReadsTheReplysBlocks) {
    auto lm = hfk_test::aidreams();
    const std::vector<int32_t> a_ids = tokens(kShortTurn1, true);
    const int32_t n = int32_t(4 * kBlock - a_ids.size() % kBlock);  // 3 to 4 blocks of reply
    ASSERT_EQ((a_ids.size() + size_t(n)) % kBlock, 0u);
    const EngineRequest a = request(a_ids, n);
    const EngineResult want_a = solo(a);
    ASSERT_EQ(want_a.tokens.size(), size_t(n));
    const std::vector<int32_t> b_ids = next_turn(a_ids, want_a.tokens);
    const EngineRequest b = request(b_ids, 16);
    const EngineResult want_b = solo(b);
    // Run: every position of turn 1 but its last generated id.
    const uint64_t run = a_ids.size() + size_t(n) - 1;
    const uint64_t expected = whole_blocks(run);
    ASSERT_GT(expected, whole_blocks(a_ids.size()) + 2 * kBlock);  // reply blocks count

    for (int threads : {1, 2}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        Engine e(lm,
                 EngineParams{.max_sequences = 2, .n_threads = threads, .block_tokens = kBlock});
        expect_same(e.wait(e.submit(a)), want_a);
        EXPECT_EQ(e.stats().prefix_cache_hits, 0u);
        EXPECT_EQ(e.stats().kv_blocks_used, 0);
        EXPECT_EQ(e.stats().kv_blocks_cached, int64_t(expected / kBlock));
        expect_same(e.wait(e.submit(b)), want_b);
        EXPECT_EQ(e.stats().prefix_cache_hits, expected);
        EXPECT_EQ(e.stats().kv_blocks_used, 0);
        // A third turn over the second: it reads turn 2's reply as well.
        const std::vector<int32_t> c_ids = next_turn(b_ids, want_b.tokens);
        const EngineRequest c = request(c_ids, 8);
        expect_same(e.wait(e.submit(c)), solo(c));
        EXPECT_EQ(e.stats().prefix_cache_hits, expected + whole_blocks(b_ids.size() + 16 - 1));
        EXPECT_EQ(e.stats().kv_blocks_used, 0);
    }
}

// A request that ended at a stop id (how a chat turn ends: EOS or the template's terminator)
// publishes its reply's run blocks too; the stop id itself is sampled, never run.
TEST(EnginePrefixPublish, ARequestEndedByAStopIdPublishesItsReply) {
    auto lm = hfk_test::aidreams();
    const std::vector<int32_t> a_ids = tokens(kShortTurn1, true);
    // The stop id: an id of the greedy reply at position `at` >= 24, new there, where the prompt
    // and the ids before it fill whole blocks (so every block of the reply is run and published,
    // the last one included).
    EngineRequest a = request(a_ids, 64);
    a.options.ignore_eos = false;
    const std::vector<int32_t> free_run = solo(a).tokens;
    auto fits = [&](size_t at) {
        return (a_ids.size() + at) % kBlock == 0 &&
               std::find(free_run.begin(), free_run.begin() + long(at), free_run[at]) ==
                   free_run.begin() + long(at);
    };
    size_t at = 3 * kBlock;
    while (at < free_run.size() && !fits(at)) ++at;
    ASSERT_LT(at, free_run.size());
    a.options.stop_ids = {free_run[at]};
    const EngineResult want_a = solo(a);
    ASSERT_EQ(want_a.stop_reason, HFK_STOP_EOS);
    // The stop id ends the text: it is not among the generated ids, and is never run.
    ASSERT_EQ(want_a.tokens.size(), at);
    const EngineRequest b = request(next_turn(a_ids, want_a.tokens), 12);
    const uint64_t expected = a_ids.size() + at;  // whole blocks
    ASSERT_GT(expected, whole_blocks(a_ids.size()) + 2 * kBlock);

    Engine e(lm, EngineParams{.max_sequences = 2, .block_tokens = kBlock});
    expect_same(e.wait(e.submit(a)), want_a);
    EXPECT_EQ(e.stats().kv_blocks_cached, int64_t(expected / kBlock));
    expect_same(e.wait(e.submit(b)), solo(b));
    EXPECT_EQ(e.stats().prefix_cache_hits, expected);
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
}

// Holds the worker in the k-th piece callback until the test releases it; then the callback
// returns false, or throws when `throw_after` (the request fails with HFK_E_CALLBACK).
struct HeldAt {
    HeldAt(int k_, bool throw_after_) : k(k_), throw_after(throw_after_) {}
    int k;
    bool throw_after;
    int pieces = 0;
    std::promise<void> reached, release;
    EngineRequest wrap(EngineRequest r) {
        r.on_piece = [this](std::string_view) {
            if (++pieces == k) {
                reached.set_value();
                release.get_future().wait();
                if (throw_after) throw std::runtime_error("client gone");
            }
            return false;
        };
        return r;
    }
};

// A request that ends cancelled (or failed) after generating several blocks' worth publishes
// its prompt blocks only: the next turn over its partial reply reads those and no more.
TEST(EnginePrefixPublish, ACancelledOrFailedRequestPublishesOnlyItsPrompt) {
    auto lm = hfk_test::aidreams();
    const std::vector<int32_t> a_ids = tokens(kTurn1, true);
    for (bool fail : {false, true}) {
        SCOPED_TRACE(fail ? "failed" : "cancelled");
        Engine e(lm, EngineParams{.max_sequences = 2, .block_tokens = kBlock});
        HeldAt held(3 * kBlock, fail);
        const uint64_t id = e.submit(held.wrap(request(a_ids, 100)));
        held.reached.get_future().wait();
        if (!fail) {
            EXPECT_TRUE(e.cancel(id));
        }
        held.release.set_value();
        const EngineResult a = e.wait(id);
        EXPECT_EQ(a.status, fail ? HFK_E_CALLBACK : HFK_E_CANCELLED);
        // Run before it ended: more than two whole blocks beyond the prompt's.
        ASSERT_GT(whole_blocks(a_ids.size() + a.tokens.size() - 1),
                  whole_blocks(a_ids.size()) + 2 * kBlock);
        EXPECT_EQ(e.stats().kv_blocks_used, 0);
        EXPECT_EQ(e.stats().kv_blocks_cached, int64_t(a_ids.size() / kBlock));

        const EngineRequest b = request(next_turn(a_ids, a.tokens), 12);
        expect_same(e.wait(e.submit(b)), solo(b));
        EXPECT_EQ(e.stats().prefix_cache_hits, whole_blocks(a_ids.size()));
        EXPECT_EQ(e.stats().kv_blocks_used, 0);
    }
}

// A budget of 12 blocks: turn 1 leaves 8 published blocks (3 of prompt, 5 of reply), then a
// request that needs all 12 runs (evicting them), with its solo output; afterwards no block is
// held, and the evicted reply is no longer found.
TEST(EnginePrefixPublish, PublishedBlocksAreEvictedWhenThePoolIsNeeded) {
    auto lm = hfk_test::aidreams();
    const uint64_t bb =
        Engine(lm, EngineParams{.n_ctx = 128, .block_tokens = kBlock}).stats().kv_block_bytes;
    std::vector<int32_t> a_ids = tokens(kTurn1, true);
    ASSERT_GE(a_ids.size(), size_t(3 * kBlock + 6));
    a_ids.resize(3 * kBlock + 6);
    const EngineRequest a = request(a_ids, 40);  // run: 30 + 39 = 69 tokens, 8 whole blocks
    std::vector<int32_t> big_ids = tokens(hfk_test::kStoryPrompts[7], true);
    big_ids.resize(20, 5);
    big_ids[1] = 200;                                // nothing in common with a
    const EngineRequest big = request(big_ids, 77);  // 20 + 76 = 96 tokens: 12 blocks
    const EngineResult want_a = solo(a), want_big = solo(big);
    const EngineRequest b = request(next_turn(a_ids, want_a.tokens), 4);
    const EngineResult want_b = solo(b);

    Engine e(
        lm,
        EngineParams{
            .max_sequences = 2, .kv_budget_bytes = 12 * bb, .n_ctx = 128, .block_tokens = kBlock});
    ASSERT_EQ(e.stats().kv_blocks_total, 12);
    expect_same(e.wait(e.submit(a)), want_a);
    EXPECT_EQ(e.stats().kv_blocks_cached, 8);
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
    expect_same(e.wait(e.submit(big)), want_big);  // takes the 4 free blocks and evicts 8
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
    EXPECT_EQ(e.stats().kv_blocks_cached, int64_t((20 + 76) / kBlock));  // big's own, all
    EXPECT_EQ(e.stats().prefix_cache_hits, 0u);
    expect_same(e.wait(e.submit(b)), want_b);  // turn 1's blocks are gone: all prefilled
    EXPECT_EQ(e.stats().prefix_cache_hits, 0u);
    EXPECT_EQ(e.stats().kv_blocks_used, 0);
}

}  // namespace
