// The {"String": "..."} / {"Regex": "..."} pattern used by Split, Replace (normalizer and decoder).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/components.h"
#include "tokenizer/regex.h"

namespace hfk::tok {

class Pattern {
  public:
    Pattern(const json &j, const std::string &where);
    // Non-overlapping matches, left to right, as (start, end) byte offsets.
    template <class F>
    void for_each_match(std::string_view s, F &&f) const {
        if (regex_) {
            regex_->for_each_match(s, f);
            return;
        }
        if (literal_.empty()) return;  // Rust finds no matches for an empty string pattern
        for (size_t pos = s.find(literal_); pos != std::string_view::npos;
             pos = s.find(literal_, pos + literal_.size()))
            f(pos, pos + literal_.size());
    }
    std::string replace_all(std::string_view s, std::string_view content) const;

  private:
    std::string literal_;
    std::unique_ptr<Regex> regex_;
};

}  // namespace hfk::tok
