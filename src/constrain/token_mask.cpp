#include "constrain/token_mask.h"

namespace hfk::constrain {

namespace {
// 2048 masks of a 128k vocabulary are 32 MiB; beyond that the cache starts over.
constexpr size_t kMaxCachedBits = size_t(1) << 28;
}  // namespace

const TokenBits &TokenMasker::mask(StateId s) {
    auto it = cache_.find(s);
    if (it != cache_.end()) return it->second;
    const size_t words = (size_t(trie_->n_ids()) + 63) / 64;
    if ((cache_.size() + 1) * words * 64 > kMaxCachedBits) cache_.clear();
    TokenBits &bits = cache_[s];
    compute(s, bits);
    return bits;
}

void TokenMasker::compute(StateId s, TokenBits &out) {
    out.assign((size_t(trie_->n_ids()) + 63) / 64, 0);
    const auto &nodes = trie_->nodes();
    const auto &ids = trie_->token_ids();
    depth_state_.resize(trie_->max_depth() + 1);
    depth_state_[0] = s;
    if (s == kDeadState) return;
    for (size_t i = 1; i < nodes.size();) {
        const VocabTrie::Node &n = nodes[i];
        const StateId next = engine_.step(depth_state_[n.depth - 1], n.byte);
        if (next == kDeadState) {
            i = n.skip;
            continue;
        }
        depth_state_[n.depth] = next;
        for (uint32_t k = 0; k < n.n_tokens; ++k) {
            const int32_t id = ids[n.first_token + k];
            out[size_t(id) >> 6] |= uint64_t(1) << (id & 63);
        }
        ++i;
    }
}

StateId TokenMasker::advance(StateId s, int32_t id) {
    for (char c : trie_->token_bytes(id)) {
        s = engine_.step(s, uint8_t(c));
        if (s == kDeadState) break;
    }
    return s;
}

}  // namespace hfk::constrain
