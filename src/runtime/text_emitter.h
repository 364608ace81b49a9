// Decides which generated text may be shown to the caller yet. Two things are held back: the
// bytes of a UTF-8 character that is not complete, and a tail that could still become a stop
// string. Once a stop string appears, the text before it is released and nothing after it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hfk {

class TextEmitter {
public:
    explicit TextEmitter(std::vector<std::string> stop_strings);

    // Adds newly decoded text; returns what can be released now (possibly "").
    std::string push(std::string_view text);
    // Releases everything still held (the generation ended without a stop string). Every
    // released piece is valid UTF-8: malformed bytes and an incomplete tail become U+FFFD.
    std::string finish();
    bool stopped() const { return stopped_; }

private:
    std::vector<std::string> stops_;
    std::string pending_;
    bool stopped_ = false;
};

// Length of the longest prefix of `s` that ends on a UTF-8 character boundary, i.e. `s` minus
// a trailing incomplete sequence (a malformed tail counts as complete: it is emitted as is).
size_t utf8_complete_prefix(std::string_view s);

}  // namespace hfk
