// Oniguruma-style regexes from tokenizer.json, run by PCRE2 (UTF + UCP, JIT where available).
// tokenizer.json regexes are written for Oniguruma (the Rust library's engine); the few constructs
// whose meaning differs in PCRE2 are translated (see to_pcre2). Matching is bounded: every match
// call has a match limit and a depth/heap limit, so a pathological pattern fails with an error
// instead of running for ever or overflowing the stack.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace hfk::tok {

class Regex {
  public:
    // Throws HFK_E_FORMAT naming `what` and the PCRE2 message when the pattern does not compile.
    Regex(std::string_view oniguruma_pattern, std::string_view what);
    ~Regex();
    Regex(const Regex &) = delete;
    Regex &operator=(const Regex &) = delete;

    // Finds the leftmost match in s starting at byte `from` (s must be valid UTF-8).
    // Returns false if none. Throws HFK_E_RESOURCE if the match limits are hit.
    bool find(std::string_view s, size_t from, size_t &match_start, size_t &match_end) const;

    // Calls f(start, end) for every non-overlapping match, left to right. After an empty match the
    // search resumes one character later, as Oniguruma's and Rust's find_iter do.
    template <class F>
    void for_each_match(std::string_view s, F &&f) const {
        size_t pos = 0, ms = 0, me = 0;
        while (pos <= s.size() && find(s, pos, ms, me)) {
            f(ms, me);
            if (me == ms) {
                if (me >= s.size()) break;
                pos = me + 1;
                while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
            } else {
                pos = me;
            }
        }
    }

    const std::string &pattern() const { return pattern_; }

  private:
    std::string pattern_;
    void *code_ = nullptr;  // pcre2_code_8*
};

// Translates the Oniguruma constructs whose PCRE2 meaning differs (\h, \H: hex digits in
// Oniguruma).
std::string to_pcre2(std::string_view oniguruma_pattern);

}  // namespace hfk::tok
