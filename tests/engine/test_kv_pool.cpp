// KvBlockPool: reference counts, the prefix cache (publish, match by chained hash with the tokens
// and the parent compared), eviction order, and that a block a sequence holds is never evicted.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "engine/kv_pool.h"
#include "util/error.h"

namespace {

using hfk::KvBlockPool;

constexpr int32_t kB = 4;  // tokens per block

std::vector<int32_t> seq(int32_t first, int32_t n) {
    std::vector<int32_t> v(static_cast<size_t>(n));
    std::iota(v.begin(), v.end(), first);
    return v;
}

// A sequence's life in the pool: takes its shared prefix and fresh blocks, publishes its full
// prompt blocks.
std::vector<int32_t> run_prompt(KvBlockPool &p, const std::vector<int32_t> &ids, int64_t blocks) {
    const auto h = p.block_hashes(ids);
    const auto shared = p.match(ids, h, (int64_t(ids.size()) - 1) / kB);
    std::vector<int32_t> table;
    EXPECT_TRUE(p.acquire(shared, blocks - int64_t(shared.size()), table));
    for (size_t i = shared.size(); i < h.size(); ++i) p.publish(table[i], ids, h, int64_t(i));
    return table;
}

TEST(KvBlockPool, CountsReferencesAndGivesEverythingBack) {
    KvBlockPool p(kB, 64, 6);
    EXPECT_EQ(p.blocks_for(0), 0);
    EXPECT_EQ(p.blocks_for(4), 1);
    EXPECT_EQ(p.blocks_for(5), 2);
    std::vector<int32_t> a, b, c;
    ASSERT_TRUE(p.acquire({}, 4, a));
    EXPECT_EQ(p.used(), 4);
    EXPECT_FALSE(p.acquire({}, 3, b));  // takes nothing
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(p.used(), 4);
    ASSERT_TRUE(p.acquire({}, 2, b));
    EXPECT_EQ(p.used(), 6);
    std::vector<int32_t> all = a;
    all.insert(all.end(), b.begin(), b.end());
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, seq(0, 6));  // six distinct blocks
    p.release(a);
    p.release(b);
    EXPECT_EQ(p.used(), 0);
    EXPECT_EQ(p.cached(), 0);  // nothing was published
    EXPECT_THROW(p.release(a), hfk::Error);
}

TEST(KvBlockPool, APublishedPrefixIsSharedAndReferenceCounted) {
    KvBlockPool p(kB, 64, 8);
    const std::vector<int32_t> prompt = seq(10, 11);  // two full blocks and three tokens
    const auto a = run_prompt(p, prompt, 4);
    EXPECT_EQ(p.used(), 4);

    // Another prompt with the same first 9 tokens: its first two blocks are a's.
    std::vector<int32_t> other = seq(10, 9);
    other.insert(other.end(), {99, 98, 97});
    const auto h = p.block_hashes(other);
    ASSERT_EQ(h.size(), 3u);
    EXPECT_EQ(p.match(other, h, 3), (std::vector<int32_t>{a[0], a[1]}));
    EXPECT_EQ(p.match(other, h, 1), (std::vector<int32_t>{a[0]}));  // capped
    std::vector<int32_t> b;
    ASSERT_TRUE(p.acquire(p.match(other, h, 3), 2, b));
    EXPECT_EQ(b[0], a[0]);
    EXPECT_EQ(b[1], a[1]);
    EXPECT_EQ(p.used(), 6);  // 4 + 2 new: the shared two are counted once

    // The same block content after a different first block is another prefix: no match.
    std::vector<int32_t> shifted = seq(50, 4);
    shifted.insert(shifted.end(), prompt.begin() + 4, prompt.begin() + 8);
    shifted.push_back(1);
    EXPECT_TRUE(p.match(shifted, p.block_hashes(shifted), 2).empty());

    p.release(a);
    EXPECT_EQ(p.used(), 4);    // a's shared blocks are still b's
    EXPECT_EQ(p.cached(), 0);  // a's published blocks are referenced by b
    p.release(b);
    EXPECT_EQ(p.used(), 0);
    EXPECT_EQ(p.cached(), 2);  // the published blocks stay, evictable
    // And match again after both ended.
    EXPECT_EQ(p.match(prompt, p.block_hashes(prompt), 2).size(), 2u);
}

TEST(KvBlockPool, ASecondCopyOfAPrefixIsNotPublishedAndFreesOnRelease) {
    KvBlockPool p(kB, 64, 8);
    const std::vector<int32_t> prompt = seq(1, 8);
    const auto h = p.block_hashes(prompt);
    std::vector<int32_t> a, b;
    ASSERT_TRUE(p.acquire({}, 2, a));
    ASSERT_TRUE(p.acquire({}, 2, b));  // both computed the prefix before either published
    p.publish(a[0], prompt, h, 0);
    p.publish(b[0], prompt, h, 0);  // already there: a no-op
    EXPECT_EQ(p.match(prompt, h, 2), (std::vector<int32_t>{a[0]}));
    p.release(b);
    EXPECT_EQ(p.cached(), 0);
    p.release(a);
    EXPECT_EQ(p.cached(), 1);
}

