// A token <-> id table, validated as it is built from untrusted data (RELIABILITY.md TK3):
// ids in [0, 2^31-1), no duplicate ids or tokens, tokens at most 1 KiB. Ids may have gaps
// (a gap is simply an id with no token).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/components.h"

namespace hfk::tok {

class Vocab {
  public:
    static constexpr size_t kMaxTokenBytes = 1024;
    static constexpr int64_t kMaxId = (int64_t(1) << 31) - 2;

    // Throws HFK_E_FORMAT (naming `where`) on a duplicate, an out-of-range id or an oversize token.
    void add(std::string token, int64_t id, const std::string &where);
    // The same, with the id as tokenizer.json gives it: an integer in [0, kMaxId], else
    // HFK_E_FORMAT quoting the number as written (never a wrapped or clamped value).
    void add(std::string token, const nlohmann::json &id, const std::string &where);
    // The number of tokens that will be added: bounds the id gaps (ids come in any order).
    void reserve(size_t n) {
        expected_ = n;
        ids_.reserve(n);
    }
    int32_t find(std::string_view token) const {
        auto it = ids_.find(token);
        return it == ids_.end() ? -1 : it->second;
    }
    const std::string *token(int32_t id) const {
        if (id < 0 || size_t(id) >= tokens_.size() || !present_[size_t(id)]) return nullptr;
        return &tokens_[size_t(id)];
    }
    int32_t max_id() const { return int32_t(tokens_.size()) - 1; }
    size_t size() const { return ids_.size(); }

  private:
    std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> ids_;
    std::vector<std::string> tokens_;
    std::vector<bool> present_;
    size_t expected_ = 0;
};

}  // namespace hfk::tok
