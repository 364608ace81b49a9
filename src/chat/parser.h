// Parses tokens into a Program. Nesting is bounded so a hostile template cannot exhaust the
// stack; every problem is a TemplateError(Syntax).
#pragma once

#include <memory>
#include <string>

#include "chat/ast.h"

namespace hfk::chat {

std::shared_ptr<Program> parse_template(const std::string &source);

}  // namespace hfk::chat
