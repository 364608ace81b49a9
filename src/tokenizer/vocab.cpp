#include "tokenizer/vocab.h"

#include <algorithm>

#include "tokenizer/json_util.h"

namespace hfk::tok {

void Vocab::add(std::string token, int64_t id, const std::string &where) {
    if (id < 0 || id > kMaxId) bad(where, "token id " + std::to_string(id) + " out of range");
    if (token.size() > kMaxTokenBytes)
        bad(where, "token of " + std::to_string(token.size()) + " bytes (limit 1024) at id " +
                       std::to_string(id));
    size_t i = size_t(id);
    if (i >= tokens_.size()) {
        // Gaps are allowed, but a huge id with few tokens would waste memory: bound the table by
        // 64 slots per token plus a little (real files are dense).
        if (i > 64 * (std::max(expected_, ids_.size()) + 1024))
            bad(where,
                "token id " + std::to_string(id) + " leaves too large a gap in the vocabulary");
        tokens_.resize(i + 1);
        present_.resize(i + 1, false);
    }
    if (present_[i]) bad(where, "duplicate token id " + std::to_string(id));
    auto [it, inserted] = ids_.emplace(token, int32_t(id));
    if (!inserted) bad(where, "duplicate token '" + token.substr(0, 64) + "'");
    tokens_[i] = std::move(token);
    present_[i] = true;
}

void Vocab::add(std::string token, const json &id, const std::string &where) {
    if (!id.is_number_integer())
        bad(where, "id of '" + token.substr(0, 64) + "' is not an integer");
    const bool in_range = id.is_number_unsigned() ? id.get<uint64_t>() <= uint64_t(kMaxId)
                                                  : id.get<int64_t>() >= 0;  // <= kMaxId here
    if (!in_range)
        bad(where, "token id " + id.dump() + " of '" + token.substr(0, 64) + "' out of range [0, " +
                       std::to_string(kMaxId) + "]");
    add(std::move(token), id.get<int64_t>(), where);
}

}  // namespace hfk::tok
