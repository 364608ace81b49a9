#include "constrain/token_mask.h"

#include <algorithm>

namespace hfk::constrain {

namespace {
// 2048 masks of a 128k vocabulary are 32 MiB; beyond that the cache starts over.
constexpr size_t kMaxCachedBits = size_t(1) << 28;
// Subtrees smaller than this are walked: testing them costs about as much as walking them
// (2, 4, 8, 16, 32 measured: 8 and up within the noise of a loaded machine, 2 slower).
constexpr uint32_t kMinShortcutNodes = 8;

bool subset(const ByteSet &a, const ByteSet &b) {
    return !((a.bits[0] & ~b.bits[0]) | (a.bits[1] & ~b.bits[1]) | (a.bits[2] & ~b.bits[2]) |
             (a.bits[3] & ~b.bits[3]));
}

void set_slots_slow(TokenBits &out, uint32_t lo, uint32_t hi) {
    const uint32_t wl = lo >> 6, wh = (hi - 1) >> 6;
    const uint64_t first = ~uint64_t(0) << (lo & 63);
    const uint64_t last = ~uint64_t(0) >> (63 - ((hi - 1) & 63));
    if (wl == wh) {
        out[wl] |= first & last;
        return;
    }
    out[wl] |= first;
    for (uint32_t w = wl + 1; w < wh; ++w) out[w] = ~uint64_t(0);
    out[wh] |= last;
}

// Most calls set no slot (a node inside a token) or one (a node that ends one): in line.
inline void set_slots(TokenBits &out, uint32_t lo, uint32_t hi) {
    if (hi <= lo) return;
    if (hi == lo + 1) {
        out[lo >> 6] |= uint64_t(1) << (lo & 63);
        return;
    }
    set_slots_slow(out, lo, hi);
}
}  // namespace

const TokenBits &TokenMasker::mask(StateId s) {
    auto it = cache_.find(s);
    if (it != cache_.end()) return it->second;
    const size_t words = (trie_->n_slots() + 63) / 64;
    if ((cache_.size() + 1) * words * 64 > kMaxCachedBits) cache_.clear();
    TokenBits &bits = cache_[s];
    compute(s, bits);
    return bits;
}

TokenBits TokenMasker::id_mask(StateId s) {
    const TokenBits &slots = mask(s);
    const auto &ids = trie_->token_ids();
    TokenBits out((size_t(trie_->n_ids()) + 63) / 64, 0);
    for (size_t w = 0; w < slots.size(); ++w)
        for (uint64_t word = slots[w]; word; word &= word - 1) {
            const int32_t id = ids[w * 64 + size_t(__builtin_ctzll(word))];
            out[size_t(id) >> 6] |= uint64_t(1) << (id & 63);
        }
    return out;
}

const TokenMasker::Run &TokenMasker::run_slow(StateId t) {
    if (t >= runs_.size()) runs_.resize(size_t(t) + 1);
    if (runs_[t].known) return runs_[t];
    // One step per byte class (every byte of a class has the same successor): count the bytes that
    // lead to each live successor and keep the most common one. A state has few distinct
    // successors, so the counts are a short list searched in line (no map: this runs once per
    // new state of a cold mask, dozens of times per mask).
    StateId best = kDeadState;
    uint32_t best_n = 0;
    const uint32_t n_classes = engine_.n_byte_classes();
    std::vector<StateId> &succ = run_succ_;
    succ.resize(n_classes);
    run_counts_.clear();
    for (uint32_t c = 0; c < n_classes; ++c) {
        const auto &members = engine_.class_members(c);
        succ[c] = engine_.step(t, members[0]);
        if (succ[c] == kDeadState) continue;
        auto it = std::find_if(run_counts_.begin(), run_counts_.end(),
                               [&](const auto &sc) { return sc.first == succ[c]; });
        if (it == run_counts_.end()) it = run_counts_.insert(it, {succ[c], 0u});
        uint32_t &n = it->second;
        n += uint32_t(members.size());
        if (n > best_n || (n == best_n && succ[c] < best)) {
            best = succ[c];
            best_n = n;
        }
    }
    if (t >= runs_.size()) runs_.resize(size_t(t) + 1);  // stepping made new states
    Run &r = runs_[t];
    r.known = true;
    r.succ = best;
    r.self_loop = best == t;
    if (best != kDeadState)
        for (uint32_t c = 0; c < n_classes; ++c)
            if (succ[c] == best)
                for (uint8_t b : engine_.class_members(c)) r.bytes.add(b);
    return r;
}

// I(t, h): see the header. Computed by I(t, h) = U(t) ∩ I(u(t), h - 1), memoised per state.
const ByteSet &TokenMasker::run_bytes_slow(StateId t, uint32_t h) {
    static const ByteSet kNone{};
    const Run &r0 = run(t);
    if (!r0.within.empty() && r0.within.back().empty()) return kNone;
    const StateId succ = r0.succ;
    while (runs_[t].within.size() < h) {
        const uint32_t k = uint32_t(runs_[t].within.size()) + 1;
        ByteSet x = runs_[t].bytes;
        if (k > 1) {
            const ByteSet below = run_bytes(succ, k - 1);  // may grow runs_
            for (int w = 0; w < 4; ++w) x.bits[w] &= below.bits[w];
        }
        runs_[t].within.push_back(x);
        if (x.empty()) return kNone;  // and so for every larger h
    }
    return runs_[t].within[h - 1];
}

void TokenMasker::compute(StateId s, TokenBits &out) {
    out.assign((trie_->n_slots() + 63) / 64, 0);
    const VocabTrie &trie = *trie_;
    const auto &nodes = trie.nodes();
    depth_state_.resize(trie.max_depth() + 1);
    depth_state_[0] = s;
    if (s == kDeadState) return;
    for (uint32_t i = 1; i < nodes.size();) {
        const VocabTrie::Node &n = nodes[i];
        const StateId next = engine_.step(depth_state_[n.depth - 1], n.byte);
        if (next == kDeadState) {
            i = n.skip;
            continue;
        }
        if (n.skip - i >= kMinShortcutNodes) {
            // The cheap necessary test (one level) first, then the whole height.
            const ByteSet &below = trie.bytes_below(i);
            if (subset(below, run(next).bytes) && subset(below, run_bytes(next, trie.height(i)))) {
                set_slots(out, n.first_token, trie.subtree_end(i));
                ++n_shortcuts_;
                i = n.skip;
                continue;
            }
        }
        ++n_walked_;
        depth_state_[n.depth] = next;
        set_slots(out, n.first_token, n.first_token + n.n_tokens);
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
