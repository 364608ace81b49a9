// The KV memory budget of an Engine, in fixed-size blocks of tokens. A sequence takes the blocks
// it may need when it is admitted and gives them back when it ends (finished, cancelled, failed),
// so a running sequence can never run out of KV memory half-way: a request that does not fit
// waits in the engine's queue instead.
//
// What this is not (yet): a paged attention. Each sequence's keys and values live in one
// contiguous per-sequence cache (models/common.h, CausalCache), an anonymous mapping whose pages
// are committed only when written; the blocks are the unit in which the budget is counted. No
// blocks are shared between sequences (no prefix caching).
#pragma once

#include <cstdint>

namespace hfk {

class KvBlockPool {
  public:
    // block_bytes: the KV bytes of block_tokens tokens; total: blocks the budget holds (>= 1).
    KvBlockPool(int32_t block_tokens, uint64_t block_bytes, int64_t total);
    // Blocks that n_tokens tokens occupy (rounded up).
    int64_t blocks_for(int64_t n_tokens) const;
    // Takes n blocks if that many are free (true), else takes none (false). Not thread-safe:
    // the engine calls it under its lock.
    bool take(int64_t n);
    void give(int64_t n);  // n <= used()
    int64_t used() const { return used_; }
    int64_t total() const { return total_; }
    int32_t block_tokens() const { return block_tokens_; }
    uint64_t block_bytes() const { return block_bytes_; }

  private:
    int32_t block_tokens_;
    uint64_t block_bytes_;
    int64_t total_, used_ = 0;
};

}  // namespace hfk
