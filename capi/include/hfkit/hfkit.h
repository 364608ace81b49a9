/* hfkit.h -- the public C ABI of the hfkit engine.
 *
 * Anything not declared in this header is private. The rules this header follows (ownership,
 * threading, callbacks, ABI evolution) are written out in capi/README.md; the short form:
 *
 *  - Every fallible call returns hfk_status: 0 is success, negative is failure, positive values
 *    are never returned. Codes are only ever appended; treat an unknown negative as
 *    HFK_E_INTERNAL. The detail is in hfk_last_error_message(), per thread.
 *  - Handles are opaque. Every *_free accepts NULL and returns void.
 *  - Anything the library allocates for the caller is freed with hfk_free() (never free()).
 *  - Options structs start with uint32_t struct_size, are filled by hfk_<x>_init(p, sizeof *p),
 *    and only ever grow at the end. There is no bool, no enum type and no by-value struct here.
 *  - Callbacks take void *user_data last; a non-zero return always means "stop".
 *  - No C++ exception ever leaves a function declared here.
 *
 * 0.x releases make no ABI promise (SONAME libhfkit.so.0); see capi/README.md.
 */
#ifndef HFKIT_H
#define HFKIT_H

#include <stddef.h>
#include <stdint.h>

#include "hfkit/hfkit_version.h" /* generated: HFK_VERSION_MAJOR/MINOR/PATCH, HFK_ABI_VERSION */

/* ---- linkage ----------------------------------------------------------------------------- */
#if defined(_WIN32)
#if defined(HFK_BUILDING_LIBRARY)
#define HFK_API __declspec(dllexport)
#elif defined(HFK_STATIC)
#define HFK_API
#else
#define HFK_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) || defined(__clang__)
#define HFK_API __attribute__((visibility("default")))
#else
#define HFK_API
#endif

#if defined(__GNUC__) || defined(__clang__)
#define HFK_DEPRECATED(why) __attribute__((deprecated(why)))
#define HFK_NODISCARD __attribute__((warn_unused_result))
#else
#define HFK_DEPRECATED(why)
#define HFK_NODISCARD
#endif

