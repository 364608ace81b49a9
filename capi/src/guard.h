// The one place where C++ meets the C ABI. Every exported function runs its body through
// hfk::capi::guard(), which turns any exception into a status code and a thread-local message,
// so nothing is ever thrown across extern "C" (see STYLE.md, pitfall 4).
#pragma once

#include <cstring>
#include <new>
#include <string>
#include <string_view>

#include "hfkit/hfkit.h"
#include "model/dtype.h"
#include "util/error.h"

namespace hfk::capi {

// Records `message` as this thread's last error and returns `status`. Never throws: if the
// message cannot be stored, a fixed text is used instead.
hfk_status set_error(hfk_status status, std::string_view message) noexcept;
// The caveat hfk_last_warning() returns on this thread ("" clears it).
void set_warning(std::string_view message) noexcept;

// Runs `body` (returning hfk_status) and maps every exception to a status code.
template <class Body>
hfk_status guard(Body &&body) noexcept {
    try {
        return body();
    } catch (const hfk::Error &e) {
        return set_error(e.status(), e.what());
    } catch (const std::bad_alloc &) {
        return set_error(HFK_E_NOMEM, "out of memory");
    } catch (const std::exception &e) {
        return set_error(HFK_E_INTERNAL, std::string("internal error: ") + e.what());
    } catch (...) {
        return set_error(HFK_E_INTERNAL, "internal error: unknown exception");
    }
}

// Fails with HFK_E_INVALID_ARG when a required pointer argument is NULL.
#define HFK_REQUIRE_ARG(ptr)                                                                     \
    do {                                                                                         \
        if ((ptr) == nullptr)                                                                    \
            return ::hfk::capi::set_error(HFK_E_INVALID_ARG, "argument '" #ptr "' is NULL");     \
    } while (0)

// Copies the first `caller_size` bytes of the caller's options struct over library defaults,
// so an older (shorter) struct from the caller gets defaults for the fields it does not know.
template <class Struct>
hfk_status read_options(Struct &out, const Struct *caller, const Struct &defaults) noexcept {
    out = defaults;
    if (caller == nullptr) return HFK_OK;
    if (caller->struct_size < sizeof(uint32_t) || caller->struct_size > sizeof(Struct))
        return set_error(HFK_E_INVALID_ARG,
                         "options struct_size " + std::to_string(caller->struct_size) +
                             " is not between 4 and " + std::to_string(sizeof(Struct)) +
                             " (initialise the struct with its hfk_*_init function)");
    std::memcpy(&out, caller, caller->struct_size);
    out.struct_size = sizeof(Struct);
    return HFK_OK;
}

// Fills a caller's options struct with defaults, honouring the caller's sizeof.
template <class Struct>
hfk_status init_options(Struct *p, size_t caller_size, const Struct &defaults) noexcept {
    if (p == nullptr) return set_error(HFK_E_INVALID_ARG, "argument 'p' is NULL");
    if (caller_size < sizeof(uint32_t) || caller_size > sizeof(Struct))
        return set_error(HFK_E_INVALID_ARG, "caller_size " + std::to_string(caller_size) +
                                                " is not between 4 and " +
                                                std::to_string(sizeof(Struct)));
    std::memcpy(static_cast<void *>(p), &defaults, caller_size);
    p->struct_size = static_cast<uint32_t>(caller_size);
    return HFK_OK;
}

// An options struct's hfk_kv_dtype (`field` names it in the error) as the cache's element type.
inline hfk_status kv_type_of(hfk_kv_dtype v, const char *field, hfk::DType &out) noexcept {
    switch (v) {
        case HFK_KV_F32:
            out = hfk::DType::F32;
            return HFK_OK;
        case HFK_KV_F16:
            out = hfk::DType::F16;
            return HFK_OK;
        case HFK_KV_BF16:
            out = hfk::DType::BF16;
            return HFK_OK;
        default:
            return set_error(HFK_E_INVALID_ARG,
                             std::string(field) + " " + std::to_string(v) +
                                 " is not HFK_KV_F32 (0), HFK_KV_F16 (1) or HFK_KV_BF16 (2)");
    }
}

// Copies `s` into a buffer the caller frees with hfk_free().
char *dup_string(std::string_view s);

}  // namespace hfk::capi
