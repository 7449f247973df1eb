/* evbridge — CloudEvents 1.0 attribute rules (ce_rules.h).
 *
 * Pure predicates used by ingest (before an event is stored), the wire encoders and the
 * tests. The URI checks follow the RFC 3986 grammar closely enough to reject what receivers
 * (and the npm `cloudevents` SDK) would: bad characters, broken %XX escapes, a colon in
 * the first segment of a relative reference, brackets outside an IP literal, a non-numeric
 * port. Media types follow RFC 9110 §8.3.1 (token "/" token, parameters).
 * Spec: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md#type-system,
 *       https://www.rfc-editor.org/rfc/rfc3986#appendix-A
 */
#include "server/cloudevents/ce_rules.h"

#include <string.h>
#include <strings.h>

#include "common/text.h"
#include "common/timeutil.h"

static const char *const reserved_names[] = {
    "id",      "source", "specversion", "type",        "datacontenttype", "dataschema",
    "subject", "time",   "data",        "data_base64", "orgid",           "connector",
};

int evb_ce_name_valid(const char *name)
{
    return evb_str_matches(name, "a-z0-9", 1, EVB_CE_NAME_MAX);
}

int evb_ce_name_reserved(const char *name)
{
    if (name == NULL)
        return 0;
    for (size_t i = 0; i < sizeof reserved_names / sizeof reserved_names[0]; i++)
        if (strcmp(name, reserved_names[i]) == 0)
            return 1;
    return 0;
}

int evb_ce_string_valid(const char *s, size_t n)
{
    if (s == NULL)
        return 0;
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    for (; i < n && p[i] < 0x80; i++) /* ASCII (the usual case): one pass */
        if (p[i] < 0x20 || p[i] == 0x7F)
            return 0;
    if (i == n)
        return 1;
    if (!evb_utf8_valid(s + i, n - i)) /* the prefix is ASCII: sequences start after it */
        return 0;
    for (; i < n; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F)
            return 0;
        /* U+0080..U+009F are encoded C2 80..C2 9F */
        if (p[i] == 0xC2 && i + 1 < n && p[i + 1] <= 0x9F)
            return 0;
    }
    return 1;
}

/* ---- RFC 3986 ---- */

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int is_unreserved(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_sub_delim(unsigned char c)
{
    return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/* 1 when s[0..n) consists of unreserved, sub-delims, %XX and the bytes in `extra`. */
static int chars_ok(const char *s, size_t n, const char *extra)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '%') {
            if (i + 2 >= n)
                return 0;
            if (!is_hex(p[i + 1]) || !is_hex(p[i + 2]))
                return 0;
            i += 2;
        } else if (!is_unreserved(c) && !is_sub_delim(c) && !(c && strchr(extra, c))) {
            return 0;
        }
    }
    return 1;
}

/* authority = [ userinfo "@" ] host [ ":" port ] */
static int authority_ok(const char *s, size_t n)
{
    const char *at = memchr(s, '@', n);
    if (at != NULL) {
        if (!chars_ok(s, (size_t)(at - s), ":"))
            return 0;
        n -= (size_t)(at - s) + 1;
        s = at + 1;
    }
    size_t host_end;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL || close == s + 1)
            return 0;
        /* IPv6address / IPvFuture: hex digits, ':', '.', and for IPvFuture the rest */
        if (!chars_ok(s + 1, (size_t)(close - s - 1), ":"))
            return 0;
        host_end = (size_t)(close - s) + 1;
    } else {
        const char *colon = memchr(s, ':', n);
        host_end = colon ? (size_t)(colon - s) : n;
        if (!chars_ok(s, host_end, ""))
            return 0;
    }
    if (host_end == n)
        return 1;
    if (s[host_end] != ':')
        return 0;
    for (size_t i = host_end + 1; i < n; i++)
        if (!is_digit((unsigned char)s[i]))
            return 0;
    return 1;
}

