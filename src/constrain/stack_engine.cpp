#include "constrain/stack_engine.h"

#include <algorithm>

#include "util/error.h"

namespace hfk::constrain {

namespace {
constexpr size_t kMaxStackNodes = 8u << 20;
constexpr size_t kMaxStacksPerState = 1u << 16;
}  // namespace

size_t StackEngine::VecHash::operator()(const std::vector<uint32_t> &v) const noexcept {
    uint64_t h = 0xcbf29ce484222325ull;
    for (uint32_t x : v) h = (h ^ x) * 0x100000001b3ull;
    return size_t(h ^ (h >> 29));
}

StackEngine::StackEngine(std::shared_ptr<const Grammar> grammar) : g_(std::move(grammar)) {
    // Byte classes by refinement: split every class by membership in each byte set in turn.
    std::vector<int32_t> split(512);
    uint32_t n_classes = 1;
    for (const ByteSet &set : g_->byte_sets) {
        std::fill(split.begin(), split.begin() + 2 * n_classes, -1);
        uint32_t next = 0;
        uint8_t cls[256];
        for (unsigned b = 0; b < 256; ++b) {
            int32_t &id = split[2 * byte_class_[b] + (set.has(uint8_t(b)) ? 1 : 0)];
            if (id < 0) id = int32_t(next++);
            cls[b] = uint8_t(id);
        }
        std::copy(cls, cls + 256, byte_class_);
        n_classes = next;
        if (n_classes == 256) break;
    }
    class_members_.resize(n_classes);
    for (unsigned b = 0; b < 256; ++b) class_members_[byte_class_[b]].push_back(uint8_t(b));
    nodes_.push_back({0, 0});
    sets_.push_back({0, 0, false});  // dead
    n_classes_ = n_classes;
    transitions_.assign(n_classes_, int32_t(kDeadState));
    std::vector<uint32_t> stacks;
    ++epoch_;
    for (uint32_t alt : g_->rules[g_->root]) expand(make(alt, 0), stacks);
    start_ = intern(stacks);
}

uint32_t StackEngine::make(uint32_t pos, uint32_t parent) {
    // A position at the end of an alternative is the stack below (a tail call): right
    // recursion such as `star ::= x star` then never grows the stack.
    if (g_->code[pos].kind == Element::End) return parent;
    const uint64_t key = (uint64_t(pos) << 32) | parent;
    bool inserted = false;
    const uint32_t id = node_ids_.find_or_insert(key, uint32_t(nodes_.size()), inserted);
    if (inserted) {
        nodes_.push_back({pos, parent});  // first, so that the index never names a missing node
        if (nodes_.size() > kMaxStackNodes)
            fail(HFK_E_RESOURCE, "the grammar's parse stacks grew beyond " +
                                     std::to_string(kMaxStackNodes) + " nodes");
    }
    return id;
}

// Appends to `out` every stack reachable from `node` whose top waits for a byte, and the empty
// stack (0) when the whole input can end here. Each node is expanded once per step: the same
// node always expands the same way, which also ends cycles through empty-matching rules.
void StackEngine::expand(uint32_t node, std::vector<uint32_t> &out) {
    if (node >= marks_.size()) marks_.resize(nodes_.size() + 1024, 0);
    if (marks_[node] == epoch_) return;
    marks_[node] = epoch_;
    if (node == 0) {
        out.push_back(0);
        return;
    }
    const Node n = nodes_[node];
    const Element e = g_->code[n.pos];
    if (e.kind == Element::Bytes) {
        out.push_back(node);
        if (out.size() > kMaxStacksPerState)
            fail(HFK_E_RESOURCE, "the grammar is too ambiguous (more than " +
                                     std::to_string(kMaxStacksPerState) + " parse stacks)");
        return;
    }
    const uint32_t cont = make(n.pos + 1, n.parent);
    for (uint32_t alt : g_->rules[e.index]) expand(make(alt, cont), out);
}

StateId StackEngine::intern(std::vector<uint32_t> &stacks) {
    if (stacks.empty()) return kDeadState;
    std::sort(stacks.begin(), stacks.end());
    stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
    auto it = set_ids_.find(stacks);
    if (it != set_ids_.end()) return it->second;
    const StateId id = StateId(sets_.size());
    sets_.push_back({uint32_t(set_stacks_.size()), uint32_t(stacks.size()), stacks[0] == 0});
    set_stacks_.insert(set_stacks_.end(), stacks.begin(), stacks.end());
    transitions_.resize(transitions_.size() + n_classes_, -1);
    set_ids_.emplace(stacks, id);
    return id;
}

StateId StackEngine::compute_step(StateId s, uint8_t byte) {
    if (s == kDeadState) return kDeadState;
    std::vector<uint32_t> &next = scratch_;  // reused: no allocation per step
    next.clear();
    ++epoch_;
    const SetInfo info = sets_[s];
    for (uint32_t k = 0; k < info.n_stacks; ++k) {
        const uint32_t node = set_stacks_[info.first + k];
        if (node == 0) continue;
        const Node n = nodes_[node];
        const Element e = g_->code[n.pos];
        if (g_->byte_sets[e.index].has(byte)) expand(make(n.pos + 1, n.parent), next);
    }
    return intern(next);
}

}  // namespace hfk::constrain
