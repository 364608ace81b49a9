// Which tokens keep the text a prefix of the grammar: a walk of the vocabulary trie with the
// matcher, skipping every subtree whose first bytes the grammar rules out. Exact by
// construction (a token is allowed iff all of its bytes step to a live state), and cached per
// matcher state, which repeats a lot (every character inside a JSON string is the same state).
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "constrain/stack_engine.h"
#include "constrain/vocab_trie.h"

namespace hfk::constrain {

using TokenBits = std::vector<uint64_t>;  // bit id set = allowed

inline bool has_bit(const TokenBits &b, int32_t id) {
    return (b[size_t(id) >> 6] >> (id & 63)) & 1;
}

class TokenMasker {
  public:
    TokenMasker(std::shared_ptr<const VocabTrie> trie, StackEngine &engine)
        : trie_(std::move(trie)), engine_(engine) {}

    const TokenBits &mask(StateId s);
    // The state after all bytes of `id` (kDeadState if the token does not fit).
    StateId advance(StateId s, int32_t id);
    const VocabTrie &trie() const { return *trie_; }
    size_t n_cached() const { return cache_.size(); }

  private:
    void compute(StateId s, TokenBits &out);

    std::shared_ptr<const VocabTrie> trie_;
    StackEngine &engine_;
    std::unordered_map<StateId, TokenBits> cache_;
    std::vector<StateId> depth_state_;
};

}  // namespace hfk::constrain
