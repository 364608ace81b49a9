// The public header must compile on its own as C++17 (-pedantic -Werror).
#include "hfkit/hfkit.h"

int main() { return hfk_abi_version() == HFK_ABI_VERSION ? 0 : 1; }
