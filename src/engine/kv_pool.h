// The KV memory of an Engine: `total` blocks of block_tokens tokens (their rows live in a
// models::KvArena; a sequence reads them through its block table, models/paged_cache.h), and
// the prefix cache over them.
//
// A sequence takes every block it may need when it is admitted and gives them back when it ends
// (finished, cancelled, failed), so a running sequence never runs out of KV memory half-way and
// no block it holds is ever taken from it: a request that does not fit waits in the engine's
// queue instead.
//
// Prefix caching (as vLLM's): once a full block of a prompt has been computed, it is published
// under a hash chained over (the previous block's hash, the block's token ids); so are, when a
// request ends well, the full blocks of its prompt + generated ids that have been run (the
// engine's; the chain is the same, so a next turn that repeats the reply finds them). A request
// that is admitted later looks up the longest run of published blocks that its prompt starts
// with, takes a reference on each and skips their prefill. Only full blocks are shared, and a
// sequence only writes at or after its own first unshared position, so a shared block never
// changes (no copy-on-write). Blocks are reference counted; a published block whose last
// sequence ended stays cached (unreferenced, evictable) until the pool needs a block: then the
// least recently released one is evicted (a sequence's tail blocks before its head). A lookup
// compares the block's token ids and its parent's hash, so a hash collision needs two 64-bit
// chain hashes to collide, not one block's.
//
// Not thread-safe: the engine calls it under its lock.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <vector>

namespace hfk {

class KvBlockPool {
  public:
    // block_bytes: the KV bytes of block_tokens tokens; total: blocks the budget holds (>= 1).
    KvBlockPool(int32_t block_tokens, uint64_t block_bytes, int64_t total);
    // Blocks that n_tokens tokens occupy (rounded up).
    int64_t blocks_for(int64_t n_tokens) const;

    // The chained hashes of the full blocks of `ids` (ids.size() / block_tokens of them).
    std::vector<uint64_t> block_hashes(std::span<const int32_t> ids) const;
    // Appends to `hashes` (block_hashes of a prefix of ids, possibly empty) those of the further
    // full blocks of ids: a sequence's blocks hashed as it grows, each block once.
    void extend_block_hashes(std::span<const int32_t> ids, std::vector<uint64_t> &hashes) const;
    // The published blocks that `ids` starts with, at most max_blocks, in order (no reference
    // taken). hashes: block_hashes(ids).
    std::vector<int32_t> match(std::span<const int32_t> ids, std::span<const uint64_t> hashes,
                               int64_t max_blocks) const;
    // Takes a reference on every block of `shared` (from match(), unchanged since) and n_new
    // fresh blocks (free ones first, then evicting cached ones); table = shared then the new
    // ones. False, taking nothing, when n_new blocks cannot be had.
    bool acquire(std::span<const int32_t> shared, int64_t n_new, std::vector<int32_t> &table);
    // Publishes `block` as holding ids[i * block_tokens, (i + 1) * block_tokens), the i-th full
    // block of a sequence's ids (hashes: block_hashes of those ids). Its contents must be final. A
    // no-op when that prefix is already published (the other block stays the cached one).
    void publish(int32_t block, std::span<const int32_t> ids, std::span<const uint64_t> hashes,
                 int64_t i);
    // Drops a reference on each block of table; an unreferenced block is free, or cached if
    // published.
    void release(std::span<const int32_t> table);

    int64_t used() const { return used_; }                   // referenced by a sequence
    int64_t cached() const { return int64_t(lru_.size()); }  // unreferenced, kept for reuse
    int64_t total() const { return total_; }
    int32_t block_tokens() const { return block_tokens_; }
    uint64_t block_bytes() const { return block_bytes_; }

  private:
    struct Block {
        int32_t refs = 0;
        bool published = false;
        uint64_t hash = 0, parent = 0;
        std::vector<int32_t> tokens;          // when published
        std::list<int32_t>::iterator in_lru;  // when published and refs == 0
    };
    uint64_t parent_hash(std::span<const uint64_t> hashes, int64_t i) const;
    int32_t take_fresh();

    int32_t block_tokens_;
    uint64_t block_bytes_;
    int64_t total_, used_ = 0;
    std::vector<Block> blocks_;
    std::vector<int32_t> free_;                      // never published, unreferenced
    std::list<int32_t> lru_;                         // cached: front is evicted first
    std::unordered_map<uint64_t, int32_t> by_hash_;  // published blocks
};

}  // namespace hfk
