/* evbridge — error codes shared by every module.
 *
 * One enum for the whole project (as curl's CURLcode): fallible functions return evb_err,
 * EVB_OK (0) on success, and pass results through trailing out-parameters. Where a caller
 * needs to know *what* was wrong (a field name, a JSON pointer), the function also fills an
 * optional evb_error. gRPC status codes are mapped from evb_err in exactly one table
 * (server/rpc/status.c); SQLite codes never leave server/store/.
 */
#ifndef EVB_COMMON_ERR_H
#define EVB_COMMON_ERR_H

#include <stddef.h>

typedef enum evb_err {
    EVB_OK = 0,
    EVB_ERR_INVALID,         /* bad input (names the field in evb_error) -> INVALID_ARGUMENT */
    EVB_ERR_NOT_FOUND,       /* -> NOT_FOUND */
    EVB_ERR_EXISTS,          /* -> ALREADY_EXISTS */
    EVB_ERR_PRECONDITION,    /* state forbids it, e.g. incompatible schema -> FAILED_PRECONDITION */
    EVB_ERR_DENIED,          /* authenticated but not allowed -> PERMISSION_DENIED */
    EVB_ERR_UNAUTHENTICATED, /* no or unknown credentials -> UNAUTHENTICATED */
    EVB_ERR_LIMIT,           /* a limit or rate was hit -> RESOURCE_EXHAUSTED */
    EVB_ERR_TOO_LARGE,       /* an item is over its size limit */
    EVB_ERR_UNAVAILABLE,     /* shutting down, storage busy or failing -> UNAVAILABLE */
    EVB_ERR_NOMEM,           /* an allocation failed */
    EVB_ERR_IO,              /* an operating-system or storage I/O error */
    EVB_ERR_PARSE,           /* malformed text or bytes (JSON, protobuf, RFC 3339 ...) */
    EVB_ERR_UNIMPLEMENTED,   /* -> UNIMPLEMENTED */
    EVB_ERR_CANCELLED,       /* the call or operation was cancelled */
    EVB_ERR_TIMEOUT,         /* a deadline passed */
    EVB_ERR_INTERNAL,        /* a bug or an impossible state */
    EVB_ERR__COUNT
} evb_err;

/* A short, stable, human-readable name for code ("invalid argument"). Never NULL; unknown
 * codes give "unknown error". Thread-safe. */
const char *evb_strerror(evb_err code);

/* Detailed error filled by parsers, validators and request checks. All fields are
 * NUL-terminated and truncated to fit. `pointer` is a JSON pointer or a field path
 * ("entries[3].org") when one applies, else "". */
typedef struct evb_error {
    evb_err code;
    char message[512];
    char pointer[256];
} evb_error;

/* Sets e (when e is not NULL) and returns code, so callers can write
 * `return evb_error_set(e, EVB_ERR_INVALID, "org", "org is required");`.
 * `pointer` may be NULL. The message is printf-formatted. Thread-safe. */
evb_err evb_error_set(evb_error *e, evb_err code, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Clears e to EVB_OK with empty strings. NULL is a no-op. */
void evb_error_clear(evb_error *e);

#endif
