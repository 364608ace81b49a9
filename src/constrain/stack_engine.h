// The incremental matcher of a Grammar: the set of parse stacks llama.cpp's GBNF sampler keeps,
// with two changes that make it cheap to step, copy and roll back.
//  - Stacks are persistent linked lists, hash-consed: a stack is one node id (its top position
//    and the id of the stack below), so equal stacks are equal ids and sharing is free.
//  - Stack sets are interned too, and every (set, byte) step is memoised in a transition
//    table: the engine lazily builds the deterministic automaton of the grammar over the states
//    the generation actually visits. A matcher state is then a single uint32_t, so copying or
//    rolling back a matcher is copying an integer.
//  - Bytes that belong to exactly the same byte sets of the grammar (its byte classes: a JSON
//    Schema has a few dozen) step every state the same way, so the transition table has one
//    entry per class, and one computed step serves the whole class.
// One engine serves one generation at a time (not thread-safe; its tables only grow).
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "constrain/grammar.h"
#include "constrain/id_index.h"

namespace hfk::constrain {

using StateId = uint32_t;
constexpr StateId kDeadState = 0;  // the empty stack set: no continuation matches

class StackEngine {
  public:
    explicit StackEngine(std::shared_ptr<const Grammar> grammar);

    StateId start() const { return start_; }
    // The state after one more byte; kDeadState when the byte cannot continue any stack.
    StateId step(StateId s, uint8_t byte) {
        const size_t at = size_t(s) * n_classes_ + byte_class_[byte];
        const int32_t t = transitions_[at];
        if (t >= 0) return StateId(t);
        const StateId next = compute_step(s, byte);  // may grow transitions_
        transitions_[at] = int32_t(next);
        return next;
    }
    // The byte classes: class_of(b) == class_of(c) iff b and c are in the same byte sets.
    uint32_t n_byte_classes() const { return uint32_t(class_members_.size()); }
    uint8_t class_of(uint8_t byte) const { return byte_class_[byte]; }
    const std::vector<uint8_t> &class_members(uint32_t c) const { return class_members_[c]; }
    // The same computed from scratch, bypassing the memo (the oracle of the tests).
    StateId step_uncached(StateId s, uint8_t byte) { return compute_step(s, byte); }
    // The text so far is a complete sentence of the grammar.
    bool accepting(StateId s) const { return sets_[s].accepting; }
    // Some byte can still follow.
    bool can_continue(StateId s) const { return sets_[s].n_stacks > (sets_[s].accepting ? 1 : 0); }
    size_t n_states() const { return sets_.size(); }
    size_t n_stack_nodes() const { return nodes_.size(); }
    const Grammar &grammar() const { return *g_; }

  private:
    struct Node {
        uint32_t pos;     // index into code of the element this stack waits for
        uint32_t parent;  // the stack below; 0 is the empty stack
    };
    struct SetInfo {
        uint32_t first, n_stacks;  // range in set_stacks_
        bool accepting;
    };
    struct VecHash {
        size_t operator()(const std::vector<uint32_t> &v) const noexcept;
    };

    uint32_t make(uint32_t pos, uint32_t parent);
    void expand(uint32_t node, std::vector<uint32_t> &out);
    StateId intern(std::vector<uint32_t> &stacks);
    StateId compute_step(StateId s, uint8_t byte);

    std::shared_ptr<const Grammar> g_;
    std::vector<Node> nodes_;  // nodes_[0] is the empty stack
    IdIndex node_ids_;         // (pos << 32 | parent) -> node
    std::vector<uint32_t> set_stacks_;
    std::vector<SetInfo> sets_;  // sets_[0] is the dead state
    std::unordered_map<std::vector<uint32_t>, StateId, VecHash> set_ids_;
    // One row per state, one entry per byte class (-1 = not computed yet): a JSON Schema's few
    // dozen classes make a row a few cache lines instead of 1 KiB, which keeps the rows a mask's
    // trie walk touches in cache.
    std::vector<int32_t> transitions_;
    uint32_t n_classes_ = 1;
    uint8_t byte_class_[256] = {};
    std::vector<std::vector<uint8_t>> class_members_;
    std::vector<uint32_t> marks_;
    std::vector<uint32_t> scratch_;  // compute_step's stack list  // expand(): epoch of the step
                                     // that last expanded a node
    uint32_t epoch_ = 0;
    StateId start_ = 0;
};

}  // namespace hfk::constrain
