/* evbridge — W3C Trace Context checks (tracectx.h).
 * Spec: https://www.w3.org/TR/trace-context/#traceparent-header-field-values
 */
#include "common/tracectx.h"

#include <string.h>

static int lower_hex(const char *s, size_t n, int *all_zero)
{
    int zero = 1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
        zero &= c == '0';
    }
    if (all_zero != NULL)
        *all_zero = zero;
    return 1;
}

int evb_traceparent_valid(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = strnlen(s, 1024);
    int zero = 0;
    if (n < 55 || !lower_hex(s, 2, NULL) || strncmp(s, "ff", 2) == 0 || s[2] != '-')
        return 0;
    if (!lower_hex(s + 3, 32, &zero) || zero || s[35] != '-')
        return 0;
    if (!lower_hex(s + 36, 16, &zero) || zero || s[52] != '-')
        return 0;
    if (!lower_hex(s + 53, 2, NULL))
        return 0;
    if (strncmp(s, "00", 2) == 0)
        return n == 55;
    return n == 55 || (s[55] == '-' && n < 1024); /* a future version: keep the prefix rules */
}

int evb_tracestate_valid(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (n >= EVB_TRACESTATE_MAX || (unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
            return 0;
    return 1;
}

int evb_traceparent_trace_id(const char *s, char out[33])
{
    if (!evb_traceparent_valid(s))
        return 0;
    memcpy(out, s + 3, 32);
    out[32] = '\0';
    return 1;
}
