/* evbridge — CloudEvents 1.0 attribute rules as pure functions.
 *
 * Shapes only, no I/O: attribute and extension names, reserved names, string values, URI
 * and URI-reference syntax (RFC 3986), media types (RFC 2046 / RFC 9110 §8.3.1) and a
 * whole-event check. All functions are thread-safe and take NUL-terminated UTF-8 strings;
 * NULL is never valid.
 * Spec: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
 */
#ifndef EVB_SERVER_CLOUDEVENTS_CE_RULES_H
#define EVB_SERVER_CLOUDEVENTS_CE_RULES_H

#include <stddef.h>

#include "common/err.h"
#include "server/cloudevents/event.h"

#define EVB_CE_SPECVERSION "1.0"
#define EVB_CE_NAME_MAX 20

/* 1 when name is an attribute name: [a-z0-9]{1,20}. */
int evb_ce_name_valid(const char *name);

/* 1 when name may not be used for a user's extension: the context attributes (id, source,
 * specversion, type, datacontenttype, dataschema, subject, time), the JSON format's data
 * and data_base64, and our own extensions orgid and connector. */
int evb_ce_name_reserved(const char *name);

/* 1 when s[0..n) is well-formed UTF-8 without U+0000–U+001F and U+007F–U+009F. */
int evb_ce_string_valid(const char *s, size_t n);

/* 1 when s is a non-empty URI-reference (RFC 3986 §4.1): a URI or a relative reference,
 * with only the allowed characters, well-formed %XX escapes, at most one '#', and '[' ']'
 * only around an IP-literal host. */
int evb_ce_uri_ref_valid(const char *s);

/* 1 when s is an absolute URI (RFC 3986 §3: scheme ":" hier-part [ "?" query ]
 * [ "#" fragment ]); as URI-reference plus a required scheme. */
int evb_ce_uri_valid(const char *s);

/* 1 when s has the shape of a media type: type "/" subtype *( OWS ";" OWS name "=" value )
 * with RFC 9110 tokens and quoted-string values (e.g. "application/json; charset=utf-8"). */
int evb_ce_media_type_valid(const char *s);

/* 1 when the media type is JSON: application/json or any type with a "+json" structured
 * suffix (case-insensitive, parameters ignored). NULL (absent) counts as JSON, as the
 * CloudEvents JSON format does. */
int evb_ce_media_type_is_json(const char *s);

/* 1 when the media type is textual (text/..., application/xml, any "+xml" suffix). */
int evb_ce_media_type_is_text(const char *s);

/* Checks a whole event against the rules above: id, source, type required and non-empty;
 * subject non-empty when present; time a valid RFC 3339 timestamp; datacontenttype a media
 * type; dataschema an absolute URI; orgid/connector non-empty when present; extensions with
 * valid, unreserved, unique names sorted ascending; every string value valid.
 * On failure returns EVB_ERR_INVALID and fills err (when not NULL) with a message and, in
 * err->pointer, the CloudEvents name of the bad attribute ("source", "orgid", "myext"). */
evb_err evb_ce_event_check(const evb_event *ev, evb_error *err);

#endif
