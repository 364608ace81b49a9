/* The public header must compile on its own as C99 (-pedantic -Werror). */
#include "hfkit/hfkit.h"

int main(void) { return hfk_abi_version() == HFK_ABI_VERSION ? 0 : 1; }
