// Status names, the thread-local last-error message, and hfk_free.
#include <cstdlib>
#include <cstring>
#include <string>

#include "guard.h"

namespace hfk::capi {
namespace {
thread_local std::string t_last_error;
thread_local std::string t_last_warning;
}  // namespace

void set_warning(std::string_view message) noexcept {
    try {
        t_last_warning.assign(message);
    } catch (...) {
        t_last_warning.clear();
    }
}

hfk_status set_error(hfk_status status, std::string_view message) noexcept {
    try {
        t_last_error.assign(message);
    } catch (...) {
        // Out of memory while storing the message: keep the status, drop the detail.
        t_last_error.clear();
    }
    return status;
}

char *dup_string(std::string_view s) {
    char *out = static_cast<char *>(std::malloc(s.size() + 1));
    if (out == nullptr) throw std::bad_alloc();
    std::memcpy(out, s.data(), s.size());
    out[s.size()] = '\0';
    return out;
}

}  // namespace hfk::capi

extern "C" {

HFK_API const char *hfk_status_name(hfk_status code) noexcept {
    switch (code) {
#define HFK_NAME(c) \
    case c:         \
        return #c;
        HFK_NAME(HFK_OK)
        HFK_NAME(HFK_E_INVALID_ARG)
        HFK_NAME(HFK_E_NOMEM)
        HFK_NAME(HFK_E_IO)
        HFK_NAME(HFK_E_NETWORK)
        HFK_NAME(HFK_E_AUTH)
        HFK_NAME(HFK_E_NOT_FOUND)
        HFK_NAME(HFK_E_CHECKSUM)
        HFK_NAME(HFK_E_UNSUPPORTED)
        HFK_NAME(HFK_E_FORMAT)
        HFK_NAME(HFK_E_CONTEXT_FULL)
        HFK_NAME(HFK_E_CANCELLED)
        HFK_NAME(HFK_E_REENTRANT)
        HFK_NAME(HFK_E_STATE)
        HFK_NAME(HFK_E_BUSY)
        HFK_NAME(HFK_E_GATED)
        HFK_NAME(HFK_E_REVISION_NOT_FOUND)
        HFK_NAME(HFK_E_ENTRY_NOT_FOUND)
        HFK_NAME(HFK_E_DISABLED)
        HFK_NAME(HFK_E_RATE_LIMITED)
        HFK_NAME(HFK_E_SERVER)
        HFK_NAME(HFK_E_OFFLINE)
        HFK_NAME(HFK_E_NO_SPACE)
        HFK_NAME(HFK_E_RESOURCE)
        HFK_NAME(HFK_E_CALLBACK)
        HFK_NAME(HFK_E_NUMERIC)
        HFK_NAME(HFK_E_IN_USE)
        HFK_NAME(HFK_E_BUFFER_TOO_SMALL)
        HFK_NAME(HFK_E_INTERNAL)
#undef HFK_NAME
    }
    return "HFK_E_UNKNOWN";
}

HFK_API const char *hfk_last_error_message(void) noexcept {
    return hfk::capi::t_last_error.c_str();
}

HFK_API const char *hfk_last_warning(void) noexcept {
    return hfk::capi::t_last_warning.c_str();
}

HFK_API void hfk_free(void *ptr) noexcept { std::free(ptr); }

}  // extern "C"
