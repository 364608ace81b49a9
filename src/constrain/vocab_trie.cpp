#include "constrain/vocab_trie.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <numeric>

namespace hfk::constrain {

std::vector<std::string> vocabulary_bytes(const Tokenizer &tok, int32_t n_ids) {
    // Decoders treat the first token of a text specially (Metaspace drops its leading space,
    // Strip removes one): decode each token after an anchor token and keep what it added.
    int32_t anchor = -1;
    std::string anchor_text;
    for (int32_t id = 0; id < n_ids && anchor < 0; ++id) {
        if (tok.is_special(id)) continue;
        const int32_t one[1] = {id};
        std::string t = tok.decode_raw(one);
        if (t.size() == 1 && ((t[0] >= 'a' && t[0] <= 'z') || (t[0] >= 'A' && t[0] <= 'Z'))) {
            anchor = id;
            anchor_text = t;
        }
    }
    std::vector<std::string> out(size_t(std::max(n_ids, 0)));
    for (int32_t id = 0; id < n_ids; ++id) {
        if (tok.is_special(id)) continue;
        if (anchor < 0) {
            const int32_t one[1] = {id};
            out[size_t(id)] = tok.decode_raw(one);
            continue;
        }
        const int32_t two[2] = {anchor, id};
        std::string t = tok.decode_raw(two);
        if (t.compare(0, anchor_text.size(), anchor_text) == 0)
            out[size_t(id)] = t.substr(anchor_text.size());
        else  // a decoder that rewrote the anchor too (cannot be attributed): leave the id out
            out[size_t(id)].clear();
    }
    return out;
}

VocabTrie::VocabTrie(const Tokenizer &tok, int32_t n_ids) : bytes_(vocabulary_bytes(tok, n_ids)) {
    std::vector<int32_t> order;
    for (int32_t id = 0; id < int32_t(bytes_.size()); ++id)
        if (!bytes_[size_t(id)].empty()) order.push_back(id);
    // Sorted by bytes, so each subtree is a contiguous run; ties by id.
    std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
        int c = bytes_[size_t(a)].compare(bytes_[size_t(b)]);
        return c < 0 || (c == 0 && a < b);
    });
    token_ids_.reserve(order.size());
    nodes_.push_back({0, 0, 0, 0, 0});  // root
    std::vector<uint32_t> path{0};      // node index per depth along the current branch
    std::string prev;
    for (int32_t id : order) {
        const std::string &b = bytes_[size_t(id)];
        size_t common = 0;
        while (common < prev.size() && common < b.size() && prev[common] == b[common]) ++common;
        // Close the nodes of prev below the common prefix.
        while (path.size() > common + 1) {
            nodes_[path.back()].skip = uint32_t(nodes_.size());
            path.pop_back();
        }
        for (size_t d = common; d < b.size(); ++d) {
            path.push_back(uint32_t(nodes_.size()));
            nodes_.push_back({uint8_t(b[d]), uint16_t(std::min<size_t>(d + 1, 65535)), 0,
                              uint32_t(token_ids_.size()), 0});
        }
        Node &leaf = nodes_[path.back()];
        if (leaf.n_tokens == 0) leaf.first_token = uint32_t(token_ids_.size());
        token_ids_.push_back(id);
        ++leaf.n_tokens;
        max_depth_ = std::max(max_depth_, b.size());
        prev = b;
    }
    while (!path.empty()) {
        nodes_[path.back()].skip = uint32_t(nodes_.size());
        path.pop_back();
    }
    // Bottom-up (children come after their parent in depth-first order): fold each node's
    // byte, its bytes below and its height into its parent, found with a stack of ancestors.
    below_.assign(nodes_.size(), ByteSet{});
    height_.assign(nodes_.size(), 0);
    std::vector<uint32_t> parent(nodes_.size(), 0);
    std::vector<uint32_t> ancestors{0};
    for (uint32_t i = 1; i < nodes_.size(); ++i) {
        while (nodes_[ancestors.back()].skip <= i && ancestors.back() != 0) ancestors.pop_back();
        parent[i] = ancestors.back();
        ancestors.push_back(i);
    }
    for (uint32_t i = uint32_t(nodes_.size()); i-- > 1;) {
        const uint32_t p = parent[i];
        below_[p].add(nodes_[i].byte);
        for (int w = 0; w < 4; ++w) below_[p].bits[w] |= below_[i].bits[w];
        height_[p] = std::max<uint16_t>(height_[p], uint16_t(height_[i] + 1));
    }
    for (int32_t id = 0; id < int32_t(bytes_.size()); ++id)
        if (bytes_[size_t(id)].empty()) absent_ids_.push_back(id);
}

std::shared_ptr<const VocabTrie> VocabTrie::get(const std::shared_ptr<const Tokenizer> &tok,
                                                int32_t n_ids) {
    struct Entry {
        std::weak_ptr<const Tokenizer> tok;
        std::shared_ptr<const VocabTrie> trie;  // kept while the tokenizer lives
    };
    static std::mutex mu;
    static std::map<std::pair<const Tokenizer *, int32_t>, Entry> cache;
    std::lock_guard<std::mutex> lock(mu);
    for (auto it = cache.begin(); it != cache.end();)  // drop entries of freed tokenizers
        it = it->second.tok.expired() ? cache.erase(it) : std::next(it);
    Entry &e = cache[{tok.get(), n_ids}];
    if (e.trie && e.tok.lock() == tok) return e.trie;
    auto t = std::make_shared<const VocabTrie>(*tok, n_ids);
    e.tok = tok;
    e.trie = t;
    return t;
}

}  // namespace hfk::constrain
