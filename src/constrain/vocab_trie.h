// The vocabulary as a byte trie, built once per tokenizer: every token that can be generated,
// under the exact bytes it adds to the text (byte-fallback tokens as their single byte, pieces
// of a multi-byte character as those bytes). Special tokens are left out: the constraint
// decides about end-of-sequence tokens separately. Nodes are stored in depth-first order with
// the index just past each subtree, so a walk can skip a subtree the grammar rules out.
// The tokens are numbered in the same depth-first order ("slots": slot j is token_ids()[j]), so
// the tokens of a subtree are one contiguous run of slots, and for each node the trie keeps
// what a mask needs to decide a whole subtree at once: the bytes that occur below the node and
// how deep the subtree goes (see TokenMasker).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "constrain/grammar.h"
#include "tokenizer/tokenizer.h"

namespace hfk::constrain {

class VocabTrie {
  public:
    struct Node {
        uint8_t byte;
        uint16_t depth;        // root = 0
        uint32_t skip;         // index just past this node's subtree
        uint32_t first_token;  // range in token_ids() of this node's own tokens, and the
        uint32_t n_tokens;     // first slot of its subtree
    };

    // `n_ids`: ids [0, n_ids) are candidates (the sampleable part of the model's vocabulary).
    VocabTrie(const Tokenizer &tok, int32_t n_ids);

    // Cached per tokenizer and n_ids (built on first use, shared while anyone holds it).
    static std::shared_ptr<const VocabTrie> get(const std::shared_ptr<const Tokenizer> &tok,
                                                int32_t n_ids);

    const std::vector<Node> &nodes() const { return nodes_; }
    const std::vector<int32_t> &token_ids() const { return token_ids_; }  // slot -> id
    size_t n_slots() const { return token_ids_.size(); }
    // Slots [nodes()[i].first_token, subtree_end(i)) are the tokens of node i's subtree.
    uint32_t subtree_end(size_t i) const {
        const uint32_t skip = nodes_[i].skip;
        return skip < nodes_.size() ? nodes_[skip].first_token : uint32_t(token_ids_.size());
    }
    // The bytes of the nodes strictly below node i, and how many levels they span (0: a leaf).
    const ByteSet &bytes_below(size_t i) const { return below_[i]; }
    uint32_t height(size_t i) const { return height_[i]; }
    // Ids in [0, n_ids()) that no slot holds (special tokens, tokens that add no bytes).
    const std::vector<int32_t> &absent_ids() const { return absent_ids_; }
    // The bytes each id adds to the text; "" for ids left out (special, or nothing to add).
    const std::string &token_bytes(int32_t id) const { return bytes_[size_t(id)]; }
    int32_t n_ids() const { return int32_t(bytes_.size()); }
    size_t max_depth() const { return max_depth_; }

  private:
    std::vector<Node> nodes_;
    std::vector<int32_t> token_ids_;
    std::vector<ByteSet> below_;
    std::vector<uint16_t> height_;
    std::vector<int32_t> absent_ids_;
    std::vector<std::string> bytes_;
    size_t max_depth_ = 0;
};

// What token `id` adds to text that already holds other tokens (mid-text, so a SentencePiece
// word-start marker is the space it stands for). Raw bytes: partial UTF-8 is kept.
std::vector<std::string> vocabulary_bytes(const Tokenizer &tok, int32_t n_ids);

}  // namespace hfk::constrain