static int uri_check(const char *s, int require_scheme)
{
    if (s == NULL || s[0] == '\0')
        return 0;
    size_t n = strlen(s);
    size_t i = 0;
    /* scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    size_t first = strcspn(s, ":/?#");
    int has_scheme = 0;
    if (s[first] == ':') {
        if (first == 0 || !is_alpha((unsigned char)s[0]))
            return 0; /* ":x" or a relative path whose first segment has a colon */
        for (size_t k = 1; k < first; k++) {
            unsigned char c = (unsigned char)s[k];
            if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.')
                return 0;
        }
        has_scheme = 1;
        i = first + 1;
    }
    if (require_scheme && !has_scheme)
        return 0;
    /* fragment */
    const char *hash = strchr(s + i, '#');
    size_t end = hash ? (size_t)(hash - s) : n;
    if (hash != NULL && !chars_ok(hash + 1, n - end - 1, ":@/?"))
        return 0;
    /* query */
    const char *q = memchr(s + i, '?', end - i);
    size_t path_end = q ? (size_t)(q - s) : end;
    if (q != NULL && !chars_ok(q + 1, end - path_end - 1, ":@/?"))
        return 0;
    /* hier-part / relative-part */
    if (path_end - i >= 2 && s[i] == '/' && s[i + 1] == '/') {
        i += 2;
        const char *slash = memchr(s + i, '/', path_end - i);
        size_t auth_end = slash ? (size_t)(slash - s) : path_end;
        if (!authority_ok(s + i, auth_end - i))
            return 0;
        i = auth_end;
    }
    return chars_ok(s + i, path_end - i, ":@/");
}

int evb_ce_uri_ref_valid(const char *s)
{
    return uri_check(s, 0);
}

int evb_ce_uri_valid(const char *s)
{
    return uri_check(s, 1);
}

/* ---- media types ---- */

