/* evbridge — error names and the detailed error struct. See err.h. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const names[EVB_ERR__COUNT] = {
    [EVB_OK] = "ok",
    [EVB_ERR_INVALID] = "invalid argument",
    [EVB_ERR_NOT_FOUND] = "not found",
    [EVB_ERR_EXISTS] = "already exists",
    [EVB_ERR_PRECONDITION] = "failed precondition",
    [EVB_ERR_DENIED] = "permission denied",
    [EVB_ERR_UNAUTHENTICATED] = "unauthenticated",
    [EVB_ERR_LIMIT] = "resource exhausted",
    [EVB_ERR_TOO_LARGE] = "too large",
    [EVB_ERR_UNAVAILABLE] = "unavailable",
    [EVB_ERR_NOMEM] = "out of memory",
    [EVB_ERR_IO] = "i/o error",
    [EVB_ERR_PARSE] = "parse error",
    [EVB_ERR_UNIMPLEMENTED] = "unimplemented",
    [EVB_ERR_CANCELLED] = "cancelled",
    [EVB_ERR_TIMEOUT] = "timed out",
    [EVB_ERR_INTERNAL] = "internal error",
};

const char *evb_strerror(evb_err code)
{
    if ((int)code < 0 || code >= EVB_ERR__COUNT || names[code] == NULL)
        return "unknown error";
    return names[code];
}

evb_err evb_error_set(evb_error *e, evb_err code, const char *pointer, const char *fmt, ...)
{
    if (e == NULL)
        return code;
    e->code = code;
    snprintf(e->pointer, sizeof e->pointer, "%s", pointer ? pointer : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return code;
}

void evb_error_clear(evb_error *e)
{
    if (e == NULL)
        return;
    e->code = EVB_OK;
    e->message[0] = '\0';
    e->pointer[0] = '\0';
}
