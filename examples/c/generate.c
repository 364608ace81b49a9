/* generate.c -- stream a model's continuation of a prompt to stdout.
 *
 * A consumer of an installed hfkit, built with pkg-config only:
 *     cc -std=c99 generate.c $(pkg-config --cflags --libs hfkit) -o generate
 *     ./generate MODEL_DIR [PROMPT] [MAX_NEW_TOKENS]
 * An empty prompt continues from BOS. Greedy unless the model's generation_config.json says
 * otherwise. Errors go to stderr as "STATUS_NAME: message" and exit 1. */
#include <stdio.h>
#include <stdlib.h>

#include <hfkit/hfkit.h>

static int32_t print_piece(const char *piece, size_t len, void *user_data) {
    size_t *n_pieces = user_data;
    fwrite(piece, 1, len, stdout);
    fflush(stdout); /* show each piece as it arrives */
    ++*n_pieces;
    return 0; /* 0: go on; non-zero would stop the generation */
}

static int fail(const char *what, hfk_status status) {
    /* Read the message straight after the failing call, on the same thread. */
    fprintf(stderr, "%s: %s: %s\n", what, hfk_status_name(status), hfk_last_error_message());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL_DIR [PROMPT] [MAX_NEW_TOKENS]\n", argv[0]);
        return 2;
    }
    const char *prompt = argc > 2 ? argv[2] : "";

    hfk_model *model = NULL;
    hfk_status s = hfk_model_load(&model, argv[1], NULL);
    if (s != HFK_OK) return fail("load", s);

    hfk_session *session = NULL;
    s = hfk_session_create(&session, model, NULL);
    hfk_model_free(model); /* the session holds its own reference */
    if (s != HFK_OK) return fail("session", s);

    hfk_gen_params params;
    HFK_GEN_PARAMS_INIT(&params);
    if (argc > 3) params.max_new_tokens = atoi(argv[3]);

    hfk_gen_result result;
    HFK_GEN_RESULT_INIT(&result);
    size_t n_pieces = 0;
    s = hfk_session_generate(session, prompt, &params, print_piece, &n_pieces, NULL, &result);
    if (s != HFK_OK) {
        hfk_session_free(session);
        return fail("generate", s);
    }
    fprintf(stderr, "\n[%d tokens in %zu pieces, stop reason %d, %.0f tokens/s]\n",
            result.n_generated_tokens, n_pieces, result.stop_reason, result.decode_tokens_per_s);
    hfk_session_free(session);
    return 0;
}
