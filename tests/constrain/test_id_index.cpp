// The stack engine's flat index of stack nodes (constrain/id_index.h), against std::map: every
// key keeps the id it got first, through the table's growth, and collisions in the low bits
// (keys that differ only above bit 32, as (pos << 32 | parent) keys do) still find their own id.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "constrain/id_index.h"

using hfk::constrain::IdIndex;

TEST(IdIndex, EveryKeyKeepsItsFirstIdThroughGrowth) {
    IdIndex index;
    std::map<uint64_t, uint32_t> oracle;
    std::mt19937_64 rng(7);
    for (int i = 0; i < 40000; ++i) {
        // Half random keys, half (pos << 32 | parent) keys from a small range, which repeat.
        const uint64_t key = i % 2 ? rng() : (uint64_t(rng() % 150) << 32) | (rng() % 150);
        const uint32_t fresh = uint32_t(oracle.size());
        bool inserted = false;
        const uint32_t id = index.find_or_insert(key, fresh, inserted);
        auto [it, is_new] = oracle.try_emplace(key, fresh);
        ASSERT_EQ(inserted, is_new) << i;
        ASSERT_EQ(id, it->second) << i;
    }
    EXPECT_EQ(index.size(), oracle.size());
    for (const auto &[key, id] : oracle) {
        bool inserted = true;
        ASSERT_EQ(index.find_or_insert(key, 0xdead, inserted), id);
        ASSERT_FALSE(inserted);
    }
}
