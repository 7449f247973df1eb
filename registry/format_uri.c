/* evbridge registry — RFC 3986 URI / URI-reference syntax check for `format`.
 *
 * A direct reading of the ABNF in RFC 3986 Appendix A
 * (https://www.rfc-editor.org/rfc/rfc3986#appendix-A): scheme, authority (userinfo, host as
 * IP-literal / IPv4 / reg-name, port), path, query and fragment, each over its allowed
 * characters with percent-encoding. Non-ASCII bytes are rejected (that would be an IRI).
 */
#include "registry/format_int.h"

#include <string.h>

static bool alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static bool digit(char c)
{
    return c >= '0' && c <= '9';
}
static bool hex(char c)
{
    return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
static bool unreserved(char c)
{
    return alpha(c) || digit(c) || (c && strchr("-._~", c));
}
static bool sub_delim(char c)
{
    return c && strchr("!$&'()*+,;=", c);
}

/* Checks s[0..n) consists of unreserved / sub-delims / pct-encoded / extra chars. */
static bool chars_ok(const char *s, size_t n, const char *extra)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return false;
            if (!hex(s[i + 1]) || !hex(s[i + 2]))
                return false;
            i += 2;
        } else if (!(unreserved(c) || sub_delim(c) || (c && strchr(extra, c)))) {
            return false;
        }
    }
    return true;
}

static bool ipv6_like(const char *s, size_t n)
{
    /* IP-literal: IPv6address or IPvFuture; validated loosely via the ipv6 format. */
    if (n > 0 && (s[0] == 'v' || s[0] == 'V'))
        return n > 3 && chars_ok(s, n, ":");
    return fmt_check(FMT_IPV6, s, n);
}

static bool authority_ok(const char *s, size_t n)
{
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i] == '@')
            at = s + i;
    if (at != NULL) {
        if (!chars_ok(s, (size_t)(at - s), ":"))
            return false;
        n -= (size_t)(at + 1 - s);
        s = at + 1;
    }
    size_t host_n = n;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL || !ipv6_like(s + 1, (size_t)(close - s - 1)))
            return false;
        host_n = (size_t)(close - s + 1);
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon != NULL)
            host_n = (size_t)(colon - s);
        if (!chars_ok(s, host_n, ""))
            return false;
    }
    if (host_n < n) {
        if (s[host_n] != ':')
            return false;
        for (size_t i = host_n + 1; i < n; i++)
            if (!digit(s[i]))
                return false;
    }
    return true;
}

bool uri_syntax_ok(const char *s, size_t n, bool need_scheme)
{
    size_t i = 0;
    bool has_scheme = false;
    if (n > 0 && alpha(s[0])) {
        size_t k = 1;
        while (k < n && (alpha(s[k]) || digit(s[k]) || s[k] == '+' || s[k] == '-' || s[k] == '.'))
            k++;
        if (k < n && s[k] == ':') {
            has_scheme = true;
            i = k + 1;
        }
    }
    if (need_scheme && !has_scheme)
        return false;
    size_t end = n;
    const char *hash = memchr(s + i, '#', n - i);
    if (hash != NULL) {
        end = (size_t)(hash - s);
        if (!chars_ok(hash + 1, n - end - 1, ":@/?"))
            return false;
    }
    const char *q = memchr(s + i, '?', end - i);
    size_t path_end = end;
    if (q != NULL) {
        path_end = (size_t)(q - s);
        if (!chars_ok(q + 1, end - path_end - 1, ":@/?"))
            return false;
    }
    if (path_end - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        size_t a = i + 2, b = a;
        while (b < path_end && s[b] != '/')
            b++;
        if (!authority_ok(s + a, b - a))
            return false;
        i = b;
    } else if (!has_scheme) {
        /* path-noscheme: no ':' in the first segment */
        size_t k = i;
        while (k < path_end && s[k] != '/') {
            if (s[k] == ':')
                return false;
            k++;
        }
    }
    return chars_ok(s + i, path_end - i, ":@/");
}
