// Errors of the template engine, by the kind the C API maps to a status.
#pragma once

#include <stdexcept>
#include <string>

namespace hfk::chat {

enum class ErrorKind {
    Syntax,    // the template does not parse
    Runtime,   // an undefined variable chain, a type error, a bad filter argument
    Raised,    // raise_exception(msg) from the template; what() is exactly msg
    Resource,  // a sandbox limit: output size, loop iterations, recursion depth, steps
};

class TemplateError : public std::runtime_error {
  public:
    TemplateError(ErrorKind kind, const std::string &msg) : std::runtime_error(msg), kind_(kind) {}
    ErrorKind kind() const { return kind_; }

  private:
    ErrorKind kind_;
};

[[noreturn]] inline void fail(const std::string &msg) {
    throw TemplateError(ErrorKind::Runtime, msg);
}

}  // namespace hfk::chat
