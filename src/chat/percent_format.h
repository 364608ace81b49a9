// Python's printf-style formatting (str % values), used by the % operator and the format filter.
#pragma once

#include <string>
#include <vector>

#include "chat/value.h"

namespace hfk::chat {

// `fmt % args`: conversions s r a d i u f F e E g G x X o c and %%, with flags (-+ #0), width,
// precision (and * for either) and %(name)s keys looked up in `mapping` (may be null). Throws
// TemplateError with Python's messages for a missing or unused argument.
std::string py_percent_format(const std::string &fmt, const std::vector<Value> &args,
                              const Dict *mapping);

}  // namespace hfk::chat
