/* evbridge registry — `format` checks, private to registry/.
 *
 * Formats are annotations unless the schema was compiled with EVB_SCHEMA_FORMAT_ASSERT.
 * Checked formats follow the RFCs named by JSON Schema 2020-12 validation §7.3
 * (https://json-schema.org/draft/2020-12/json-schema-validation#section-7.3): RFC 3339
 * date/time/duration, RFC 5321 mailbox (ASCII), RFC 1123 hostnames, RFC 2673/4291 IP
 * addresses, RFC 3986 URIs, RFC 4122 UUIDs, ECMA-262 regexes, RFC 6901 pointers.
 * All checks are pure functions of the string; thread-safe.
 */
#ifndef EVB_REGISTRY_FORMAT_INT_H
#define EVB_REGISTRY_FORMAT_INT_H

#include <stdbool.h>
#include <stddef.h>

typedef enum fmt_id {
    FMT_UNKNOWN = 0,
    FMT_DATE_TIME,
    FMT_DATE,
    FMT_TIME,
    FMT_DURATION,
    FMT_EMAIL,
    FMT_HOSTNAME,
    FMT_IPV4,
    FMT_IPV6,
    FMT_URI,
    FMT_URI_REFERENCE,
    FMT_UUID,
    FMT_REGEX,
    FMT_JSON_POINTER,
} fmt_id;

/* The id of a format name, FMT_UNKNOWN for names we do not check. */
fmt_id fmt_lookup(const char *name);
/* Whether s[0..n) is valid for format f (FMT_UNKNOWN: always true). */
bool fmt_check(fmt_id f, const char *s, size_t n);

/* RFC 3986 syntax: an absolute URI (need_scheme) or any URI reference. In format_uri.c. */
bool uri_syntax_ok(const char *s, size_t n, bool need_scheme);

#endif
