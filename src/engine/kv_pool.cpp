#include "engine/kv_pool.h"

#include <algorithm>
#include <string>

#include "util/error.h"

namespace hfk {
namespace {

constexpr uint64_t kRootHash = 0x6a09e667f3bcc908ull;  // the parent of a prompt's first block

uint64_t mix(uint64_t h) {  // splitmix64's finaliser
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

}  // namespace

KvBlockPool::KvBlockPool(int32_t block_tokens, uint64_t block_bytes, int64_t total)
    : block_tokens_(block_tokens), block_bytes_(block_bytes), total_(total) {
    if (block_tokens <= 0 || total <= 0)
        fail(HFK_E_INVALID_ARG,
             "the KV budget holds no block of " + std::to_string(block_tokens) + " tokens");
    if (total > INT32_MAX) fail(HFK_E_INVALID_ARG, "the KV budget holds too many blocks");
    blocks_.resize(size_t(total));
    free_.reserve(size_t(total));
    for (int64_t b = total - 1; b >= 0; --b) free_.push_back(int32_t(b));  // block 0 first
}

int64_t KvBlockPool::blocks_for(int64_t n_tokens) const {
    return n_tokens <= 0 ? 0 : (n_tokens + block_tokens_ - 1) / block_tokens_;
}

std::vector<uint64_t> KvBlockPool::block_hashes(std::span<const int32_t> ids) const {
    std::vector<uint64_t> out;
    extend_block_hashes(ids, out);
    return out;
}

void KvBlockPool::extend_block_hashes(std::span<const int32_t> ids,
                                      std::vector<uint64_t> &hashes) const {
    const size_t n = ids.size() / size_t(block_tokens_);
    uint64_t h = hashes.empty() ? kRootHash : hashes.back();
    for (size_t i = hashes.size(); i < n; ++i) {
        for (size_t t = 0; t < size_t(block_tokens_); ++t)
            h = mix(h + uint64_t(uint32_t(ids[i * size_t(block_tokens_) + t])) +
                    0x9e3779b97f4a7c15ull);
        hashes.push_back(h);
    }
}

uint64_t KvBlockPool::parent_hash(std::span<const uint64_t> hashes, int64_t i) const {
    return i == 0 ? kRootHash : hashes[size_t(i - 1)];
}

std::vector<int32_t> KvBlockPool::match(std::span<const int32_t> ids,
                                        std::span<const uint64_t> hashes,
                                        int64_t max_blocks) const {
    std::vector<int32_t> out;
    const int64_t n = std::min<int64_t>(max_blocks, int64_t(hashes.size()));
    for (int64_t i = 0; i < n; ++i) {
        auto it = by_hash_.find(hashes[size_t(i)]);
        if (it == by_hash_.end()) break;
        const Block &b = blocks_[size_t(it->second)];
        const auto want = ids.subspan(size_t(i) * size_t(block_tokens_), size_t(block_tokens_));
        if (b.parent != parent_hash(hashes, i) ||
            !std::equal(want.begin(), want.end(), b.tokens.begin(), b.tokens.end()))
            break;
        out.push_back(it->second);
    }
    return out;
}

int32_t KvBlockPool::take_fresh() {
    if (!free_.empty()) {
        const int32_t b = free_.back();
        free_.pop_back();
        return b;
    }
    const int32_t b = lru_.front();  // the least recently released cached block
    lru_.pop_front();
    Block &blk = blocks_[size_t(b)];
    by_hash_.erase(blk.hash);
    blk = Block{};
    return b;
}

bool KvBlockPool::acquire(std::span<const int32_t> shared, int64_t n_new,
                          std::vector<int32_t> &table) {
    int64_t cached_shared = 0;  // cached blocks that `shared` takes back: not evictable now
    for (int32_t b : shared) {
        if (b < 0 || b >= total_ || !blocks_[size_t(b)].published)
            fail(HFK_E_INTERNAL, "KV pool: a shared block is not published");
        if (blocks_[size_t(b)].refs == 0) ++cached_shared;
    }
    if (n_new < 0 || n_new > int64_t(free_.size()) + cached() - cached_shared) return false;
    table.assign(shared.begin(), shared.end());
    for (int32_t b : shared) {
        Block &blk = blocks_[size_t(b)];
        if (blk.refs++ == 0) {
            lru_.erase(blk.in_lru);
            ++used_;
        }
    }
    for (int64_t i = 0; i < n_new; ++i) {
        const int32_t b = take_fresh();
        blocks_[size_t(b)].refs = 1;
        ++used_;
        table.push_back(b);
    }
    // Fresh blocks in ascending order: blocks next to each other in the arena make one run of
    // keys and values for attention (models/paged_cache.h), and evicted cached blocks come back
    // tail first.
    std::sort(table.end() - n_new, table.end());
    return true;
}

void KvBlockPool::publish(int32_t block, std::span<const int32_t> ids,
                          std::span<const uint64_t> hashes, int64_t i) {
    Block &blk = blocks_[size_t(block)];
    if (blk.published || blk.refs == 0)
        fail(HFK_E_INTERNAL, "KV pool: publishing a block that is not a sequence's own");
    const uint64_t h = hashes[size_t(i)];
    if (by_hash_.count(h)) return;  // another sequence computed the same prefix first
    blk.published = true;
    blk.hash = h;
    blk.parent = parent_hash(hashes, i);
    const auto t = ids.subspan(size_t(i) * size_t(block_tokens_), size_t(block_tokens_));
    blk.tokens.assign(t.begin(), t.end());
    by_hash_.emplace(h, block);
}

void KvBlockPool::release(std::span<const int32_t> table) {
    // Tail first: a cached tail block is evicted before the head it extends.
    for (auto it = table.rbegin(); it != table.rend(); ++it) {
        Block &blk = blocks_[size_t(*it)];
        if (blk.refs <= 0) fail(HFK_E_INTERNAL, "KV pool: a block released twice");
        if (--blk.refs > 0) continue;
        --used_;
        if (blk.published)
            blk.in_lru = lru_.insert(lru_.end(), *it);
        else
            free_.push_back(*it);
    }
}

}  // namespace hfk
