/* dlopen_generate.c -- load libhfkit at run time, check its ABI, then generate.
 *
 * The way a plugin host or a language runtime uses hfkit: no link-time dependency, every
 * function looked up with dlsym. hfk_abi_version() is checked against the HFK_ABI_VERSION of
 * the header this program was compiled with BEFORE anything else is called: a mismatch means
 * the structs and signatures below may not be the library's.
 *     cc -std=c99 -I<include dir> dlopen_generate.c -ldl -o dlopen_generate
 *     ./dlopen_generate LIBRARY MODEL_DIR [PROMPT] [MAX_NEW_TOKENS]
 * LIBRARY is e.g. libhfkit.so.0 (searched like any dlopen) or a path. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include <hfkit/hfkit.h>

/* The functions used, as pointers with the header's own prototypes. */
struct api {
    uint32_t (*abi_version)(void);
    const char *(*version_string)(void);
    const char *(*status_name)(hfk_status);
    const char *(*last_error_message)(void);
    void (*free)(void *);
    hfk_status (*model_load)(hfk_model **, const char *, const hfk_load_params *);
    void (*model_free)(hfk_model *);
    hfk_status (*session_create)(hfk_session **, hfk_model *, const hfk_session_params *);
    void (*session_free)(hfk_session *);
    hfk_status (*gen_params_init)(hfk_gen_params *, size_t);
    hfk_status (*session_generate)(hfk_session *, const char *, const hfk_gen_params *,
                                   hfk_piece_cb, void *, char **, hfk_gen_result *);
};

/* Stores dlsym's result into a function-pointer field. ISO C has no conversion from void * to
 * a function pointer; POSIX guarantees the representation, and its dlsym page stores through
 * a (void **) cast exactly like this (which keeps -pedantic quiet). */
static int bind(void *lib, const char *name, void *slot, size_t size) {
    void *sym = dlsym(lib, name);
    if (sym == NULL) {
        fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
        return 0;
    }
    if (size != sizeof sym) return 0;
    *(void **)slot = sym;
    return 1;
}
#define BIND(lib, api, field, name) bind((lib), (name), &(api).field, sizeof(api).field)

static int32_t print_piece(const char *piece, size_t len, void *user_data) {
    (void)user_data;
    fwrite(piece, 1, len, stdout);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: %s LIBRARY MODEL_DIR [PROMPT] [MAX_NEW_TOKENS]\n", argv[0]);
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    struct api hfk;
    /* First and alone: the ABI version. */
    if (!BIND(lib, hfk, abi_version, "hfk_abi_version")) return 1;
    if (hfk.abi_version() != HFK_ABI_VERSION) {
        fprintf(stderr, "%s has ABI %u, this program was built for ABI %u\n", argv[1],
                (unsigned)hfk.abi_version(), (unsigned)HFK_ABI_VERSION);
        return 1;
    }
    if (!BIND(lib, hfk, version_string, "hfk_version_string") ||
        !BIND(lib, hfk, status_name, "hfk_status_name") ||
        !BIND(lib, hfk, last_error_message, "hfk_last_error_message") ||
        !BIND(lib, hfk, free, "hfk_free") || !BIND(lib, hfk, model_load, "hfk_model_load") ||
        !BIND(lib, hfk, model_free, "hfk_model_free") ||
        !BIND(lib, hfk, session_create, "hfk_session_create") ||
        !BIND(lib, hfk, session_free, "hfk_session_free") ||
        !BIND(lib, hfk, gen_params_init, "hfk_gen_params_init") ||
        !BIND(lib, hfk, session_generate, "hfk_session_generate"))
        return 1;
    fprintf(stderr, "loaded hfkit %s (ABI %u)\n", hfk.version_string(),
            (unsigned)hfk.abi_version());

    int rc = 1;
    hfk_model *model = NULL;
    hfk_session *session = NULL;
    hfk_status s = hfk.model_load(&model, argv[2], NULL);
    if (s == HFK_OK) s = hfk.session_create(&session, model, NULL);
    if (s == HFK_OK) {
        hfk_gen_params params;
        hfk.gen_params_init(&params, sizeof params);
        if (argc > 4) params.max_new_tokens = atoi(argv[4]);
        char *text = NULL;
        s = hfk.session_generate(session, argc > 3 ? argv[3] : "", &params, print_piece, NULL,
                                 &text, NULL);
        if (s == HFK_OK) {
            fprintf(stderr, "\n[%s]\n", text); /* the whole text, equal to the pieces */
            rc = 0;
        }
        hfk.free(text);
    }
    if (s != HFK_OK)
        fprintf(stderr, "error: %s: %s\n", hfk.status_name(s), hfk.last_error_message());
    hfk.session_free(session);
    hfk.model_free(model);
    dlclose(lib);
    return rc;
}
