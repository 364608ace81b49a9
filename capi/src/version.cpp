// Run-time version queries: what was actually loaded, as opposed to the macros compiled in.
#include "hfkit/hfkit.h"

extern "C" {

HFK_API uint32_t hfk_version_number(void) noexcept { return HFK_VERSION_NUMBER; }
HFK_API const char *hfk_version_string(void) noexcept { return HFK_VERSION_STRING; }
HFK_API uint32_t hfk_abi_version(void) noexcept { return HFK_ABI_VERSION; }

}  // extern "C"
