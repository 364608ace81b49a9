/* ffi_host.c -- call libhfkit the way a dynamic FFI host (Swift, Python ctypes, a scripting
 * language) does: the library is dlopen'ed, and EVERY hfk_* call goes through ffi_call with an
 * ffi_cif that describes its C signature. The streaming callback is a libffi closure
 * (ffi_closure_alloc + ffi_prep_closure_loc), i.e. a C function pointer made at run time.
 *
 * The header is included for its types and constants only; no hfk_* function is called
 * directly (the program is not linked with libhfkit).
 * Usage: ffi_host LIBRARY MODEL_DIR MAX_NEW_TOKENS   -> prints the generated text. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <ffi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hfkit/hfkit.h"

static void *lib;

/* Calls `name` with a prepared cif; dies if the symbol is missing. */
static void call(const char *name, ffi_cif *cif, void *ret, void **args) {
    void *fn = dlsym(lib, name);
    if (fn == NULL) {
        fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
        exit(1);
    }
    ffi_call(cif, FFI_FN(fn), ret, args);
}

static void prep(ffi_cif *cif, ffi_type *ret, unsigned n, ffi_type **args) {
    if (ffi_prep_cif(cif, FFI_DEFAULT_ABI, n, ret, args) != FFI_OK) {
        fprintf(stderr, "ffi_prep_cif failed\n");
        exit(1);
    }
}

/* hfk_status is int32_t: ffi returns small integer results widened to ffi_arg. */
static hfk_status status_of(ffi_arg r) {
    return (hfk_status)(int32_t)r;
}

/* Prints the status name and message, both fetched through ffi_call too. */
static int report(hfk_status s) {
    ffi_cif cif_name, cif_msg;
    ffi_type *name_args[] = {&ffi_type_sint32};
    prep(&cif_name, &ffi_type_pointer, 1, name_args);
    prep(&cif_msg, &ffi_type_pointer, 0, NULL);
    const char *msg = NULL, *name = NULL;
    call("hfk_last_error_message", &cif_msg, &msg, NULL); /* first: it is per call */
    void *a[] = {&s};
    call("hfk_status_name", &cif_name, &name, a);
    fprintf(stderr, "error: %s: %s\n", name, msg);
    return 1;
}

/* The closure's body: libffi hands us the raw arguments of the piece callback
 * int32_t (*)(const char *piece, size_t len, void *user_data). */
struct collected {
    char *text;
    size_t len;
    int pieces;
};

