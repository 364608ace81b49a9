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
    HFK_E_INTERNAL = -99            /* a bug in hfkit: please report it                     */
};

/* Static name of a code ("HFK_E_CHECKSUM"); "HFK_E_UNKNOWN" for a code this library does not
 * know. Never NULL, never freed.                                                               */
HFK_API const char *hfk_status_name(hfk_status code) HFK_NOEXCEPT;

/* The detail of the most recent failure on *this thread*; "" if none. Never NULL. Owned by the
 * library and valid until the next hfk_* call on this thread: read it straight after the
 * failing call, before any thread hop. A successful call does not clear it.                    */
HFK_API const char *hfk_last_error_message(void) HFK_NOEXCEPT;

/* ---- memory ------------------------------------------------------------------------------ */
/* Frees a buffer that a function below documents as "free with hfk_free". NULL is fine.      */
HFK_API void hfk_free(void *ptr) HFK_NOEXCEPT;

#ifdef __cplusplus
}
#endif
#endif /* HFKIT_H */
