/* evbridge — small string helpers. All functions are thread-safe. */
#ifndef EVB_COMMON_TEXT_H
#define EVB_COMMON_TEXT_H

#include <stddef.h>

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int evb_utf8_valid(const char *s, size_t n);

/* Makes the NUL-terminated s safe to echo in a message, in place: every byte that is not
 * part of a well-formed UTF-8 sequence, and every ASCII control character, becomes '?'.
 * Returns s. NULL is a no-op. */
char *evb_utf8_sanitize(char *s);

/* Number of code points in well-formed UTF-8 s[0..n). */
size_t evb_utf8_len(const char *s, size_t n);

/* malloc'd copy; NULL in gives NULL; NULL on allocation failure. */
char *evb_strdup(const char *s);
char *evb_strndup(const char *s, size_t n);

/* 1 when every byte of s matches the set given as ranges, e.g. "a-z0-9-" (a '-' at the end
 * is literal), and minlen <= strlen(s) <= maxlen. */
int evb_str_matches(const char *s, const char *set, size_t minlen, size_t maxlen);

/* URL-encodes s[0..n) for a query component (RFC 3986 §2): every byte except the
 * unreserved set A-Z a-z 0-9 "-" "." "_" "~" becomes %XX with upper-case hex (a space
 * becomes %20). Returns a malloc'd NUL-terminated string; NULL when s is NULL or on
 * allocation failure. Used e.g. for the DingTalk robot `sign` parameter. */
char *evb_url_encode(const char *s, size_t n);

#endif