TEST(KvBlockPool, EvictsCachedBlocksLeastRecentlyReleasedTailFirst) {
    KvBlockPool p(kB, 64, 5);
    const std::vector<int32_t> x = seq(100, 9), y = seq(200, 5);
    p.release(run_prompt(p, x, 3));  // publishes 2 blocks, then both cached
    EXPECT_EQ(p.cached(), 2);
    EXPECT_EQ(p.used(), 0);
    // Five blocks needed: three free, then two evicted.
    std::vector<int32_t> t;
    ASSERT_TRUE(p.acquire({}, 4, t));  // three free + x's tail block
    EXPECT_EQ(p.cached(), 1);
    const auto hx = p.block_hashes(x);
    EXPECT_EQ(p.match(x, hx, 2).size(), 1u);  // x's head survives
    p.release(t);
    EXPECT_EQ(p.cached(), 1);
    // y, released after x, is kept over x's head when one more block is needed.
    p.release(run_prompt(p, y, 2));
    EXPECT_EQ(p.cached(), 2);
    ASSERT_TRUE(p.acquire({}, 4, t));
    EXPECT_EQ(p.cached(), 1);
    EXPECT_TRUE(p.match(x, hx, 2).empty());
    EXPECT_EQ(p.match(y, p.block_hashes(y), 1).size(), 1u);
    p.release(t);
}

// Attention reads blocks next to each other in the arena as one run (models/paged_cache.h), so
// a sequence's fresh blocks come in ascending order: from a fresh pool, recycled, and evicted
// from the prefix cache (which gives them back tail first).
TEST(KvBlockPool, FreshBlocksComeInAscendingOrder) {
    KvBlockPool p(kB, 64, 8);
    std::vector<int32_t> a;
    ASSERT_TRUE(p.acquire({}, 8, a));
    EXPECT_EQ(a, seq(0, 8));
    p.release(a);
    ASSERT_TRUE(p.acquire({}, 8, a));
    EXPECT_EQ(a, seq(0, 8));
    p.release(a);
    // Six blocks published then cached: a whole-pool request takes the two free ones and
    // evicts the six, tail first.
    const std::vector<int32_t> x = seq(100, 25);
    const std::vector<int32_t> tx = run_prompt(p, x, 7);
    EXPECT_TRUE(std::is_sorted(tx.begin(), tx.end()));
    p.release(tx);
    EXPECT_EQ(p.cached(), 6);
    std::vector<int32_t> b;
    ASSERT_TRUE(p.acquire({}, 8, b));
    EXPECT_EQ(p.cached(), 0);
    EXPECT_EQ(b, seq(0, 8));
    p.release(b);
}

TEST(KvBlockPool, SharedCachedBlocksAreNotCountedAsEvictable) {
    KvBlockPool p(kB, 64, 3);
    const std::vector<int32_t> x = seq(7, 9);
    p.release(run_prompt(p, x, 3));
    ASSERT_EQ(p.cached(), 2);
    const auto hx = p.block_hashes(x);
    const auto shared = p.match(x, hx, 2);
    ASSERT_EQ(shared.size(), 2u);
    std::vector<int32_t> t;
    // Taking both back leaves one block: two more cannot come from evicting them.
    EXPECT_FALSE(p.acquire(shared, 2, t));
    EXPECT_EQ(p.used(), 0);
    EXPECT_EQ(p.cached(), 2);
    ASSERT_TRUE(p.acquire(shared, 1, t));
    EXPECT_EQ(p.used(), 3);
    EXPECT_EQ(p.cached(), 0);
    // Every block is held: nothing can be evicted for another sequence.
    std::vector<int32_t> u;
    EXPECT_FALSE(p.acquire({}, 1, u));
    p.release(t);
    EXPECT_EQ(p.used(), 0);
    EXPECT_EQ(p.cached(), 2);
}

}  // namespace

// A sequence's hashes extended as it grows equal those of the whole sequence hashed at once,
// from any prefix (whole blocks or not), and a prefix's hashes never change.
TEST(KvBlockPool, ExtendedHashesEqualTheWholeSequencesHashes) {
    KvBlockPool p(kB, 64, 6);
    const std::vector<int32_t> ids = seq(7, 23);  // 5 full blocks and 3 tokens
    const std::vector<uint64_t> whole = p.block_hashes(ids);
    ASSERT_EQ(whole.size(), 5u);
    for (size_t prefix = 0; prefix <= ids.size(); ++prefix) {
        std::vector<uint64_t> h = p.block_hashes(std::span<const int32_t>(ids.data(), prefix));
        ASSERT_EQ(h.size(), prefix / kB);
        p.extend_block_hashes(ids, h);
        EXPECT_EQ(h, whole) << "extended from " << prefix << " tokens";
    }
    std::vector<uint64_t> h = whole;
    p.extend_block_hashes(std::span<const int32_t>(ids.data(), 8), h);  // shorter: nothing to add
    EXPECT_EQ(h, whole);
}
