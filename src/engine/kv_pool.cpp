#include "engine/kv_pool.h"

#include "util/error.h"

namespace hfk {

KvBlockPool::KvBlockPool(int32_t block_tokens, uint64_t block_bytes, int64_t total)
    : block_tokens_(block_tokens), block_bytes_(block_bytes), total_(total) {
    if (block_tokens <= 0 || total <= 0)
        fail(HFK_E_INVALID_ARG,
             "the KV budget holds no block of " + std::to_string(block_tokens) + " tokens");
}

int64_t KvBlockPool::blocks_for(int64_t n_tokens) const {
    return n_tokens <= 0 ? 0 : (n_tokens + block_tokens_ - 1) / block_tokens_;
}

bool KvBlockPool::take(int64_t n) {
    if (n < 0 || n > total_ - used_) return false;
    used_ += n;
    return true;
}

void KvBlockPool::give(int64_t n) {
    if (n < 0 || n > used_) fail(HFK_E_INTERNAL, "KV pool: more blocks given back than taken");
    used_ -= n;
}

}  // namespace hfk
