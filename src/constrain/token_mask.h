// Which tokens keep the text a prefix of the grammar: a walk of the vocabulary trie with the
// matcher, skipping every subtree whose first bytes the grammar rules out. Exact by
// construction (a token is allowed iff all of its bytes step to a live state), and cached per
// matcher state, which repeats a lot (every character inside a JSON string is the same state).
//
// Masks are in the trie's slot order (slot j is trie().token_ids()[j]), where the tokens of a
// subtree are one run of bits: that makes the shortcut below cost a few word writes instead of
// one bit per token. id_mask() gives the same mask indexed by token id.
//
// The shortcut ("runs"): inside a JSON string nearly every token is allowed, so a plain walk
// visits nearly the whole trie (~100k nodes for GPT-2, ~200 us). But there almost every byte
// takes the matcher to one and the same next state: the same state again in an unbounded
// string (a self-loop), the next count in a bounded one (`maxLength`, `{m,n}`). For a state t,
// let u(t) be the live successor reached by the most bytes and U(t) those bytes; then
// I(t, h) = U(t) ∩ U(u(t)) ∩ ... ∩ U(u^(h-1)(t)) is a set of bytes such that EVERY string of at
// most h of them, read from t, only visits live states. So when the bytes below a trie node
// all lie in I(next, height of the node), every token of its subtree is allowed, and the walk
// sets the subtree's slots at once and skips it. This is a sufficient condition only; a subtree
// that fails it is walked byte by byte as before, so the mask stays exact. Its limit: in a
// bounded repetition a subtree holding any token longer than the count left fails the test
// and is walked, so states near the start of a long `{m,n}` (an email's local part, a
// `maxLength` of 24) are still the expensive cold masks (the p99 of bench_constrain).
//
// Considered and not built (analysed, not measured): XGrammar-style context-independent caching
// (masks per top-of-stack position, shared by every stack set with that top). Here a string's
// top of stack is `json-char`'s byte set, which any token longer than one character leaves, so
// the key would have to include the frames down to the closing quote; the JSON Schema compiler
// gives each property its own string rule and each bounded count its own position, so those
// keys are as many as the matcher states themselves on the benchmark's schema, and the cache
// per state already shares what they would. Per-token byte-set tests (a token is allowed if
// all its bytes self-loop) are subsumed by the subtree test above, which also covers bounded
// repetitions and costs a few words per subtree instead of one test per token.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <utility>
#include <vector>

#include "constrain/stack_engine.h"
#include "constrain/vocab_trie.h"

namespace hfk::constrain {

using TokenBits = std::vector<uint64_t>;  // bit set = allowed

inline bool has_bit(const TokenBits &b, int32_t id) {
    return (b[size_t(id) >> 6] >> (id & 63)) & 1;
}

class TokenMasker {
  public:
    TokenMasker(std::shared_ptr<const VocabTrie> trie, StackEngine &engine)
        : trie_(std::move(trie)), engine_(engine) {}

    // The allowed tokens by slot (valid until the next call: the cache may start over).
    const TokenBits &mask(StateId s);
    // The same by token id (bit id), for callers that look up single ids.
    TokenBits id_mask(StateId s);
    // The state after all bytes of `id` (kDeadState if the token does not fit).
    StateId advance(StateId s, int32_t id);
    const VocabTrie &trie() const { return *trie_; }
    size_t n_cached() const { return cache_.size(); }
    // Counters: subtrees decided by the run shortcut, and trie nodes stepped one by one.
    uint64_t n_shortcuts() const { return n_shortcuts_; }
    uint64_t n_walked() const { return n_walked_; }

  private:
    struct Run {
        bool known = false;
        bool self_loop = false;  // succ == the state itself: I(t, h) = U(t) for every h
        StateId succ = kDeadState;
        ByteSet bytes;                // U(t)
        std::vector<ByteSet> within;  // within[h - 1] = I(t, h), computed on demand
    };

    void compute(StateId s, TokenBits &out);
    // run(t), computed on first use (run_slow); the known case stays in line in the walk.
    const Run &run(StateId t) {
        if (t < runs_.size() && runs_[t].known) return runs_[t];
        return run_slow(t);
    }
    const Run &run_slow(StateId t);
    // I(t, h) (the header's comment); a reference valid until the next run() or run_bytes().
    const ByteSet &run_bytes(StateId t, uint32_t h) {
        const Run &r = run(t);
        if (r.self_loop || h <= 1 || r.bytes.empty()) return r.bytes;
        if (h <= r.within.size()) return r.within[h - 1];
        return run_bytes_slow(t, h);
    }
    const ByteSet &run_bytes_slow(StateId t, uint32_t h);

    std::shared_ptr<const VocabTrie> trie_;
    StackEngine &engine_;
    std::unordered_map<StateId, TokenBits> cache_;
    std::vector<StateId> depth_state_;
    std::vector<Run> runs_;                                 // by state
    std::vector<StateId> run_succ_;                         // run()'s scratch: per class
    std::vector<std::pair<StateId, uint32_t>> run_counts_;  // and bytes per successor
    uint64_t n_shortcuts_ = 0, n_walked_ = 0;
};

}  // namespace hfk::constrain
