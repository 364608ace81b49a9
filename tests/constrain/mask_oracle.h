// The oracle of the token-mask tests: which ids are allowed, by stepping every token's bytes one
// by one through a separate matcher. Its steps are computed from scratch (step_uncached) and
// memoised here, in a plain map, so neither the engine's transition table (and its byte-class
// filling) nor the vocabulary trie and its shortcuts take part in the answer.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "constrain/stack_engine.h"
#include "constrain/token_mask.h"
#include "constrain/vocab_trie.h"

namespace hfk::constrain::test {

class MaskOracle {
  public:
    explicit MaskOracle(std::shared_ptr<const Grammar> g) : engine_(std::move(g)) {}

    StateId start() const { return engine_.start(); }
    bool accepting(StateId s) const { return engine_.accepting(s); }
    StateId step(StateId s, uint8_t byte) {
        const uint64_t key = (uint64_t(s) << 8) | byte;
        auto it = memo_.find(key);
        if (it != memo_.end()) return it->second;
        const StateId t = engine_.step_uncached(s, byte);
        memo_.emplace(key, t);
        return t;
    }
    StateId step_bytes(StateId s, const std::string &bytes) {
        for (char c : bytes) {
            if (s == kDeadState) break;
            s = step(s, uint8_t(c));
        }
        return s;
    }
    // Bit id set iff the id adds bytes and all of them step to a live state from `s`.
    TokenBits allowed(StateId s, const VocabTrie &trie) {
        TokenBits bits((size_t(trie.n_ids()) + 63) / 64, 0);
        for (int32_t id = 0; id < trie.n_ids(); ++id) {
            const std::string &b = trie.token_bytes(id);
            if (!b.empty() && step_bytes(s, b) != kDeadState)
                bits[size_t(id) >> 6] |= uint64_t(1) << (id & 63);
        }
        return bits;
    }

  private:
    StackEngine engine_;
    std::unordered_map<uint64_t, StateId> memo_;
};

}  // namespace hfk::constrain::test
