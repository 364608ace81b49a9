// The vocabulary as a byte trie, built once per tokenizer: every token that can be generated,
// under the exact bytes it adds to the text (byte-fallback tokens as their single byte, pieces
// of a multi-byte character as those bytes). Special tokens are left out: the constraint
// decides about end-of-sequence tokens separately. Nodes are stored in depth-first order with
// the index just past each subtree, so a walk can skip a subtree the grammar rules out.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace hfk::constrain {

class VocabTrie {
  public:
    struct Node {
        uint8_t byte;
        uint16_t depth;        // root = 0
        uint32_t skip;         // index just past this node's subtree
        uint32_t first_token;  // range in token_ids()
        uint32_t n_tokens;
    };

    // `n_ids`: ids [0, n_ids) are candidates (the sampleable part of the model's vocabulary).
    VocabTrie(const Tokenizer &tok, int32_t n_ids);

    // Cached per tokenizer and n_ids (built on first use, shared while anyone holds it).
    static std::shared_ptr<const VocabTrie> get(const std::shared_ptr<const Tokenizer> &tok,
                                                int32_t n_ids);

    const std::vector<Node> &nodes() const { return nodes_; }
    const std::vector<int32_t> &token_ids() const { return token_ids_; }
    // The bytes each id adds to the text; "" for ids left out (special, or nothing to add).
    const std::string &token_bytes(int32_t id) const { return bytes_[size_t(id)]; }
    int32_t n_ids() const { return int32_t(bytes_.size()); }
    size_t max_depth() const { return max_depth_; }

  private:
    std::vector<Node> nodes_;
    std::vector<int32_t> token_ids_;
    std::vector<std::string> bytes_;
    size_t max_depth_ = 0;
};

// What token `id` adds to text that already holds other tokens (mid-text, so a SentencePiece
// word-start marker is the space it stands for). Raw bytes: partial UTF-8 is kept.
std::vector<std::string> vocabulary_bytes(const Tokenizer &tok, int32_t n_ids);

}  // namespace hfk::constrain
