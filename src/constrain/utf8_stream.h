// Text out of constrained generation: the tokens' raw bytes, exactly what the constraint
// matched, released as UTF-8 that never splits a character (the bytes of a partial character
// wait for the token that completes it).
#pragma once

#include <string>
#include <string_view>

namespace hfk::constrain {

class Utf8Stream {
  public:
    // The longest prefix of the pending bytes that ends on a character boundary.
    std::string push(std::string_view bytes);
    // What is left (an incomplete character, as U+FFFD).
    std::string flush();

  private:
    std::string pending_;
};

}  // namespace hfk::constrain
