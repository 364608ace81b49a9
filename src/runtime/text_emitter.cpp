#include "runtime/text_emitter.h"

#include <algorithm>

#include "tokenizer/utf8.h"

namespace hfk {

size_t utf8_complete_prefix(std::string_view s) {
    // Look back at most 3 bytes for the lead byte of the last character.
    const size_t n = s.size();
    for (size_t back = 1; back <= std::min<size_t>(4, n); ++back) {
        const auto c = static_cast<unsigned char>(s[n - back]);
        if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
        size_t need = 1;
        if ((c & 0xE0) == 0xC0) need = 2;
        else if ((c & 0xF0) == 0xE0) need = 3;
        else if ((c & 0xF8) == 0xF0) need = 4;
        return back < need ? n - back : n;
    }
    return n;
}

TextEmitter::TextEmitter(std::vector<std::string> stop_strings) {
    for (auto &s : stop_strings)
        if (!s.empty()) stops_.push_back(std::move(s));
}

std::string TextEmitter::push(std::string_view text) {
    if (stopped_) return {};
    pending_.append(text);

    size_t first_stop = std::string::npos;
    for (const auto &stop : stops_) first_stop = std::min(first_stop, pending_.find(stop));
    if (first_stop != std::string::npos) {
        stopped_ = true;
        std::string out = utf8::sanitize(std::string_view(pending_).substr(0, first_stop));
        pending_.clear();
        return out;
    }

    // Hold back the longest tail that is a proper prefix of a stop string.
    size_t hold = 0;
    for (const auto &stop : stops_) {
        const size_t max_len = std::min(stop.size() - 1, pending_.size());
        for (size_t len = max_len; len > hold; --len) {
            if (pending_.compare(pending_.size() - len, len, stop, 0, len) == 0) {
                hold = len;
                break;
            }
        }
    }
    size_t release = pending_.size() - hold;
    release = utf8_complete_prefix(std::string_view(pending_).substr(0, release));
    // Whatever the decoder gave us, what leaves here is valid UTF-8 (a malformed run becomes
    // U+FFFD, as from_utf8_lossy does).
    std::string out = utf8::sanitize(std::string_view(pending_).substr(0, release));
    pending_.erase(0, release);
    return out;
}

std::string TextEmitter::finish() {
    if (stopped_) return {};
    std::string out = utf8::sanitize(pending_);  // an incomplete tail becomes U+FFFD too
    pending_.clear();
    return out;
}

}  // namespace hfk
