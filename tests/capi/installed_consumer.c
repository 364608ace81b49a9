/* Built against an installed tree with nothing but `pkg-config --cflags --libs hfkit`. */
#include <stdio.h>
#include <string.h>

#include <hfkit/hfkit.h>

int main(void) {
    if (hfk_abi_version() != HFK_ABI_VERSION) return 1;
    if (hfk_version_number() != HFK_VERSION_NUMBER) return 1;
    if (strcmp(hfk_status_name(HFK_E_FORMAT), "HFK_E_FORMAT") != 0) return 1;
    printf("installed consumer ok: hfkit %s\n", hfk_version_string());
    return 0;
}