static void on_piece(ffi_cif *cif, void *ret, void **args, void *closure_data) {
    (void)cif;
    const char *piece = *(const char **)args[0];
    size_t len = *(size_t *)args[1];
    struct collected *out = *(struct collected **)args[2];
    (void)closure_data;
    char *grown = realloc(out->text, out->len + len + 1);
    if (grown == NULL) {
        *(ffi_arg *)ret = 1; /* stop */
        return;
    }
    memcpy(grown + out->len, piece, len);
    out->len += len;
    grown[out->len] = '\0';
    out->text = grown;
    out->pieces++;
    *(ffi_arg *)ret = 0;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s LIBRARY MODEL_DIR MAX_NEW_TOKENS\n", argv[0]);
        return 2;
    }
    lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }

    /* uint32_t hfk_abi_version(void): checked before anything else. */
    ffi_cif cif_abi;
    prep(&cif_abi, &ffi_type_uint32, 0, NULL);
    ffi_arg abi = 0;
    call("hfk_abi_version", &cif_abi, &abi, NULL);
    if ((uint32_t)abi != HFK_ABI_VERSION) {
        fprintf(stderr, "ABI %u, expected %u\n", (unsigned)abi, (unsigned)HFK_ABI_VERSION);
        return 1;
    }

    /* hfk_status hfk_model_load(hfk_model **out, const char *dir, const hfk_load_params *) */
    ffi_cif cif_load;
    ffi_type *load_args[] = {&ffi_type_pointer, &ffi_type_pointer, &ffi_type_pointer};
    prep(&cif_load, &ffi_type_sint32, 3, load_args);
    hfk_model *model = NULL;
    hfk_model **model_out = &model;
    const char *dir = argv[2];
    const void *no_params = NULL;
    ffi_arg r = 0;
    void *a_load[] = {&model_out, &dir, &no_params};
    call("hfk_model_load", &cif_load, &r, a_load);
    if (status_of(r) != HFK_OK) return report(status_of(r));

    /* hfk_status hfk_session_create(hfk_session **, hfk_model *, const hfk_session_params *) */
    hfk_session *session = NULL;
    hfk_session **session_out = &session;
    void *a_create[] = {&session_out, &model, &no_params};
    call("hfk_session_create", &cif_load /* same shape: 3 pointers -> int32 */, &r, a_create);
    if (status_of(r) != HFK_OK) return report(status_of(r));

    /* hfk_status hfk_gen_params_init(hfk_gen_params *, size_t) */
    hfk_gen_params params;
    ffi_cif cif_init;
    ffi_type *init_args[] = {&ffi_type_pointer, &ffi_type_uint64};
    if (sizeof(size_t) != 8) init_args[1] = &ffi_type_uint32;
    prep(&cif_init, &ffi_type_sint32, 2, init_args);
    hfk_gen_params *params_ptr = &params;
    size_t params_size = sizeof params;
    void *a_init[] = {&params_ptr, &params_size};
    call("hfk_gen_params_init", &cif_init, &r, a_init);
    if (status_of(r) != HFK_OK) return report(status_of(r));
    params.max_new_tokens = atoi(argv[3]);

    /* The callback: int32_t (*)(const char *, size_t, void *), made by libffi. */
    ffi_cif cif_piece;
    ffi_type *piece_args[] = {&ffi_type_pointer, init_args[1], &ffi_type_pointer};
    prep(&cif_piece, &ffi_type_sint32, 3, piece_args);
    void *piece_code = NULL;
    ffi_closure *closure = ffi_closure_alloc(sizeof(ffi_closure), &piece_code);
    if (closure == NULL ||
        ffi_prep_closure_loc(closure, &cif_piece, on_piece, NULL, piece_code) != FFI_OK) {
        fprintf(stderr, "cannot make the libffi closure\n");
        return 1;
    }

    /* hfk_status hfk_session_generate(hfk_session *, const char *prompt,
     *     const hfk_gen_params *, hfk_piece_cb, void *user_data, char **text_out,
     *     hfk_gen_result *) */
    ffi_cif cif_gen;
    ffi_type *gen_args[] = {&ffi_type_pointer, &ffi_type_pointer, &ffi_type_pointer,
                            &ffi_type_pointer, &ffi_type_pointer, &ffi_type_pointer,
                            &ffi_type_pointer};
    prep(&cif_gen, &ffi_type_sint32, 7, gen_args);
    struct collected pieces = {NULL, 0, 0};
    struct collected *pieces_ptr = &pieces;
    const char *prompt = ""; /* continue from BOS */
    char *text = NULL;
    char **text_out = &text;
    hfk_gen_result result;
    memset(&result, 0, sizeof result);
    result.struct_size = sizeof result;
    hfk_gen_result *result_ptr = &result;
    void *a_gen[] = {&session,    &prompt,   &params_ptr, &piece_code,
                     &pieces_ptr, &text_out, &result_ptr};
    call("hfk_session_generate", &cif_gen, &r, a_gen);
    if (status_of(r) != HFK_OK) return report(status_of(r));

    /* The pieces joined must equal the whole text the library returned. */
    int ok = text != NULL && pieces.text != NULL && strcmp(text, pieces.text) == 0;
    if (!ok) fprintf(stderr, "pieces [%s] != text [%s]\n", pieces.text, text ? text : "(null)");
    fputs(pieces.text ? pieces.text : "", stdout);
    fprintf(stderr, "\n[%d pieces, %d tokens]\n", pieces.pieces, result.n_generated_tokens);

    /* void hfk_free(void *), void hfk_session_free(hfk_session *), hfk_model_free(...) */
    ffi_cif cif_free;
    ffi_type *free_args[] = {&ffi_type_pointer};
    prep(&cif_free, &ffi_type_void, 1, free_args);
    void *a_text[] = {&text};
    call("hfk_free", &cif_free, NULL, a_text);
    void *a_session[] = {&session};
    call("hfk_session_free", &cif_free, NULL, a_session);
    void *a_model[] = {&model};
    call("hfk_model_free", &cif_free, NULL, a_model);

    ffi_closure_free(closure);
    free(pieces.text);
    dlclose(lib);
    return ok ? 0 : 1;
}
