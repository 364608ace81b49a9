// Added tokens ("added_tokens" in tokenizer.json): found in the text before the model runs, with
// the Rust library's matching rules: leftmost-longest, non-overlapping; tokens with
// normalized=false are matched in the raw text, the others in the normalized text (against their
// own normalized form); single_word, lstrip and rstrip are honoured.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/components.h"
#include "tokenizer/vocab.h"

namespace hfk::tok {

struct AddedToken {
    std::string content;
    int32_t id = -1;
    bool special = false, single_word = false, lstrip = false, rstrip = false, normalized = true;
};

// A byte trie over token contents that finds, at each position, the longest token starting there.
class TokenMatcher {
  public:
    void add(std::string_view pattern, int32_t token_index);
    // Longest pattern starting at s[pos]: its token index and length, or -1.
    int32_t longest_at(std::string_view s, size_t pos, size_t &len) const;
    bool empty() const { return terminal_.size() <= 1; }
    bool may_start(unsigned char b) const { return first_[b]; }

  private:
    std::unordered_map<uint64_t, int32_t> children_;  // (node << 8 | byte) -> node
    std::vector<int32_t> terminal_{-1};               // node -> token index, -1 if none
    bool first_[256] = {};
};

struct Segment {
    size_t start, end;
    int32_t id;  // the added token's id, or -1 for text between tokens
};

class AddedVocabulary {
  public:
    static constexpr size_t kMaxAddedTokens = 1 << 18;

    // Parses "added_tokens"; `model_max_id` bounds the ids (TK6).
    void load(const json &list, int32_t model_max_id);
    // Builds the matchers; normalized tokens are matched by their normalized form.
    void build(const Normalizer *normalizer);

    int32_t find(std::string_view content) const {
        auto it = by_content_.find(content);
        return it == by_content_.end() ? -1 : it->second;
    }
    const AddedToken *by_id(int32_t id) const {
        auto it = by_id_.find(id);
        return it == by_id_.end() ? nullptr : &tokens_[it->second];
    }
    int32_t max_id() const { return max_id_; }
    const std::vector<AddedToken> &tokens() const { return tokens_; }

    // Splits s into added-token matches and the text between them (raw or normalized matcher).
    void split(std::string_view s, bool normalized, std::vector<Segment> &out) const;

  private:
    std::vector<AddedToken> tokens_;
    std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> by_content_;
    std::unordered_map<int32_t, size_t> by_id_;
    TokenMatcher raw_, normalized_;
    int32_t max_id_ = -1;
};

}  // namespace hfk::tok
