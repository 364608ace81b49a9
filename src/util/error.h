// The engine's one error type. Engine code throws hfk::Error with a public status code and a
// message; the C ABI guard (capi/src/guard.h) turns it into a return code plus the thread-local
// last-error message. Nothing else is thrown on purpose (std::bad_alloc is mapped separately).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "hfkit/hfkit.h"  // HFK_E_* status codes

namespace hfk {

class Error : public std::runtime_error {
public:
    Error(int32_t status, const std::string &message)
        : std::runtime_error(message), status_(status) {}
    int32_t status() const noexcept { return status_; }

private:
    int32_t status_;
};

[[noreturn]] inline void fail(int32_t status, const std::string &message) {
    throw Error(status, message);
}

}  // namespace hfk
