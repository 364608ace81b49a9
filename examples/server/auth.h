// The API key check: "Authorization: Bearer KEY", compared in constant time.
#pragma once

#include <string>
#include <string_view>

namespace server {

// True when `header` (the Authorization header's value) carries `key`. The comparison takes
// the same time whatever the position of the first differing byte.
bool authorized(std::string_view header, const std::string &key);

}  // namespace server