static int is_tchar(unsigned char c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static size_t token_len(const char *s)
{
    size_t n = 0;
    while (is_tchar((unsigned char)s[n]))
        n++;
    return n;
}

static size_t skip_ows(const char *s)
{
    size_t n = 0;
    while (s[n] == ' ' || s[n] == '\t')
        n++;
    return n;
}

int evb_ce_media_type_valid(const char *s)
{
    if (s == NULL)
        return 0;
    size_t t = token_len(s);
    if (t == 0 || s[t] != '/')
        return 0;
    s += t + 1;
    t = token_len(s);
    if (t == 0)
        return 0;
    s += t;
    for (;;) {
        s += skip_ows(s);
        if (*s == '\0')
            return 1;
        if (*s != ';')
            return 0;
        s++;
        s += skip_ows(s);
        if (*s == '\0')
            return 1; /* a trailing ';' is tolerated, as RFC 9110 allows empty elements */
        t = token_len(s);
        if (t == 0 || s[t] != '=')
            return 0;
        s += t + 1;
        if (*s == '"') {
            s++;
            for (;;) {
                unsigned char c = (unsigned char)*s;
                if (c == '"') {
                    s++;
                    break;
                }
                if (c == '\\') {
                    unsigned char e = (unsigned char)s[1];
                    if (e != '\t' && (e < 0x20 || e == 0x7F))
                        return 0;
                    s += 2;
                    continue;
                }
                if (c != '\t' && (c < 0x20 || c == 0x7F))
                    return 0; /* includes the terminating NUL: unclosed quote */
                s++;
            }
        } else {
            t = token_len(s);
            if (t == 0)
                return 0;
            s += t;
        }
    }
}

/* Length of "type/subtype" (before parameters and whitespace). */
static size_t essence_len(const char *s)
{
    return strcspn(s, "; \t");
}

static int suffix_is(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

static int essence_is(const char *s, size_t n, const char *want)
{
    return n == strlen(want) && strncasecmp(s, want, n) == 0;
}

int evb_ce_media_type_is_json(const char *s)
{
    if (s == NULL)
        return 1;
    size_t n = essence_len(s);
    return essence_is(s, n, "application/json") || suffix_is(s, n, "+json");
}

int evb_ce_media_type_is_text(const char *s)
{
    if (s == NULL)
        return 0;
    size_t n = essence_len(s);
    return (n > 5 && strncasecmp(s, "text/", 5) == 0) || essence_is(s, n, "application/xml") ||
           suffix_is(s, n, "+xml");
}

/* ---- whole event ---- */

static evb_err check_str(const char *v, const char *name, int required, evb_error *err)
{
    if (v == NULL) {
        if (required)
            return evb_error_set(err, EVB_ERR_INVALID, name, "%s is required", name);
        return EVB_OK;
    }
    if (v[0] == '\0')
        return evb_error_set(err, EVB_ERR_INVALID, name, "%s must not be empty", name);
    if (!evb_ce_string_valid(v, strlen(v)))
        return evb_error_set(err, EVB_ERR_INVALID, name,
                             "%s must be UTF-8 without control characters", name);
    return EVB_OK;
}

evb_err evb_ce_event_check(const evb_event *ev, evb_error *err)
{
    evb_err rc;
    if (ev == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "", "no event");
    if ((rc = check_str(ev->id, "id", 1, err)) != EVB_OK ||
        (rc = check_str(ev->source, "source", 1, err)) != EVB_OK ||
        (rc = check_str(ev->type, "type", 1, err)) != EVB_OK ||
        (rc = check_str(ev->subject, "subject", 0, err)) != EVB_OK ||
        (rc = check_str(ev->time, "time", 0, err)) != EVB_OK ||
        (rc = check_str(ev->datacontenttype, "datacontenttype", 0, err)) != EVB_OK ||
        (rc = check_str(ev->dataschema, "dataschema", 0, err)) != EVB_OK ||
        (rc = check_str(ev->org, "orgid", 0, err)) != EVB_OK ||
        (rc = check_str(ev->connector, "connector", 0, err)) != EVB_OK)
        return rc;
    if (!evb_ce_uri_ref_valid(ev->source))
        return evb_error_set(err, EVB_ERR_INVALID, "source", "source must be a URI-reference");
    if (ev->time != NULL) {
        int64_t ms;
        if (evb_time_parse_rfc3339(ev->time, &ms, NULL) != EVB_OK)
            return evb_error_set(err, EVB_ERR_INVALID, "time",
                                 "time must be an RFC 3339 timestamp");
    }
    if (ev->datacontenttype != NULL && !evb_ce_media_type_valid(ev->datacontenttype))
        return evb_error_set(err, EVB_ERR_INVALID, "datacontenttype",
                             "datacontenttype must be a media type (RFC 2046)");
    if (ev->dataschema != NULL && !evb_ce_uri_valid(ev->dataschema))
        return evb_error_set(err, EVB_ERR_INVALID, "dataschema",
                             "dataschema must be an absolute URI");
    if (ev->n_ext > 0 && ev->ext == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "", "extensions missing");
    for (size_t i = 0; i < ev->n_ext; i++) {
        const char *name = ev->ext[i].name;
        if (!evb_ce_name_valid(name))
            return evb_error_set(err, EVB_ERR_INVALID, name ? name : "",
                                 "extension name must be 1-20 characters of a-z and 0-9");
        if (evb_ce_name_reserved(name))
            return evb_error_set(err, EVB_ERR_INVALID, name, "extension name %s is reserved", name);
        if (i > 0 && strcmp(ev->ext[i - 1].name, name) >= 0)
            return evb_error_set(err, EVB_ERR_INVALID, name,
                                 "extension %s is duplicated or out of order", name);
        const char *v = ev->ext[i].value;
        if (v == NULL)
            return evb_error_set(err, EVB_ERR_INVALID, name, "extension %s has no value", name);
        if (!evb_ce_string_valid(v, strlen(v)))
            return evb_error_set(err, EVB_ERR_INVALID, name,
                                 "extension %s must be UTF-8 without control characters", name);
    }
    return EVB_OK;
}
