// C ABI: checking a constraint (structured output) without generating, so a server can refuse
// a bad schema before it commits to a response.
#include <string_view>

#include "constrain/constraint.h"
#include "guard.h"

using hfk::capi::guard;
using hfk::capi::set_error;

HFK_API hfk_status hfk_constraint_check(int32_t kind, const char *constraint) noexcept {
    if (kind < HFK_CONSTRAINT_NONE || kind > HFK_CONSTRAINT_REGEX)
        return set_error(
            HFK_E_INVALID_ARG,
            "constraint_kind must be one of HFK_CONSTRAINT_*, got " + std::to_string(kind));
    if (kind != HFK_CONSTRAINT_NONE && kind != HFK_CONSTRAINT_JSON && constraint == nullptr)
        return set_error(HFK_E_INVALID_ARG,
                         "constraint is NULL but constraint_kind needs its text");
    return guard([&]() -> hfk_status {
        // The same compiler generate uses, so what passes here compiles there.
        hfk::constrain::compile_constraint(static_cast<hfk::constrain::Kind>(kind),
                                           constraint ? std::string_view(constraint) : "");
        return HFK_OK;
    });
}
