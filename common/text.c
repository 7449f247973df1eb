/* evbridge — small string helpers: strict UTF-8 validation, code point count, copies,
 * character-set checks and URL (percent) encoding.
 *
 * UTF-8 follows RFC 3629 §4 (the well-formed byte-sequence table): no overlong forms, no
 * UTF-16 surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated sequences.
 * Spec: https://www.rfc-editor.org/rfc/rfc3629#section-4
 */
#include "common/text.h"

#include <stdlib.h>
#include <string.h>

/* Length of the well-formed sequence at s[0..n), or 0 when it is not well-formed. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* > U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
    }
    if (n < len)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

int evb_utf8_valid(const char *s, size_t n)
{
    if (s == NULL)
        return n == 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0)
            return 0;
        i += k;
    }
    return 1;
}

char *evb_utf8_sanitize(char *s)
{
    if (s == NULL)
        return NULL;
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s), i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            if (p[i] < 0x20 || p[i] == 0x7f)
                p[i] = '?';
            i++;
            continue;
        }
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0) {
            p[i++] = '?';
            continue;
        }
        i += k;
    }
    return s;
}

size_t evb_utf8_len(const char *s, size_t n)
{
    size_t count = 0;
    if (s == NULL)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            count++;
    return count;
}

char *evb_strndup(const char *s, size_t n)
{
    if (s == NULL)
        return NULL;
    size_t len = strnlen(s, n);
    char *c = malloc(len + 1);
    if (c == NULL)
        return NULL;
    memcpy(c, s, len);
    c[len] = '\0';
    return c;
}

char *evb_strdup(const char *s)
{
    if (s == NULL)
        return NULL;
    return evb_strndup(s, strlen(s));
}

/* 1 when c is in the range set (see evb_str_matches). */
static int in_set(unsigned char c, const char *set)
{
    const unsigned char *p = (const unsigned char *)set;
    while (*p != '\0') {
        if (p[1] == '-' && p[2] != '\0') {
            if (c >= p[0] && c <= p[2])
                return 1;
            p += 3;
        } else {
            if (c == p[0])
                return 1;
            p++;
        }
    }
    return 0;
}

int evb_str_matches(const char *s, const char *set, size_t minlen, size_t maxlen)
{
    if (s == NULL || set == NULL)
        return 0;
    size_t n = 0;
    for (; s[n] != '\0'; n++) {
        if (n >= maxlen || !in_set((unsigned char)s[n], set))
            return 0;
    }
    return n >= minlen;
}

static int url_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

char *evb_url_encode(const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s == NULL)
        return NULL;
    if (n > (((size_t)-1) - 1) / 3)
        return NULL;
    char *out = malloc(3 * n + 1);
    if (out == NULL)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (url_unreserved(c)) {
            out[j++] = (char)c;
        } else {
            out[j++] = '%';
            out[j++] = hex[c >> 4];
            out[j++] = hex[c & 0xF];
        }
    }
    out[j] = '\0';
    return out;
}
