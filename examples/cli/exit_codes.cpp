#include "exit_codes.h"

#include <cstdio>

namespace cli {
namespace {

struct Row {
    hfk_status status;
    Exit code;
};

// Every status of hfkit.h, in its order. A usage error is one the command line caused: the
// CLI validates its options first, so the library's HFK_E_INVALID_ARG means an option value it
// refused. Whatever the checkpoint itself gets wrong (malformed, unsupported, NaN) is a bad model.
constexpr Row kTable[] = {
    {HFK_OK, kOk},
    {HFK_E_INVALID_ARG, kUsage},
    {HFK_E_NOMEM, kError},
    {HFK_E_IO, kError},
    {HFK_E_NETWORK, kNetwork},
    {HFK_E_AUTH, kAuth},
    {HFK_E_NOT_FOUND, kNotFound},
    {HFK_E_CHECKSUM, kBadModel},
    {HFK_E_UNSUPPORTED, kBadModel},
    {HFK_E_FORMAT, kBadModel},
    {HFK_E_CONTEXT_FULL, kError},
    {HFK_E_CANCELLED, kInterrupted},
    {HFK_E_REENTRANT, kError},
    {HFK_E_STATE, kError},
    {HFK_E_BUSY, kError},
    {HFK_E_GATED, kAuth},
    {HFK_E_REVISION_NOT_FOUND, kNotFound},
    {HFK_E_ENTRY_NOT_FOUND, kNotFound},
    {HFK_E_DISABLED, kNotFound},
    {HFK_E_RATE_LIMITED, kNetwork},
    {HFK_E_SERVER, kNetwork},
    {HFK_E_OFFLINE, kNetwork},
    {HFK_E_NO_SPACE, kError},
    {HFK_E_RESOURCE, kError},
    {HFK_E_CALLBACK, kError},
    {HFK_E_NUMERIC, kBadModel},
    {HFK_E_IN_USE, kError},
    {HFK_E_BUFFER_TOO_SMALL, kError},
    {HFK_E_INTERNAL, kError},
};

const char *meaning(Exit code) {
    switch (code) {
        case kOk:
            return "ok";
        case kUsage:
            return "usage";
        case kNotFound:
            return "not found";
        case kAuth:
            return "gated or bad token";
        case kNetwork:
            return "network or offline";
        case kBadModel:
            return "bad model";
        case kInterrupted:
            return "interrupted";
        default:
            return "error";
    }
}

}  // namespace

int exit_code(hfk_status status) {
    for (const Row &r : kTable)
        if (r.status == status) return r.code;
    return kError;
}

void print_exit_code_table() {
    for (const Row &r : kTable)
        std::printf("%-26s %4d %4d  %s\n", hfk_status_name(r.status), r.status, r.code,
                    meaning(r.code));
}

}  // namespace cli
