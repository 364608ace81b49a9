/* A plain C host that loads libhfkit with dlopen, checks the ABI version before anything else,
 * and then calls through dlsym. Argument: the path of libhfkit.so.0. */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hfkit/hfkit.h"

typedef uint32_t (*abi_fn)(void);
typedef const char *(*str_fn)(void);
typedef const char *(*name_fn)(hfk_status);

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/libhfkit.so.0\n", argv[0]);
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    abi_fn abi = (abi_fn)dlsym(lib, "hfk_abi_version");
    if (!abi) {
        fprintf(stderr, "hfk_abi_version missing\n");
        return 1;
    }
    if (abi() != HFK_ABI_VERSION) {
        fprintf(stderr, "ABI mismatch: library %u, header %u\n", (unsigned)abi(), HFK_ABI_VERSION);
        return 1;
    }
    str_fn version = (str_fn)dlsym(lib, "hfk_version_string");
    name_fn status_name = (name_fn)dlsym(lib, "hfk_status_name");
    if (!version || !status_name) return 1;
    if (strcmp(version(), HFK_VERSION_STRING) != 0) {
        fprintf(stderr, "version %s != %s\n", version(), HFK_VERSION_STRING);
        return 1;
    }
    if (strcmp(status_name(HFK_E_CHECKSUM), "HFK_E_CHECKSUM") != 0) return 1;
    /* dlsym on the handle also searches libhfkit's own dependencies, so a dependency symbol
     * is found; what matters is that libhfkit itself does not define (re-export) it. */
    {
        const char *deps[] = {"cblas_sgemm", "curl_easy_init", "pcre2_compile_8", "utf8proc_map"};
        Dl_info self, info;
        size_t i;
        if (!dladdr((void *)abi, &self)) return 1;
        for (i = 0; i < sizeof deps / sizeof deps[0]; ++i) {
            void *sym = dlsym(lib, deps[i]);
            if (sym && dladdr(sym, &info) && info.dli_fbase == self.dli_fbase) {
                fprintf(stderr, "libhfkit exports the dependency symbol %s\n", deps[i]);
                return 1;
            }
        }
    }
    printf("dlopen ok: hfkit %s, ABI %u\n", version(), (unsigned)abi());
    dlclose(lib);
    return 0;
}