#ifdef __cplusplus
#define HFK_NOEXCEPT noexcept
extern "C" {
#else
#define HFK_NOEXCEPT
#endif

/* ---- versioning ---------------------------------------------------------------------------
 * Compile time: HFK_VERSION_NUMBER == MAJOR*10000 + MINOR*100 + PATCH.
 * Run time: after dlopen(), compare hfk_abi_version() with the HFK_ABI_VERSION you compiled
 * against; a mismatch means "call nothing else".                                               */

/* MAJOR*10000 + MINOR*100 + PATCH of the library actually loaded. */
HFK_API uint32_t hfk_version_number(void) HFK_NOEXCEPT;
/* "MAJOR.MINOR.PATCH"; static storage, never NULL, never freed. */
HFK_API const char *hfk_version_string(void) HFK_NOEXCEPT;
/* Equals the SONAME major (HFK_ABI_VERSION of the headers the library was built from). */
HFK_API uint32_t hfk_abi_version(void) HFK_NOEXCEPT;

/* ---- status codes -------------------------------------------------------------------------
 * int32_t in the ABI (the width of a C enum is implementation-defined). Only ever appended.     */
typedef int32_t hfk_status;
enum {
    HFK_OK = 0,
    HFK_E_INVALID_ARG = -1,         /* a NULL or out-of-range argument                      */
    HFK_E_NOMEM = -2,               /* an allocation failed                                 */
    HFK_E_IO = -3,                  /* a local file could not be read or written            */
    HFK_E_NETWORK = -4,             /* connection failed, timed out, or dropped             */
    HFK_E_AUTH = -5,                /* the token is missing, invalid or lacks access        */
    HFK_E_NOT_FOUND = -6,           /* repository, local path or cache entry not found      */
    HFK_E_CHECKSUM = -7,            /* downloaded bytes do not match their ETag / sha256    */
    HFK_E_UNSUPPORTED = -8,         /* architecture, tokenizer type, dtype, pickle, ...     */
    HFK_E_FORMAT = -9,              /* malformed config.json, safetensors, tokenizer.json   */
    HFK_E_CONTEXT_FULL = -10,       /* the prompt or generation does not fit the context    */
    HFK_E_CANCELLED = -11,          /* a callback returned non-zero, or a cancel call       */
    HFK_E_REENTRANT = -12,          /* called on a handle from inside that handle's callback*/
    HFK_E_STATE = -13,              /* the handle is not in a state that allows the call    */
    HFK_E_BUSY = -14,               /* the handle is in use by another thread               */
    HFK_E_GATED = -15,              /* gated repository: accept its conditions on the Hub   */
    HFK_E_REVISION_NOT_FOUND = -16, /* the branch, tag or commit does not exist             */
    HFK_E_ENTRY_NOT_FOUND = -17,    /* the file does not exist in that revision             */
    HFK_E_DISABLED = -18,           /* the repository was disabled by the Hub               */
    HFK_E_RATE_LIMITED = -19,       /* HTTP 429 after the allowed waits                     */
    HFK_E_SERVER = -20,             /* HTTP 5xx after the allowed retries                   */
    HFK_E_OFFLINE = -21,            /* offline mode and the files are not in the cache      */
    HFK_E_NO_SPACE = -22,           /* the disk (or the file size limit) is full            */
    HFK_E_RESOURCE = -23,           /* the model is estimated not to fit in memory or disk  */
    HFK_E_CALLBACK = -24,           /* a callback failed (threw, or its host raised)        */
    HFK_E_NUMERIC = -25,            /* the model produced NaN or infinite values            */
    HFK_E_IN_USE = -26,             /* the model is in use in this process                  */
    HFK_E_BUFFER_TOO_SMALL = -27,   /* a caller buffer is too small; the call says the size */
    HFK_E_INTERNAL = -99            /* a bug in hfkit: please report it                     */
};

/* Static name of a code ("HFK_E_CHECKSUM"); "HFK_E_UNKNOWN" for a code this library does not
 * know. Never NULL, never freed.                                                               */
HFK_API const char *hfk_status_name(hfk_status code) HFK_NOEXCEPT;

/* The detail of the most recent failure on *this thread*; "" if none. Never NULL. Owned by the
 * library and valid until the next hfk_* call on this thread: read it straight after the
 * failing call, before any thread hop. A successful call does not clear it.                    */
HFK_API const char *hfk_last_error_message(void) HFK_NOEXCEPT;

/* A caveat of the most recent successful call on *this thread* that had one; "" otherwise. Never
 * NULL; valid until the next hfk_* call on this thread. Set by hfk_prepare() and
 * hfk_model_load() when they could not ask the Hub whether the revision moved (unreachable,
 * 5xx, a refused token) and used the complete cached snapshot instead; both clear it on
 * success otherwise.                                                                           */
HFK_API const char *hfk_last_warning(void) HFK_NOEXCEPT;

/* ---- memory ------------------------------------------------------------------------------ */
/* Frees a buffer that a function below documents as "free with hfk_free". NULL is fine.      */
HFK_API void hfk_free(void *ptr) HFK_NOEXCEPT;

/* ---- tokenizers ---------------------------------------------------------------------------
 * A tokenizer is immutable once loaded: any number of threads may use one at once.            */
typedef struct hfk_tokenizer hfk_tokenizer;

/* Loads a tokenizer from a directory (tokenizer.json + tokenizer_config.json, or the legacy
 * vocab.json + merges.txt / vocab.txt) or from a tokenizer.json path. *out is owned by the
 * caller: free it with hfk_tokenizer_free(). HFK_E_NOT_FOUND, HFK_E_FORMAT, HFK_E_UNSUPPORTED. */
HFK_API HFK_NODISCARD hfk_status hfk_tokenizer_load(hfk_tokenizer **out,
                                                    const char *path) HFK_NOEXCEPT;
HFK_API void hfk_tokenizer_free(hfk_tokenizer *tok) HFK_NOEXCEPT; /* NULL ok */

/* Encodes `text` (UTF-8, text_len bytes; invalid sequences are replaced by U+FFFD, as Python's
 * errors="replace" does) into the caller's buffer `ids` of n_max entries. add_special non-zero
 * adds the tokenizer's special tokens (BOS, [CLS] ... [SEP]) as its post-processor says.
 * On HFK_OK *n_out is the number of ids written. If n_max is too small the call returns
 * HFK_E_BUFFER_TOO_SMALL and *n_out is the negative of the size needed; ids may be NULL when
 * n_max is 0, which is the way to ask for the size.                                            */
HFK_API HFK_NODISCARD hfk_status hfk_tokenize(const hfk_tokenizer *tok, const char *text,
                                              size_t text_len, int32_t add_special, int32_t *ids,
                                              int64_t n_max, int64_t *n_out) HFK_NOEXCEPT;

/* Decodes n_ids ids to UTF-8. *text_out is NUL-terminated and freed with hfk_free();
 * *text_len_out (may be NULL) receives its length. An id outside the vocabulary is
 * HFK_E_INVALID_ARG.                                                                            */
HFK_API HFK_NODISCARD hfk_status hfk_detokenize(const hfk_tokenizer *tok, const int32_t *ids,
                                                size_t n_ids, int32_t skip_special, char **text_out,
                                                size_t *text_len_out) HFK_NOEXCEPT;

/* Number of ids, added tokens included; 0 for NULL. */
HFK_API int32_t hfk_tokenizer_vocab_size(const hfk_tokenizer *tok) HFK_NOEXCEPT;

/* Which special token hfk_tokenizer_special_id() returns. */
typedef int32_t hfk_special_token;
enum { HFK_SPECIAL_BOS = 0, HFK_SPECIAL_EOS = 1, HFK_SPECIAL_PAD = 2, HFK_SPECIAL_UNK = 3 };

/* The id of a special token, or -1 when the tokenizer has none (or tok is NULL). */
HFK_API int32_t hfk_tokenizer_special_id(const hfk_tokenizer *tok,
                                         hfk_special_token which) HFK_NOEXCEPT;

/* The vocabulary string of one id (e.g. "Ġhello", "<0x0A>", "[CLS]"), copied into buf (NUL
 * terminated). *len_out receives the string length. HFK_E_BUFFER_TOO_SMALL when buf_size is not
 * larger than that length; HFK_E_INVALID_ARG for an id outside the vocabulary.                 */
HFK_API HFK_NODISCARD hfk_status hfk_tokenizer_id_to_token(const hfk_tokenizer *tok, int32_t id,
                                                           char *buf, size_t buf_size,
                                                           size_t *len_out) HFK_NOEXCEPT;

/* ---- progress of long calls (downloading, loading) ----------------------------------------
 * One story: hfk_prepare() reports its download through hfk_progress (hfk_hub_params.progress).
 * Models report hfk_model_status events to hfk_load_params.on_state (HFK_MODEL_* states), from
 * hfk_model_open() and hfk_model_load() alike. hfk_load_params.progress, which maps those states
 * onto the HFK_PHASE_* values below for hfk_model_load(), is deprecated but keeps working.      */
typedef int32_t hfk_phase;
enum {
    HFK_PHASE_RESOLVING = 1,   /* asking the Hub which files make up the revision */
    HFK_PHASE_DOWNLOADING = 2, /* bytes_done / bytes_total are download bytes     */
    HFK_PHASE_LOADING = 3,     /* fraction is meaningful                          */
    HFK_PHASE_READY = 4
};
typedef struct hfk_progress {
    uint32_t struct_size; /* check before reading fields added later        */
    hfk_phase phase;
    double fraction;     /* 0..1 of the current phase, -1 when unknown      */
    int64_t bytes_done;  /* downloads: all files                            */
    int64_t bytes_total; /* -1 while unknown                                */
    int32_t files_done;
    int32_t files_total;
    const char *file_name; /* borrowed, valid during the callback; may be NULL */
} hfk_progress;

/* Return 0 to continue, non-zero to cancel (the call then fails with HFK_E_CANCELLED). Called
 * on the thread that made the call, never under an internal lock.                             */
typedef int32_t (*hfk_progress_cb)(const hfk_progress *progress, void *user_data);

/* ---- the Hugging Face Hub and its cache --------------------------------------------------
 * Models are downloaded into the cache huggingface_hub uses (models--org--name/{blobs,refs,
 * snapshots}), so models downloaded by either are reused by the other.                         */
typedef struct hfk_hub_params {
    uint32_t struct_size;
    const char *endpoint;  /* NULL: $HF_ENDPOINT, else https://huggingface.co; http:// only on
                              a loopback address (tests, local mirrors)                        */
    const char *token;     /* NULL: $HF_TOKEN, $HF_TOKEN_PATH, $HF_HOME/token; "": no token.
                              Sent only to the endpoint's host, never to a redirect target     */
    const char *cache_dir; /* NULL: $HF_HUB_CACHE, $HF_HOME/hub, ~/.cache/huggingface/hub     */
    const char *revision;  /* NULL: "main"; a branch, tag or 40-hex commit                     */
    int32_t offline;       /* -1: $HF_HUB_OFFLINE; 1: never touch the network; 0: online       */
    const char *const *allow_patterns; /* fnmatch patterns of files to fetch; NULL: the files a */
    int32_t n_allow_patterns;          /*   model needs (config, tokenizer, safetensors)       */
    const char *const *ignore_patterns;
    int32_t n_ignore_patterns;
    int32_t max_parallel;     /* files downloaded at once; <= 0: 4                               */
    hfk_progress_cb progress; /* download progress, on the calling thread; may be NULL   */
    void *progress_user_data;
    int32_t verify; /* non-zero: re-hash the files already cached and download again any
                       that do not match (replaced atomically); 0: cached files are only
                       stat()ed, which keeps a cached prepare instant                   */
    int32_t force_download; /* non-zero: download every selected file again, even when
                               cached, and rename it over the cached blob (models already
                               open keep their old, still valid, mapping)                 */
} hfk_hub_params;

HFK_API hfk_status hfk_hub_params_init(hfk_hub_params *p, size_t caller_size) HFK_NOEXCEPT;
#define HFK_HUB_PARAMS_INIT(p) hfk_hub_params_init((p), sizeof *(p))

/* ---- models -------------------------------------------------------------------------------
 * A model is immutable once loaded: any number of threads may use it and create sessions on
 * it at once. It is reference-counted: sessions keep it alive, so freeing a model that still
 * has sessions is safe (the memory goes with the last session).                               */
typedef struct hfk_model hfk_model;

/* The state of a model opened with hfk_model_open(). */
typedef int32_t hfk_model_state;
enum {
    HFK_MODEL_PENDING = 0,     /* opened, nothing downloaded or loaded yet: always the
                                  first state reported                               */
    HFK_MODEL_DOWNLOADING = 1, /* bytes_done / bytes_total, files_done / files_total */
    HFK_MODEL_LOADING = 2,     /* load_fraction                                      */
    HFK_MODEL_READY = 3,       /* sessions may be created                            */
    HFK_MODEL_FAILED = 4       /* error and hfk_model_error_message() say why        */
};

typedef struct hfk_model_status {
    uint32_t struct_size;
    hfk_model_state state;
    hfk_status error;     /* HFK_OK unless FAILED                                     */
    double load_fraction; /* 0..1 while LOADING                                       */
    int64_t bytes_done;   /* downloads: all files                                     */
    int64_t bytes_total;  /* -1 while unknown                                         */
    int32_t files_done;
    int32_t files_total;
    hfk_model *model; /* the handle this status is about. In the state callback it is
                         the handle hfk_model_open() returns, valid even when the callback
                         runs before open has returned (READY can arrive that early)  */
} hfk_model_status;

HFK_API hfk_status hfk_model_status_init(hfk_model_status *p, size_t caller_size) HFK_NOEXCEPT;
#define HFK_MODEL_STATUS_INIT(p) hfk_model_status_init((p), sizeof *(p))

/* Called on every state change and progress step: by hfk_model_open()'s worker thread (NOT the
 * thread that called open, and possibly before open has returned: status->model is the handle),
 * or by hfk_model_load() on its calling thread. States only move forward, load_fraction and
 * bytes_done never decrease. Reaching READY, a Hub id goes PENDING -> DOWNLOADING -> LOADING ->
 * READY; a model already loaded in this process PENDING -> READY, and one another handle is
 * loading PENDING -> LOADING -> READY, without any Hub request. The callback may poll the
 * model, but must not wait on it; hfk_model_free(status->model) from inside it is allowed. A
 * non-zero return cancels the opening: the model ends FAILED with HFK_E_CANCELLED (once READY
 * or FAILED has been reported, the return value changes nothing).                             */
typedef int32_t (*hfk_state_cb)(const hfk_model_status *status, void *user_data);

/* Weight formats at load (hfk_load_params.quantization). Only matrices change: norms and biases
 * are F32 in every format. AUTO: as stored (F32/F16/BF16, used in place from the memory map).
 * F32, BF16: converted at load. Q8: symmetric int8 in blocks of 32 with an F16 scale (llama.cpp's
 * Q8_0, 8.5 bits per weight). Q4: 4-bit in blocks of 32 with an F16 scale and minimum (Q4_1, 5
 * bits per weight). Quantized products quantize the activations to int8 per block of 32.
 * Converted matrices give the pages of their source back after load. Anything else:
 * HFK_E_INVALID_ARG.                                                                          */
typedef int32_t hfk_quantization;
enum {
    HFK_QUANT_AUTO = 0,
    HFK_QUANT_F32 = 1,
    HFK_QUANT_BF16 = 2,
    HFK_QUANT_Q8 = 3,
    HFK_QUANT_Q4 = 4
};

typedef struct hfk_load_params {
    uint32_t struct_size;
    int32_t n_threads;        /* default for sessions on this model; <= 0: one per core  */
    hfk_progress_cb progress; /* DEPRECATED (use on_state): hfk_model_load only, on the
                                 calling thread, states mapped to HFK_PHASE_*            */
    void *progress_user_data;
    const hfk_hub_params *hub; /* where and how to download a Hub id; NULL: defaults */
    hfk_state_cb on_state;     /* hfk_model_open: from the worker thread; hfk_model_load:
                                  on the calling thread                                  */
    void *state_user_data;
    int32_t skip_resource_check; /* non-zero: load even if it looks too big for memory */
    int32_t n_ctx; /* the context (tokens) one session will use: the memory check sizes the
                      KV cache for it, and it is the default n_ctx of sessions on this
                      handle (capped at the model's context length). <= 0: the check
                      assumes min(the model's context length, 4096) and sessions default
                      to the model's context length                                       */
    hfk_quantization quantization; /* how weight matrices are held: HFK_QUANT_*; models loaded
                                      with different values are different models              */
    int32_t quantize_embeddings; /* DEPRECATED: HFK_QUANT_Q8/Q4 now quantize the embedding and
                                    lm_head by default (keep_embeddings opts out)             */
    int32_t keep_embeddings; /* non-zero: HFK_QUANT_Q8/Q4 leave the embedding and lm_head as
                                stored (higher precision, more bytes per token). Default 0:
                                they are quantized too, as in llama.cpp's Q8_0/Q4_0 files.
                                With quantize_embeddings also non-zero: HFK_E_INVALID_ARG  */
} hfk_load_params;

HFK_API hfk_status hfk_load_params_init(hfk_load_params *p, size_t caller_size) HFK_NOEXCEPT;
#define HFK_LOAD_PARAMS_INIT(p) hfk_load_params_init((p), sizeof *(p))

/* Opens a model without blocking: `id_or_path` is a local checkpoint directory (config.json,
 * *.safetensors, tokenizer files) or a Hub id ("gpt2", "org/name"). *out is returned at once; a
 * worker downloads (Hub ids), checks the memory estimate, and loads. The memory check refuses
 * (HFK_E_RESOURCE) when the weights plus an F32 KV cache for params->n_ctx tokens (default
 * min(context length, 4096)) exceed available memory; its message names the context assumed;
 * skip_resource_check turns it off. Opening a model that is already loaded in this process
 * shares its weights and makes no Hub request (PENDING -> READY); concurrent opens of one model
 * download and load it once. Fails at once only on bad arguments.                              */
HFK_API HFK_NODISCARD hfk_status hfk_model_open(hfk_model **out, const char *id_or_path,
                                                const hfk_load_params *params) HFK_NOEXCEPT;

/* The current state and progress. Any thread. */
HFK_API hfk_status hfk_model_get_status(const hfk_model *model,
                                        hfk_model_status *status_out) HFK_NOEXCEPT;

/* Waits until the model is READY (HFK_OK) or FAILED (returns its error, with the message in
 * hfk_last_error_message()). timeout_ms < 0 waits forever; HFK_E_STATE when the time runs out.
 * Must not be called from the state callback.                                                   */
HFK_API hfk_status hfk_model_wait(const hfk_model *model, int32_t timeout_ms) HFK_NOEXCEPT;

/* Why the model FAILED ("" otherwise); borrowed, valid until the model is freed. */
HFK_API const char *hfk_model_error_message(const hfk_model *model) HFK_NOEXCEPT;

/* Blocking open: hfk_model_open() then hfk_model_wait(), with its state changes reported to
 * params->on_state (and the deprecated params->progress) on the calling thread. *out is owned
 * by the caller: hfk_model_free(). Like hfk_prepare(), a success sets hfk_last_warning() when
 * the Hub could not be asked and the complete cached snapshot was loaded ("" otherwise).
 * HFK_E_NOT_FOUND, HFK_E_FORMAT (naming the file and tensor), HFK_E_UNSUPPORTED (architecture,
 * pickle-only checkpoint), HFK_E_RESOURCE, HFK_E_IO, HFK_E_CANCELLED, and the Hub's errors.    */
HFK_API HFK_NODISCARD hfk_status hfk_model_load(hfk_model **out, const char *id_or_path,
                                                const hfk_load_params *params) HFK_NOEXCEPT;

/* Frees the handle at any time, including while downloading or loading: the worker stops
 * (partial downloads stay resumable) and is joined. Sessions keep a loaded model alive. */
HFK_API void hfk_model_free(hfk_model *model) HFK_NOEXCEPT; /* NULL ok */

/* The accessors below describe a READY model; on a model that is not ready they return "",
 * 0 or NULL.                                                                                   */

/* The config's family: "gpt2", "llama", "mistral", "qwen2", "bert", "roberta", "xlm-roberta",
 * "distilbert", "modernbert", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3", "phi",
 * "smollm3", "mixtral", "qwen3_moe"; static storage. "" for NULL.                            */
HFK_API const char *hfk_model_architecture(const hfk_model *model) HFK_NOEXCEPT;
/* Non-zero for text generators (causal LMs), zero for encoders (embeddings, classification). */
HFK_API int32_t hfk_model_is_generator(const hfk_model *model) HFK_NOEXCEPT;
/* Maximum tokens in a session's context; 0 for NULL. */
HFK_API int32_t hfk_model_context_length(const hfk_model *model) HFK_NOEXCEPT;
/* The model's tokenizer, borrowed: valid as long as the model or any of its sessions lives. */
HFK_API const hfk_tokenizer *hfk_model_tokenizer(const hfk_model *model) HFK_NOEXCEPT;

/* ---- preparing and managing downloads ------------------------------------------------------ */

/* Downloads what `repo_id` needs into the cache (nothing when it is complete already) and
 * returns its snapshot directory (free with hfk_free). A prepare of a model that this process
 * is already preparing joins it; after a failure the next prepare starts afresh. Offline, a
 * complete cached snapshot is used. Online, a cached file whose size differs from the Hub's is
 * downloaded again (a stat, no hashing), and an unchanged cache is not written (a complete
 * snapshot in a read-only cache works). When the Hub cannot be asked (unreachable, 5xx, a
 * refused token) a complete cached snapshot is returned with HFK_OK and hfk_last_warning()
 * says so; with verify or force_download there is no such fallback: the Hub's status is
 * returned (HFK_E_AUTH for a bad token). Without allow_patterns, a repository with no
 * config.json or no safetensors weights is refused before any download: HFK_E_UNSUPPORTED
 * for pickle-only weights (pytorch_model.bin), HFK_E_ENTRY_NOT_FOUND for none; allow_patterns
 * that match no file are HFK_E_ENTRY_NOT_FOUND; a malformed file list is HFK_E_FORMAT.
 * HFK_E_GATED: the repository is gated and no token was given, or the token given has not been
 * granted access. Errors: HFK_E_NOT_FOUND, HFK_E_GATED, HFK_E_AUTH, HFK_E_REVISION_NOT_FOUND,
 * HFK_E_ENTRY_NOT_FOUND, HFK_E_DISABLED, HFK_E_RATE_LIMITED, HFK_E_SERVER, HFK_E_NETWORK,
 * HFK_E_OFFLINE, HFK_E_CHECKSUM, HFK_E_NO_SPACE, HFK_E_CANCELLED (progress returned non-zero),
 * HFK_E_UNSUPPORTED, HFK_E_FORMAT, HFK_E_IO, HFK_E_INVALID_ARG (also when HOME, HF_HOME and
 * HF_HUB_CACHE leave no cache directory).                                                      */
HFK_API HFK_NODISCARD hfk_status hfk_prepare(const char *repo_id, const hfk_hub_params *params,
                                             char **snapshot_dir_out) HFK_NOEXCEPT;

/* *yes_out = 1 when a complete snapshot of the revision is in the cache (no network). */
HFK_API hfk_status hfk_is_downloaded(const char *repo_id, const hfk_hub_params *params,
                                     int32_t *yes_out) HFK_NOEXCEPT;

/* Removes a model from the cache: params->revision's snapshot, or every revision when revision
 * is NULL, then the blobs nothing points to. A model loaded in this process is refused with
 * HFK_E_IN_USE unless `force` is non-zero. A model being downloaded (by this process or
 * another: a download lock of the repository is held) is always refused with HFK_E_IN_USE,
 * `force` or not: cancel the download first. HFK_E_NOT_FOUND when it is not in the cache
 * (unlike a no-op removal, this tells a mistyped id from an absent one; treat it as success if
 * "absent afterwards" is all you need). Symlinks leading outside the cache are removed, never
 * their targets.                                                                               */
HFK_API hfk_status hfk_remove_from_disk(const char *repo_id, const hfk_hub_params *params,
                                        int32_t force) HFK_NOEXCEPT;

/* Bytes the cache uses for repo_id, or for the whole cache when repo_id is NULL; blobs shared
 * by several revisions are counted once, and a snapshot symlink leading outside the cache's
 * blobs is not counted.                                                                        */
HFK_API hfk_status hfk_disk_usage(const char *repo_id, const hfk_hub_params *params,
                                  uint64_t *bytes_out) HFK_NOEXCEPT;

/* The models in the cache as JSON (free with hfk_free):
 * [{"repo_id": "org/name", "repo_type": "model", "size_on_disk": N, "complete": true,
 *   "revisions": [{"commit": "<40 hex>", "refs": ["main"], "size_on_disk": N, "files": N,
 *                  "complete": true}]}]
 * A revision is "complete" when it loads without the network (config.json and every weight
 * file, as hfk_is_downloaded); an interrupted download is listed with "complete": false. A
 * repository is complete when one of its revisions is.                                         */
HFK_API hfk_status hfk_downloaded_models(const hfk_hub_params *params,
                                         char **json_out) HFK_NOEXCEPT;

/* ---- sessions and generation ----------------------------------------------------------------
 * A session owns a KV cache and sampler state. One thread at a time: a second thread calling
 * into a busy session gets HFK_E_BUSY. hfk_session_cancel() is the exception: any thread.      */
typedef struct hfk_session hfk_session;

/* What a session's KV cache stores keys and values as (hfk_session_params.kv_dtype). F32 is the
 * default; F16 and BF16 halve the cache's bytes (keys and values are rounded to nearest even
 * when stored, widened to F32 when attention reads them). Anything else: HFK_E_INVALID_ARG.   */
typedef int32_t hfk_kv_dtype;
enum { HFK_KV_F32 = 0, HFK_KV_F16 = 1, HFK_KV_BF16 = 2 };

/* The arithmetic of a session's forward passes (hfk_session_params.compute). F32 (default):
 * exact, F32 activations and F32 sums. BF16: prefill products (more than four tokens) against
 * BF16 weights round the activations to BF16 and sum BF16 x BF16 products in F32 (vdpbf16ps,
 * AVX512_BF16); faster, within the error README.md measures. With F32/F16/quantized weights,
 * for decode steps, or on a CPU without AVX512_BF16 it computes exactly as F32 does.
 * Anything else: HFK_E_INVALID_ARG.                                                           */
typedef int32_t hfk_compute;
enum { HFK_COMPUTE_F32 = 0, HFK_COMPUTE_BF16 = 1 };

typedef struct hfk_session_params {
    uint32_t struct_size;
    int32_t n_ctx;     /* context size in tokens; <= 0: hfk_load_params.n_ctx if set,
                          else the model's context length                            */
    int32_t n_threads; /* <= 0: the model's default                                  */
    hfk_kv_dtype kv_dtype; /* HFK_KV_*: the KV cache's element type (default F32); a
                              fork keeps it                                          */
    hfk_compute compute;   /* HFK_COMPUTE_*: exact F32 (default) or BF16; a fork keeps it */
} hfk_session_params;

HFK_API hfk_status hfk_session_params_init(hfk_session_params *p, size_t caller_size) HFK_NOEXCEPT;
#define HFK_SESSION_PARAMS_INIT(p) hfk_session_params_init((p), sizeof *(p))

/* Creates a session on a generator model; params may be NULL. The session holds a reference
 * to the model. HFK_E_UNSUPPORTED for an encoder model.                                        */
HFK_API HFK_NODISCARD hfk_status hfk_session_create(hfk_session **out, hfk_model *model,
                                                    const hfk_session_params *params) HFK_NOEXCEPT;
HFK_API void hfk_session_free(hfk_session *session) HFK_NOEXCEPT; /* NULL ok */

/* Forgets the conversation: the next generate starts a new one, as on a fresh session. The KV
 * entries stay as a cache of computed tokens: a next prompt that begins with the same tokens
 * reuses them (n_reused_tokens), so one session can serve a stream of related prompts.      */
HFK_API hfk_status hfk_session_reset(hfk_session *session) HFK_NOEXCEPT;

/* Asks the running generate on `session` to stop; it returns HFK_E_CANCELLED within one decode
 * step. Any thread, any time; idempotent. A cancel with no generate running is forgotten.      */
HFK_API void hfk_session_cancel(hfk_session *session) HFK_NOEXCEPT;

/* Sampling options. "Unset" values (-1, what hfk_gen_params_init writes) take the model's
 * generation_config.json value where it has one, else the library default in brackets. Any
 * other negative value, NaN, or a value outside a field's range is HFK_E_INVALID_ARG naming
 * the field. Only ids the tokenizer can decode are ever generated (a model vocabulary padded
 * beyond the tokenizer's never yields its extra ids).                                          */
typedef struct hfk_gen_params {
    uint32_t struct_size;
    int32_t max_new_tokens;     /* -1: model default [256]; 0: generate nothing              */
    float temperature;          /* -1: model default [1.0 if do_sample else 0]; 0 = greedy;
                                   a tiny positive value tends to greedy (never overflows) */
    int32_t top_k;              /* -1: model default [0]; 0 = off                             */
    float top_p;                /* -1: model default [1.0]; 1 = off; in (0, 1]                */
    float min_p;                /* -1: model default [0]; 0 = off; in [0, 1]                  */
    float repetition_penalty;   /* -1: model default [1.0]; 1 = off (CTRL-style, > 0)         */
    float presence_penalty;     /* 0 = off (OpenAI-style, subtracted once per seen token)     */
    float frequency_penalty;    /* 0 = off (subtracted per occurrence)                        */
    uint64_t seed;              /* the same seed and options give the same tokens             */
    const char *const *stop;    /* n_stop UTF-8 stop strings (copied); the text stops before  */
    int32_t n_stop;             /*   the first one and does not contain it                    */
    int32_t add_special_tokens; /* -1 (default) or non-zero: the tokenizer's special tokens
                                 * for a fresh prompt (BOS...); 0: none                     */
    int32_t ignore_eos;         /* non-zero: do not stop at the end-of-sequence token         */
    /* Logit biases (OpenAI's logit_bias): n_logit_bias pairs, copied; the value is added to
     * the id's logit before every sampling step (-INFINITY bans the id). An id outside
     * [0, hfk_session_n_logits()), a NaN or +inf value, or NULL arrays with n_logit_bias > 0
     * are HFK_E_INVALID_ARG.                                                                 */
    const int32_t *logit_bias_ids;
    const float *logit_bias_values;
    int32_t n_logit_bias;
    int32_t logprobs;     /* non-zero: record the logprob of every generated token, read with
                             hfk_session_last_logprobs() (the model's raw distribution: see
                             there); on an engine, in hfk_engine_result                    */
    int32_t top_logprobs; /* 0..HFK_MAX_TOP_LOGPROBS alternatives recorded per token      */
    /* Constrained decoding (structured output): only tokens that keep the text a prefix of the
     * constraint are sampled, and end-of-sequence only once the text is complete. The text is
     * then the tokens' exact bytes. A complete text that nothing may extend ends the call with
     * HFK_STOP_EOS; running out of max_new_tokens or context first ends it with
     * HFK_STOP_CONSTRAINT_INCOMPLETE. A constraint that does not compile is HFK_E_INVALID_ARG
     * naming the position (line and column, JSON pointer or regex offset). The syntax and the
     * supported subsets are in capi/README.md ("Constrained decoding").                        */
    int32_t constraint_kind; /* HFK_CONSTRAINT_* [HFK_CONSTRAINT_NONE]                          */
    const char *constraint;  /* UTF-8, NUL-terminated: the GBNF grammar, the JSON Schema or the
                                regular expression; ignored (may be NULL) for HFK_CONSTRAINT_JSON */
} hfk_gen_params;

/* OpenAI's limit on top_logprobs. */
#define HFK_MAX_TOP_LOGPROBS 20

/* hfk_gen_params.constraint_kind */
enum {
    HFK_CONSTRAINT_NONE = 0,
    HFK_CONSTRAINT_GBNF = 1,        /* a grammar in llama.cpp's GBNF syntax (start rule: root) */
    HFK_CONSTRAINT_JSON = 2,        /* any JSON value                                          */
    HFK_CONSTRAINT_JSON_SCHEMA = 3, /* a JSON value valid against a JSON Schema               */
    HFK_CONSTRAINT_REGEX = 4        /* the whole text matches a regular expression             */
};

HFK_API hfk_status hfk_gen_params_init(hfk_gen_params *p, size_t caller_size) HFK_NOEXCEPT;
#define HFK_GEN_PARAMS_INIT(p) hfk_gen_params_init((p), sizeof *(p))

/* Why a generate call stopped. */
typedef int32_t hfk_stop_reason;
enum {
    HFK_STOP_NONE = 0,         /* not stopped (never returned by a finished call)      */
    HFK_STOP_EOS = 1,          /* the model produced an end-of-sequence token          */
    HFK_STOP_STRING = 2,       /* a stop string matched                                */
    HFK_STOP_MAX_TOKENS = 3,   /* max_new_tokens reached                               */
    HFK_STOP_CONTEXT_FULL = 4, /* the context filled up during generation              */
    HFK_STOP_CALLBACK = 5,     /* the piece callback returned non-zero                 */
    HFK_STOP_CANCELLED = 6,    /* hfk_session_cancel(); the call returns HFK_E_CANCELLED */
    HFK_STOP_CONSTRAINT_INCOMPLETE = 7 /* max_new_tokens or the context ran out (or no token
                                          could continue) before the constraint was complete:
                                          the text is NOT a complete sentence of it          */
};

typedef struct hfk_gen_result {
    uint32_t struct_size;
    hfk_stop_reason stop_reason;
    int32_t n_prompt_tokens; /* tokens of this call's prompt                        */
    int32_t n_reused_tokens; /* of those, found in the KV cache and not recomputed  */
    int32_t n_generated_tokens;
    double time_to_first_token_ms;
    double prefill_tokens_per_s;
    double decode_tokens_per_s;
} hfk_gen_result;

HFK_API hfk_status hfk_gen_result_init(hfk_gen_result *p, size_t caller_size) HFK_NOEXCEPT;
#define HFK_GEN_RESULT_INIT(p) hfk_gen_result_init((p), sizeof *(p))

/* Receives generated text as it is produced. `piece` is UTF-8 that never splits a character,
 * not NUL-terminated, borrowed for the duration of the call. Return non-zero to stop: the
 * generate call then returns HFK_OK with stop_reason HFK_STOP_CALLBACK. Called on the thread
 * that called generate; it must not call hfk_session_* on the same session (HFK_E_REENTRANT). */
typedef int32_t (*hfk_piece_cb)(const char *piece, size_t piece_len, void *user_data);

/* Appends `prompt` (UTF-8) to the session's conversation and generates a continuation. The
 * tokens already in the KV cache that the new text extends are not recomputed. params and
 * result_out may be NULL; on_piece may be NULL. If text_out is not NULL it receives the whole
 * generated text (NUL-terminated, free with hfk_free), which equals the concatenated pieces;
 * with HFK_E_CANCELLED it holds the text generated before the cancel. Errors:
 * HFK_E_CONTEXT_FULL (the prompt does not fit; nothing is generated and the session is
 * unchanged), HFK_E_NUMERIC (NaN logits), HFK_E_CANCELLED, HFK_E_BUSY, HFK_E_REENTRANT,
 * HFK_E_INVALID_ARG (a bad option, named in the message). An empty prompt on a fresh session
 * starts from the BOS token alone (whatever add_special_tokens says); if the tokenizer has no
 * BOS token that is HFK_E_INVALID_ARG and the session is unchanged. On a session that already
 * holds a conversation, an empty prompt continues it.                                          */
HFK_API HFK_NODISCARD hfk_status hfk_session_generate(hfk_session *session, const char *prompt,
                                                      const hfk_gen_params *params,
                                                      hfk_piece_cb on_piece, void *user_data,
                                                      char **text_out,
                                                      hfk_gen_result *result_out) HFK_NOEXCEPT;

/* The token ids the last hfk_session_generate() call produced (EOS excluded), into the
 * caller's buffer, with the conventions of hfk_tokenize(): HFK_E_BUFFER_TOO_SMALL and
 * *n_out = -(needed) when n_max is too small.                                                 */
HFK_API HFK_NODISCARD hfk_status hfk_session_last_tokens(hfk_session *session, int32_t *ids,
                                                         int64_t n_max,
                                                         int64_t *n_out) HFK_NOEXCEPT;

/* Compiles a constraint (hfk_gen_params.constraint_kind / constraint) without generating:
 * HFK_OK when generate would accept it, else HFK_E_INVALID_ARG with the message generate would
 * give (naming the position or the unsupported keyword). For servers that must refuse a bad
 * schema before they answer.                                                                  */
HFK_API HFK_NODISCARD hfk_status hfk_constraint_check(int32_t constraint_kind,
                                                      const char *constraint) HFK_NOEXCEPT;

/* ---- probabilities, the token-level API and saved sessions (capi/README.md, "Tokens") ------
 * Logprobs are natural logs of the MODEL's distribution: log_softmax of the raw logits over
 * the ids the tokenizer can decode, before any sampling transform (no temperature, penalty,
 * top-k/p, min-p or logit bias), as OpenAI reports them. A session holds a sequence of
 * tokens (hfk_session_tokens) and the logits after its last one. Text calls (generate, chat)
 * keep a conversation text beside them; the token calls below (eval, truncate, generate from
 * tokens) drop that text, so a later text generate starts as after hfk_session_reset (the KV
 * prefix its prompt shares is still reused).                                                   */

/* The logprobs of the last generate's tokens (one per hfk_session_last_tokens id; EOS is not
 * among them), when it ran with hfk_gen_params.logprobs non-zero (else 0 entries).
 * logprobs[i] is the chosen id's; top_ids / top_logprobs hold n_max x *n_top_out entries,
 * row i the *n_top_out most likely ids at step i, best first (ties to the lower id); they may
 * be NULL when top_logprobs was 0. Too small an n_max: HFK_E_BUFFER_TOO_SMALL with
 * *n_out = -(needed) and *n_top_out set (n_max 0 with NULL buffers asks for the sizes).      */
HFK_API HFK_NODISCARD hfk_status hfk_session_last_logprobs(hfk_session *session, float *logprobs,
                                                           int32_t *top_ids, float *top_logprobs,
                                                           int64_t n_max, int64_t *n_out,
                                                           int32_t *n_top_out) HFK_NOEXCEPT;

/* Width of the logits the token calls read and take: the ids the tokenizer can decode (a
 * padded model vocabulary's extra rows are left out). 0 for NULL.                            */
HFK_API int32_t hfk_session_n_logits(const hfk_session *session) HFK_NOEXCEPT;

/* The ids the session holds, in order, with the conventions of hfk_tokenize(). After a text
 * generate the last generated id is not yet among them (it runs when the text continues).    */
HFK_API HFK_NODISCARD hfk_status hfk_session_tokens(hfk_session *session, int32_t *ids,
                                                    int64_t n_max, int64_t *n_out) HFK_NOEXCEPT;

/* Runs n_ids ids after the session's tokens. all_logits NULL: only the last position's logits
 * are kept (hfk_session_logits). Otherwise it receives n_ids x hfk_session_n_logits() floats,
 * row-major, one row per position (all_logits_len is its length in floats; too short is
 * HFK_E_BUFFER_TOO_SMALL). HFK_E_INVALID_ARG for an id outside the vocabulary,
 * HFK_E_CONTEXT_FULL when they do not fit; both before the session changes.                  */
HFK_API HFK_NODISCARD hfk_status hfk_session_eval(hfk_session *session, const int32_t *ids,
                                                  int64_t n_ids, float *all_logits,
                                                  int64_t all_logits_len) HFK_NOEXCEPT;

/* The logits after the session's last token (hfk_session_n_logits() floats) into `out`
 * (n_max floats; HFK_E_BUFFER_TOO_SMALL, *n_out = -(needed)). HFK_E_STATE when the session
 * holds no token.                                                                             */
HFK_API HFK_NODISCARD hfk_status hfk_session_logits(hfk_session *session, float *out,
                                                    int64_t n_max, int64_t *n_out) HFK_NOEXCEPT;

/* Samples one id from `logits` (n_logits = hfk_session_n_logits() floats, e.g. from
 * hfk_session_logits, possibly edited) with the library's sampler chain and params: logit
 * bias, repetition/presence/frequency penalties (counting the session's tokens), temperature,
 * top-k, top-p, min-p; "unset" fields resolve as for generate, greedy by default. The random
 * draw comes from the session's generator (params->seed is not used: hfk_session_set_seed),
 * which is saved and restored with the session, so a seeded sequence of calls is
 * reproducible. The id is not added to the session (hfk_session_eval does that).            */
HFK_API HFK_NODISCARD hfk_status hfk_session_sample(hfk_session *session, const float *logits,
                                                    int64_t n_logits,
                                                    const hfk_gen_params *params,
                                                    int32_t *id_out) HFK_NOEXCEPT;

/* Reseeds the session's generator (a new session's is seeded with 0). Generate calls seed
 * their own from hfk_gen_params.seed and leave the generator where their sampling ended.     */
HFK_API hfk_status hfk_session_set_seed(hfk_session *session, uint64_t seed) HFK_NOEXCEPT;

/* Scores n_ids ids without sampling: logprobs_out[i] = log p(ids[i] | the session's tokens,
 * ids[0..i)), natural log, of the raw distribution. ids[0] of an empty session has no
 * context: its entry is NaN. The ids are evaluated into the session (truncate or fork to go
 * back). For a continuation after a prompt: eval the prompt's ids, then score the
 * continuation's; the sum is its log-likelihood.                                              */
HFK_API HFK_NODISCARD hfk_status hfk_session_score(hfk_session *session, const int32_t *ids,
                                                   int64_t n_ids, double *logprobs_out) HFK_NOEXCEPT;

/* Keeps the first n_tokens tokens (0..hfk_session_tokens count; else HFK_E_INVALID_ARG); the
 * logits become those after token n_tokens - 1 again (that one token is recomputed).        */
HFK_API HFK_NODISCARD hfk_status hfk_session_truncate(hfk_session *session,
                                                      int32_t n_tokens) HFK_NOEXCEPT;

/* A new session on the same model, context and threads holding a copy of `session`'s state
 * (KV cache, tokens, conversation text, logits, generator): one prompt prefix, several
 * continuations. *out: hfk_session_free.                                                      */
HFK_API HFK_NODISCARD hfk_status hfk_session_fork(hfk_session **out,
                                                  hfk_session *session) HFK_NOEXCEPT;

/* Saves the session's state (KV cache, tokens, conversation text, last logits, generator) to
 * `path`, written to path.tmp and renamed (a crash never leaves half a file at `path`). The
 * format is versioned and names the model (capi/README.md, "Saved sessions"). HFK_E_IO,
 * HFK_E_NO_SPACE.                                                                             */
HFK_API HFK_NODISCARD hfk_status hfk_session_save(hfk_session *session,
                                                  const char *path) HFK_NOEXCEPT;

/* Replaces the session's state with the one saved at `path`; the session then continues
 * exactly as the saved one would. The whole file is checked before anything changes: on any
 * error the session is as before. HFK_E_NOT_FOUND; HFK_E_FORMAT (not a session state,
 * truncated, or corrupt: a checksum covers every byte); HFK_E_UNSUPPORTED (a newer format
 * version or another KV type); HFK_E_INVALID_ARG (saved from a different model: config.json,
 * vocabulary or weights differ); HFK_E_CONTEXT_FULL (more tokens than this session's n_ctx).  */
HFK_API HFK_NODISCARD hfk_status hfk_session_load(hfk_session *session,
                                                  const char *path) HFK_NOEXCEPT;

/* hfk_session_generate from token ids: runs `ids` (n_ids may be 0 to continue) after the
 * session's tokens and generates, with the same params, callbacks, text and result. No text is
 * tokenized; every generated id (EOS excluded) ends up in the session, so hfk_session_tokens
 * and hfk_session_logits continue from the end of the output (unless the context filled up).
 * HFK_E_INVALID_ARG for an id outside the vocabulary or an empty session with no ids.        */
HFK_API HFK_NODISCARD hfk_status hfk_session_generate_tokens(
    hfk_session *session, const int32_t *ids, int64_t n_ids, const hfk_gen_params *params,
    hfk_piece_cb on_piece, void *user_data, char **text_out,
    hfk_gen_result *result_out) HFK_NOEXCEPT;

/* ---- embeddings and classification (encoder models) --------------------------------------- */
typedef int32_t hfk_pooling;
enum { HFK_POOLING_MEAN = 0, HFK_POOLING_CLS = 1 };
/* Appended: the last token's vector, the per-dimension maximum over the tokens, and the
 * repository's own choice (sentence-transformers' 1_Pooling/config.json; mean without one). */
enum { HFK_POOLING_LAST_TOKEN = 2, HFK_POOLING_MAX = 3, HFK_POOLING_MODEL = -1 };

typedef struct hfk_embed_params {
    uint32_t struct_size;
    hfk_pooling pooling; /* [HFK_POOLING_MODEL]                                        */
    int32_t normalize;   /* 1: L2-normalise, 0: not, -1: as the repository says (a
                            Normalize module in modules.json; yes without one) [-1]      */
    int32_t n_threads;   /* <= 0: the model's default                                   */
    /* Appended. NULL, or n_texts entries set to 1 where the text was longer than the model's
     * maximum (sentence_bert_config.json's max_seq_length, else its positions) and was cut to
     * it, special tokens kept, as sentence-transformers does; else 0. [NULL]            */
    int32_t *truncated_out;
} hfk_embed_params;

HFK_API hfk_status hfk_embed_params_init(hfk_embed_params *p, size_t caller_size) HFK_NOEXCEPT;
#define HFK_EMBED_PARAMS_INIT(p) hfk_embed_params_init((p), sizeof *(p))

/* Width of one embedding vector (the hidden size); 0 for NULL or a generator model. */
HFK_API int32_t hfk_model_embedding_dim(const hfk_model *model) HFK_NOEXCEPT;

/* Embeds n_texts UTF-8 texts into the caller's buffer `out`, row-major n_texts x dim floats
 * (out_len is its length in floats). HFK_E_BUFFER_TOO_SMALL if out_len < n_texts x dim;
 * HFK_E_UNSUPPORTED for a generator model, or with HFK_POOLING_MODEL for a sentence-transformers
 * pipeline hfkit cannot reproduce (a Dense module, weighted-mean pooling: the message says).
 * A text longer than the model's maximum is truncated (params.truncated_out says which).      */
HFK_API HFK_NODISCARD hfk_status hfk_model_embed(const hfk_model *model, const char *const *texts,
                                                 size_t n_texts, const hfk_embed_params *params,
                                                 float *out, size_t out_len) HFK_NOEXCEPT;

/* Number of classes of a sequence-classification checkpoint; 0 when it has no classifier. */
HFK_API int32_t hfk_model_num_labels(const hfk_model *model) HFK_NOEXCEPT;
/* The name of class `index` (config id2label), borrowed like the model; NULL if out of range. */
HFK_API const char *hfk_model_label(const hfk_model *model, int32_t index) HFK_NOEXCEPT;

/* Classifies one text: writes softmax probabilities of the hfk_model_num_labels() classes into
 * scores (n_scores entries). HFK_E_UNSUPPORTED when the model has no classifier head.          */
HFK_API HFK_NODISCARD hfk_status hfk_model_classify(const hfk_model *model, const char *text,
                                                    float *scores, size_t n_scores) HFK_NOEXCEPT;

/* The classifier head's raw logits for one text (no softmax), n_logits >= hfk_model_num_labels()
 * entries: what transformers' *ForSequenceClassification returns. A one-label head (a
 * cross-encoder reranker) has one logit, its score, which hfk_model_classify's softmax would
 * turn into 1.0. HFK_E_UNSUPPORTED without a classifier head, HFK_E_BUFFER_TOO_SMALL if
 * n_logits is too small, HFK_E_CONTEXT_FULL for a text longer than the model's positions. */
HFK_API HFK_NODISCARD hfk_status hfk_model_classify_logits(const hfk_model *model, const char *text,
                                                           float *logits,
                                                           size_t n_logits) HFK_NOEXCEPT;

/* Rerankers: a cross-encoder (*ForSequenceClassification) scores (query, document) pairs. */
typedef struct hfk_rerank_params {
    uint32_t struct_size;
    int32_t n_threads;  /* <= 0: the model's default                                          */
    int32_t activation; /* -1: the sigmoid of a one-label head's logit, the raw logits of a head
                           with several (sentence-transformers' CrossEncoder default); 0: raw
                           logits; 1: the sigmoid of every logit [-1]                         */
    int32_t *truncated_out; /* NULL, or n_documents entries set to 1 where the pair was cut to
                               the model's maximum, else 0 [NULL]                            */
} hfk_rerank_params;

HFK_API hfk_status hfk_rerank_params_init(hfk_rerank_params *p, size_t caller_size) HFK_NOEXCEPT;
#define HFK_RERANK_PARAMS_INIT(p) hfk_rerank_params_init((p), sizeof *(p))

/* Scores each of n_documents UTF-8 documents against the query: the pair is tokenized with the
 * tokenizer's pair template (BERT: [CLS] query [SEP] document [SEP], the document's tokens of
 * type 1; RoBERTa / XLM-R: <s> query </s></s> document </s>), cut longest first to the model's
 * maximum (sentence_bert_config.json's max_seq_length, else its positions) as transformers'
 * truncation=True does, and run through the classifier head. Writes hfk_model_num_labels()
 * values per document into scores, row-major (n_scores >= n_documents x labels; a reranker has
 * one label: one score per document, higher is more relevant). HFK_E_UNSUPPORTED without a
 * classifier head or for a generator, HFK_E_BUFFER_TOO_SMALL if n_scores is too small,
 * HFK_E_CONTEXT_FULL when the pair's special tokens alone exceed the maximum.                 */
HFK_API HFK_NODISCARD hfk_status hfk_model_rerank(const hfk_model *model, const char *query,
                                                  const char *const *documents, size_t n_documents,
                                                  const hfk_rerank_params *params, float *scores,
                                                  size_t n_scores) HFK_NOEXCEPT;

/* ---- inspecting a model before downloading it ---------------------------------------------
 * "Will this model run here?", answered from config.json and the safetensors headers alone: for
 * a Hub id only config.json is fetched (a few KB, through the cache) and the headers are read
 * with HTTP Range requests; the weights are never downloaded.                                 */
typedef struct hfk_inspection hfk_inspection;

typedef struct hfk_inspect_params {
    uint32_t struct_size;
    int64_t context_length;       /* tokens the KV estimate is for; <= 0: the model's maximum */
    int32_t batch;                /* sequences sharing the estimate; <= 0: 1                 */
    int32_t kv_bytes_per_element; /* 1, 2 or 4; <= 0: 2 (an f16 cache)                       */
    const hfk_hub_params *hub;    /* NULL: defaults (environment); progress is not used      */
} hfk_inspect_params;

HFK_API hfk_status hfk_inspect_params_init(hfk_inspect_params *p, size_t caller_size) HFK_NOEXCEPT;
#define HFK_INSPECT_PARAMS_INIT(p) hfk_inspect_params_init((p), sizeof *(p))

/* What an inspection found. Filled by the library: struct_size is the LIBRARY's size, so a
 * caller built against a newer header checks it before reading fields appended later. Strings
 * are borrowed from the hfk_inspection and never NULL ("" when unknown). Sizes are bytes;
 * counts are 0 when the config does not say.                                                  */
typedef struct hfk_model_info {
    uint32_t struct_size;
    int32_t supported_for_inference; /* 1: hfkit can run it                               */
    const char *source;              /* the id or path inspected                          */
    const char *model_type;          /* config.json model_type                            */
    const char *architecture;        /* architectures[0]                                  */
    const char *unsupported_reason;  /* why not, when supported_for_inference is 0        */
    const char *stored_dtype;        /* "BF16", "F32", ... as stored                      */
    const char *parameters_source;   /* "safetensors_headers", "config", "estimate",
                                        "unknown"                                         */
    uint64_t parameters;             /* total                                             */
    uint64_t active_parameters;      /* per token (MoE); = parameters otherwise           */
    int32_t parameters_exact;        /* 1: summed from the safetensors headers            */
    int32_t multimodal;              /* vision/audio sub-configs: not for inference       */
    int32_t tied_embeddings;
    int32_t kv_bytes_per_element;
    int64_t vocab_size, context_length, layers, heads, kv_heads, head_dim, hidden_size,
        intermediate_size, num_experts, experts_per_token;
    uint64_t stored_weight_bytes; /* the safetensors files' sizes                      */
    uint64_t weight_bytes_f32, weight_bytes_f16, weight_bytes_q8_0, weight_bytes_q4_0;
    int64_t kv_context_length; /* the context the KV total is for                   */
    int64_t batch;
    uint64_t kv_bytes_per_token; /* 2 x layers x kv_heads x head_dim x bytes/element  */
    uint64_t kv_bytes_total;     /* per token x kv_context_length x batch             */
    uint64_t overhead_bytes;     /* activations, logits, code                         */
    uint64_t resident_estimate;  /* weights as loaded + KV total + overhead           */
    uint64_t download_bytes;     /* weights not yet in the cache                      */
    uint64_t available_memory;   /* MemAvailable, capped by a cgroup limit            */
    uint64_t free_disk;          /* where the weights would go                        */
    int32_t fits_memory, fits_disk;
    uint64_t weight_bytes_q4_1; /* 20 bytes per block of 32 (Q4_1: hfkit's q4); q8_0 is
                                   hfkit's q8                                           */
} hfk_model_info;

/* Inspects a Hub repo id, a local model directory or a path to a config.json. On success *out
 * owns the result (free with hfk_inspection_free). Errors: HFK_E_NOT_FOUND, HFK_E_FORMAT
 * (malformed config or headers), HFK_E_GATED (with the Hub's message), HFK_E_AUTH,
 * HFK_E_NETWORK, HFK_E_OFFLINE, HFK_E_INVALID_ARG and the other Hub codes of hfk_prepare.      */
HFK_API HFK_NODISCARD hfk_status hfk_inspect(hfk_inspection **out, const char *id_or_path,
                                             const hfk_inspect_params *params) HFK_NOEXCEPT;
HFK_API void hfk_inspection_free(hfk_inspection *inspection) HFK_NOEXCEPT; /* NULL ok */
/* Borrowed, valid until hfk_inspection_free; NULL for a NULL inspection. */
HFK_API const hfk_model_info *hfk_inspection_info(const hfk_inspection *inspection) HFK_NOEXCEPT;
/* The same as one JSON object (keys as the fields above, plus "weight_bytes" {f32, f16, q8_0,
 * q4_0, q4_1}, "parameters_by_dtype", "weight_files" and "notes"); keys are only ever added.
 * Borrowed, valid until hfk_inspection_free; NULL for a NULL inspection.                      */
HFK_API const char *hfk_inspection_json(const hfk_inspection *inspection) HFK_NOEXCEPT;

/* ---- chat templates -----------------------------------------------------------------------
 * A model's own chat template (chat_template in tokenizer_config.json, chat_template.jinja or
 * chat_template.json) rendered by hfkit's sandboxed Jinja interpreter, as transformers'
 * apply_chat_template does. A conversation is JSON: a list of messages, or an object
 *   {"messages": [...], "tools": [...], "documents": [...], "add_generation_prompt": bool,
 *    "continue_final_message": bool, "extra": {...template variables, e.g. enable_thinking}}
 * with OpenAI/transformers messages (role, content as a string or a list of {"type": "text",
 * "text"} parts, tool_calls, tool_call_id, name, reasoning_content). The template also sees
 * the special-token strings of tokenizer_config.json (bos_token, eos_token, any *_token).
 * chat_template: NULL for the model's own template ("tool_use" when tools are given and the
 * model names one, else "default"), or the Jinja source of a template to use instead.
 * Errors: HFK_E_NOT_FOUND (no template: a base model; pass one), HFK_E_FORMAT (the template
 * does not parse, fails, or calls raise_exception(msg): the message is msg), HFK_E_RESOURCE
 * (a sandbox limit: output size, loop iterations, recursion depth), HFK_E_INVALID_ARG (the
 * conversation JSON is malformed).                                                            */

/* Renders `conversation_json` with the template of the local model directory `model_dir`
 * (which may be NULL when chat_template is given). *text_out: free with hfk_free.            */
HFK_API HFK_NODISCARD hfk_status hfk_chat_render_dir(const char *model_dir,
                                                     const char *conversation_json,
                                                     const char *chat_template,
                                                     char **text_out) HFK_NOEXCEPT;

/* The same with the template of an opened model (READY, else HFK_E_STATE).                   */
HFK_API HFK_NODISCARD hfk_status hfk_chat_render(const hfk_model *model,
                                                 const char *conversation_json,
                                                 const char *chat_template,
                                                 char **text_out) HFK_NOEXCEPT;

/* One chat turn on a session: renders the WHOLE conversation (with add_generation_prompt,
 * unless the JSON sets continue_final_message) and generates the assistant's reply, reusing
 * the KV cache for the longest token prefix shared with what the session already holds (so a
 * turn costs only its new tokens; result_out->n_reused_tokens tells). The template's text is
 * tokenized without adding special tokens (the template writes them). Generation stops at
 * every eos_token_id of generation_config.json and at the template's turn terminator (e.g.
 * <|im_end|>, <|eot_id|>), which is not part of *text_out. Other arguments and errors as
 * hfk_session_generate, plus those of hfk_chat_render.                                       */
HFK_API HFK_NODISCARD hfk_status hfk_session_chat(hfk_session *session,
                                                  const char *conversation_json,
                                                  const char *chat_template,
                                                  const hfk_gen_params *params,
                                                  hfk_piece_cb on_piece, void *user_data,
                                                  char **text_out,
                                                  hfk_gen_result *result_out) HFK_NOEXCEPT;

/* ---- the batching engine (continuous batching, many requests over one model) ---------------
 * An engine runs requests from many threads over one model in batched steps: each step is one
 * forward pass over a decode token of every generating request plus chunks of pending prompts
 * (at most max_batch_tokens; a long prompt never stalls the others), with every weight matrix
 * read once per step. A request's output does not depend on the others in the batch nor on the
 * thread count (batch-invariant kernels): a greedy request gives the same text alone or among
 * many. Only the rotary decoders (Llama, Mistral, Qwen2/3, Gemma, Phi-3, SmolLM3, MoE) have the
 * batched forward; GPT-2 and Phi-2 are HFK_E_UNSUPPORTED.
 *
 * KV memory is one pool of kv_budget_bytes in blocks of kv_block_tokens tokens (paged: a
 * request's keys and values live in blocks anywhere in the pool). A request takes the blocks its
 * prompt plus max_new_tokens may need when it starts running and gives them back when it ends,
 * so a running request never runs out and no block it holds is taken from it. One that does not
 * fit waits in a queue of max_queued; beyond that hfk_engine_submit fails with HFK_E_BUSY.
 * Prefix caching: the full blocks of a prompt are kept after its request ends (evictable, least
 * recently used first, when the pool needs blocks), and a later prompt that starts with the
 * same tokens, block for block, shares them instead of running them again; its output is the
 * same bits either way. The pool's memory is committed as it is first written and kept.
 *
 * Threads: every function may be called from any thread. Every on_piece callback runs on the
 * engine's single worker thread (never on the submitting thread), one call at a time, a
 * request's pieces in order, with no engine lock held. A callback may call hfk_engine_submit,
 * hfk_engine_cancel and hfk_engine_stats; hfk_engine_wait from a callback is HFK_E_REENTRANT,
 * and it must not call hfk_engine_free. While a callback runs, no request advances: keep it
 * short. user_data must stay valid until hfk_engine_wait has returned for the request (or
 * hfk_engine_free). Every submitted request's result is kept until hfk_engine_wait collects it
 * (or the engine is freed).                                                                    */
typedef struct hfk_engine hfk_engine;
typedef uint64_t hfk_request_id;

typedef struct hfk_engine_params {
    uint32_t struct_size;
    int32_t max_sequences;    /* requests running at once [8]                                 */
    int32_t max_batch_tokens; /* tokens of one step, >= max_sequences [256]                   */
    uint64_t kv_budget_bytes; /* KV memory; 0: max_sequences whole contexts [0]               */
    int32_t n_threads;        /* <= 0: the model's default                                    */
    int32_t max_queued;       /* requests waiting to start; more: HFK_E_BUSY [64]             */
    int32_t n_ctx;            /* context per request; <= 0: hfk_load_params.n_ctx if set,
                                 else the model's context length                            */
    int32_t kv_block_tokens;  /* tokens per KV block, 1..4096 [16]                            */
    hfk_kv_dtype kv_dtype;    /* HFK_KV_*: the pool's element type [HFK_KV_F32]; F16/BF16 halve
                                 a block's bytes (so a budget holds twice the tokens), rounded
                                 as a session's cache of that type rounds them               */
} hfk_engine_params;

HFK_API hfk_status hfk_engine_params_init(hfk_engine_params *p, size_t caller_size) HFK_NOEXCEPT;
#define HFK_ENGINE_PARAMS_INIT(p) hfk_engine_params_init((p), sizeof *(p))

/* An engine over a READY model (else HFK_E_STATE); params may be NULL. It holds a reference to
 * the model and starts its worker thread. HFK_E_UNSUPPORTED for a model without the batched
 * forward, HFK_E_INVALID_ARG for bad params (named), e.g. a budget below one block.           */
HFK_API HFK_NODISCARD hfk_status hfk_engine_create(hfk_engine **out, hfk_model *model,
                                                   const hfk_engine_params *params) HFK_NOEXCEPT;
/* Cancels every request (running ones get HFK_STOP_CANCELLED), joins the worker and frees the
 * engine; results not collected are dropped. No other thread may be inside an hfk_engine_*
 * call on it. NULL ok.                                                                         */
HFK_API void hfk_engine_free(hfk_engine *engine) HFK_NOEXCEPT;

/* Queues a request: n_ids > 0 token ids (ids) as the prompt, else `prompt` (UTF-8, tokenized
 * with params->add_special_tokens). params as for hfk_session_generate (NULL: defaults), with
 * the same results: a constraint (compiled here, per request: HFK_E_INVALID_ARG naming the
 * position when it does not compile) gives a session's output and stop reasons, logprobs come
 * back in hfk_engine_result. *id_out: the request's id (> 0).
 * Checked before queueing: HFK_E_INVALID_ARG, HFK_E_CONTEXT_FULL (the prompt exceeds n_ctx),
 * HFK_E_RESOURCE (it may need more KV blocks than the whole budget), HFK_E_BUSY (the queue is
 * full: try again later). on_piece may be NULL.                                               */
HFK_API HFK_NODISCARD hfk_status hfk_engine_submit(hfk_engine *engine, const char *prompt,
                                                   const int32_t *ids, int64_t n_ids,
                                                   const hfk_gen_params *params,
                                                   hfk_piece_cb on_piece, void *user_data,
                                                   hfk_request_id *id_out) HFK_NOEXCEPT;

/* Cancels a request: a queued one ends at once, a running one at the end of the current step
 * (with the text generated so far). HFK_E_NOT_FOUND when the id is unknown or the request has
 * already ended.                                                                               */
HFK_API hfk_status hfk_engine_cancel(hfk_engine *engine, hfk_request_id id) HFK_NOEXCEPT;

/* Cancels every request still waiting to start: each ends at once with HFK_E_CANCELLED (its
 * hfk_engine_wait returns it, with no text); running requests go on. n_cancelled (may be NULL)
 * receives how many ended. For a server draining before shutdown: what it admitted but has not
 * started is refused, what runs gets to finish. Any thread.                                    */
HFK_API hfk_status hfk_engine_cancel_queued(hfk_engine *engine, int32_t *n_cancelled) HFK_NOEXCEPT;

typedef struct hfk_engine_result {
    uint32_t struct_size;
    hfk_stop_reason stop_reason;
    int32_t n_prompt_tokens;
    int32_t n_generated_tokens;
    double time_to_first_token_ms; /* from hfk_engine_submit to the first sampled token    */
    /* With hfk_gen_params.logprobs (else 0 and NULL): one row per generated token (EOS
     * excluded), as hfk_session_last_logprobs gives a session's (the same definition: the
     * model's raw distribution, before biases, penalties, temperature and constraint masks).
     * Filled for HFK_OK and HFK_E_CANCELLED (the tokens so far), and only when the caller's
     * struct has these fields. The arrays are the caller's: free each with hfk_free.        */
    int64_t n_logprobs;
    int32_t n_top_logprobs;    /* columns of top_ids / top_logprobs (params.top_logprobs)   */
    int32_t last_prompt_token; /* the prompt's last id: the first token's text reads after it */
    int32_t *token_ids;        /* n_logprobs generated ids                                  */
    float *logprobs;           /* n_logprobs: log p(token_ids[i])                            */
    int32_t *top_ids;          /* n_logprobs x n_top_logprobs, row-major, best first (ties to
                                  the lower id); NULL when n_top_logprobs is 0              */
    float *top_logprobs;       /* the same shape                                             */
} hfk_engine_result;

HFK_API hfk_status hfk_engine_result_init(hfk_engine_result *p, size_t caller_size) HFK_NOEXCEPT;
#define HFK_ENGINE_RESULT_INIT(p) hfk_engine_result_init((p), sizeof *(p))

/* Blocks until the request ends and collects its result (once: HFK_E_NOT_FOUND afterwards).
 * Returns the request's status: HFK_OK, HFK_E_CANCELLED (text_out holds the partial text),
 * HFK_E_NUMERIC, HFK_E_CALLBACK, ... text_out (may be NULL): the generated text, free with
 * hfk_free; result_out (may be NULL) initialised with HFK_ENGINE_RESULT_INIT. From an on_piece
 * callback: HFK_E_REENTRANT.                                                                   */
HFK_API hfk_status hfk_engine_wait(hfk_engine *engine, hfk_request_id id, char **text_out,
                                   hfk_engine_result *result_out) HFK_NOEXCEPT;

typedef struct hfk_engine_statistics {
    uint32_t struct_size;
    int32_t queued;               /* waiting to start                                        */
    int32_t running;              /* admitted, holding KV blocks                              */
    int32_t last_batch_sequences; /* requests in the last step                                */
    int32_t last_batch_tokens;    /* tokens (rows) of the last step                           */
    int64_t kv_blocks_used;
    int64_t kv_blocks_total;
    int32_t kv_block_tokens;
    uint64_t kv_block_bytes;
    uint64_t steps;             /* batched forward passes run                                 */
    uint64_t completed;         /* requests ended with HFK_OK                                 */
    uint64_t cancelled;         /* with HFK_E_CANCELLED                                       */
    uint64_t failed;            /* with another error                                         */
    uint64_t prefix_cache_hits; /* prompt tokens read from cached blocks, not run             */
    uint64_t results_pending;   /* ended, not yet collected by hfk_engine_wait                */
    uint64_t sequence_steps;     /* requests summed over every step (/ steps: the mean batch) */
    int32_t max_batch_sequences; /* the most requests one step has run                        */
    int64_t kv_blocks_cached;    /* held by no request, kept for reuse as a prefix (prompt and
                                    reply blocks; evictable; not in kv_blocks_used)          */
    uint64_t constraint_cache_hits; /* submits whose constraint was already compiled (the
                                       engine keeps the last 32 (kind, text) compiled)        */
} hfk_engine_statistics;

HFK_API hfk_status hfk_engine_statistics_init(hfk_engine_statistics *p, size_t caller_size) HFK_NOEXCEPT;
#define HFK_ENGINE_STATISTICS_INIT(p) hfk_engine_statistics_init((p), sizeof *(p))

/* A snapshot of the engine's counters into *out (initialised with HFK_ENGINE_STATISTICS_INIT).     */
HFK_API hfk_status hfk_engine_stats(const hfk_engine *engine, hfk_engine_statistics *out) HFK_NOEXCEPT;

/* Queues a chat turn, as hfk_session_chat does on a session: conversation_json rendered with
 * the model's chat template (or chat_template, may be NULL), tokenized without adding special
 * tokens, stopped at every EOS id and at the template's turn terminator (as a token id when it
 * is one vocabulary entry, and as a stop string), which is not part of the text. Otherwise as
 * hfk_engine_submit; plus the errors of hfk_chat_render (HFK_E_NOT_FOUND: no template).        */
HFK_API HFK_NODISCARD hfk_status hfk_engine_submit_chat(hfk_engine *engine,
                                                        const char *conversation_json,
                                                        const char *chat_template,
                                                        const hfk_gen_params *params,
                                                        hfk_piece_cb on_piece, void *user_data,
                                                        hfk_request_id *id_out) HFK_NOEXCEPT;

#ifdef __cplusplus
}
#endif
#endif /* HFKIT_H */
