#include "constrain/utf8_stream.h"

#include "tokenizer/utf8.h"

namespace hfk::constrain {

std::string Utf8Stream::push(std::string_view bytes) {
    pending_.append(bytes);
    // Find the start of the last character; hold it back if its sequence is not complete.
    size_t cut = pending_.size();
    size_t k = 0;
    while (k < 4 && k < pending_.size() &&
           (uint8_t(pending_[pending_.size() - 1 - k]) & 0xC0) == 0x80)
        ++k;
    if (k < pending_.size()) {
        const uint8_t lead = uint8_t(pending_[pending_.size() - 1 - k]);
        const size_t need = lead < 0x80    ? 1
                            : lead >= 0xF0 ? 4
                            : lead >= 0xE0 ? 3
                            : lead >= 0xC0 ? 2
                                           : 1;
        if (need > k + 1) cut = pending_.size() - 1 - k;
    }
    std::string out = utf8::sanitize(std::string_view(pending_).substr(0, cut));
    pending_.erase(0, cut);
    return out;
}

std::string Utf8Stream::flush() {
    std::string out = utf8::sanitize(pending_);
    pending_.clear();
    return out;
}

}  // namespace hfk::constrain
