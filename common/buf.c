/* evbridge — bounded growable byte buffer (see buf.h).
 *
 * Design as curl's dynbuf: the buffer grows geometrically up to a hard cap; an append that
 * would pass the cap fails with EVB_ERR_TOO_LARGE and leaves the content unchanged. The
 * content is kept NUL-terminated. JSON escaping follows RFC 8259 §7; bytes that are not
 * well-formed UTF-8 become U+FFFD so the output is always valid JSON.
 * Spec: https://www.rfc-editor.org/rfc/rfc8259#section-7
 */
#include "common/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_MIN_ALLOC 64

static size_t buf_cap(const evb_buf *b)
{
    return b->cap == 0 ? SIZE_MAX / 2 : b->cap;
}

void evb_buf_init(evb_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap;
}

void evb_buf_fini(evb_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

void evb_buf_reset(evb_buf *b)
{
    b->len = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

/* Makes room for n more bytes plus the NUL. */
static evb_err buf_reserve(evb_buf *b, size_t n)
{
    size_t cap = buf_cap(b);
    if (n > cap || b->len > cap - n)
        return EVB_ERR_TOO_LARGE;
    size_t need = b->len + n + 1;
    if (need <= b->alloc)
        return EVB_OK;
    size_t a = b->alloc < BUF_MIN_ALLOC ? BUF_MIN_ALLOC : b->alloc;
    while (a < need)
        a = a > SIZE_MAX / 2 ? need : a * 2;
    if (a > cap + 1)
        a = cap + 1;
    char *p = realloc(b->data, a);
    if (p == NULL)
        return EVB_ERR_NOMEM;
    b->data = p;
    b->alloc = a;
    return EVB_OK;
}

evb_err evb_buf_append(evb_buf *b, const void *p, size_t n)
{
    evb_err rc = buf_reserve(b, n);
    if (rc != EVB_OK)
        return rc;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return EVB_OK;
}

evb_err evb_buf_append_str(evb_buf *b, const char *s)
{
    return evb_buf_append(b, s, strlen(s));
}

evb_err evb_buf_printf(evb_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return EVB_ERR_INVALID;
    evb_err rc = buf_reserve(b, (size_t)n);
    if (rc != EVB_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return EVB_OK;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) (lead byte >= 0x80), 0 if none. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

evb_err evb_buf_append_json_escaped(evb_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t start_len = b->len;
    evb_err rc = EVB_OK;
    size_t i = 0;
    while (i < n && rc == EVB_OK) {
        /* copy the longest run that needs no escaping in one append */
        size_t j = i;
        while (j < n && p[j] >= 0x20 && p[j] < 0x7F && p[j] != '"' && p[j] != '\\')
            j++;
        if (j > i) {
            rc = evb_buf_append(b, p + i, j - i);
            i = j;
            continue;
        }
        unsigned char c = p[i];
        char esc[7];
        switch (c) {
        case '"':
            rc = evb_buf_append(b, "\\\"", 2);
            i++;
            break;
        case '\\':
            rc = evb_buf_append(b, "\\\\", 2);
            i++;
            break;
        case '\n':
            rc = evb_buf_append(b, "\\n", 2);
            i++;
            break;
        case '\r':
            rc = evb_buf_append(b, "\\r", 2);
            i++;
            break;
        case '\t':
            rc = evb_buf_append(b, "\\t", 2);
            i++;
            break;
        case '\b':
            rc = evb_buf_append(b, "\\b", 2);
            i++;
            break;
        case '\f':
            rc = evb_buf_append(b, "\\f", 2);
            i++;
            break;
        default:
            if (c < 0x80) { /* other C0 controls and DEL */
                esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0';
                esc[4] = hex[c >> 4], esc[5] = hex[c & 0xF];
                rc = evb_buf_append(b, esc, 6);
                i++;
            } else {
                size_t k = utf8_seq_len(p + i, n - i);
                if (k == 0) {
                    rc = evb_buf_append(b, "\\ufffd", 6);
                    i++;
                } else {
                    rc = evb_buf_append(b, p + i, k);
                    i += k;
                }
            }
            break;
        }
    }
    if (rc != EVB_OK) {
        b->len = start_len;
        if (b->data != NULL)
            b->data[start_len] = '\0';
    }
    return rc;
}

evb_err evb_buf_detach(evb_buf *b, char **out, size_t *len_out)
{
    char *p = b->data;
    size_t len = b->len;
    if (p == NULL) {
        p = malloc(1);
        if (p == NULL)
            return EVB_ERR_NOMEM;
        p[0] = '\0';
        len = 0;
    }
    *out = p;
    if (len_out != NULL)
        *len_out = len;
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    return EVB_OK;
}
