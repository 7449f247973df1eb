/* evbridge — CloudEvents HTTP protocol binding, binary-mode header helpers.
 *
 * In binary mode `Content-Type` carries datacontenttype, every other attribute travels as
 * a `ce-<name>` header and the body is the data. Header values are percent-encoded: space,
 * '"', '%' and every byte outside U+0021–U+007E of the UTF-8 encoding become %XX with
 * upper-case hex ("Euro € 😀" -> "Euro%20%E2%82%AC%20%F0%9F%98%80"). Structured mode uses
 * ce_json.h with EVB_CE_JSON_CONTENT_TYPE. All functions are thread-safe.
 * Spec:
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md
 */
#ifndef EVB_SERVER_CLOUDEVENTS_CE_HTTP_H
#define EVB_SERVER_CLOUDEVENTS_CE_HTTP_H

#include <stddef.h>

#include "common/err.h"
#include "server/cloudevents/event.h"

/* One HTTP header; both strings malloc'd and NUL-terminated. */
typedef struct evb_ce_header {
    char *name;  /* lower-case "ce-id", ...; "Content-Type" for the data's media type */
    char *value; /* ready to send (percent-encoded where the binding asks for it) */
} evb_ce_header;

/* Percent-encodes s[0..n) as a binary-mode header value (see above). Returns a malloc'd
 * NUL-terminated string, or NULL when s is NULL or on allocation failure. */
char *evb_ce_http_value_encode(const char *s, size_t n);

/* Decodes a percent-encoded header value s[0..n) into *out (malloc'd, NUL-terminated).
 * '%' must be followed by two hex digits (either case); the result must be UTF-8 without
 * U+0000. EVB_ERR_PARSE otherwise, EVB_ERR_NOMEM on allocation failure. */
evb_err evb_ce_http_value_decode(const char *s, size_t n, char **out);

/* Lists the binary-mode headers of ev in this order: ce-specversion ("1.0"), ce-id,
 * ce-source, ce-type, ce-subject, ce-time, ce-dataschema, ce-orgid, ce-connector,
 * ce-<ext> for each extension (in the event's order), then Content-Type when
 * datacontenttype is set. Absent optional attributes are left out. On EVB_OK *out is a
 * malloc'd array of *n_out headers (free with evb_ce_http_headers_free). EVB_ERR_INVALID
 * when a required attribute is missing, an extension name is not [a-z0-9]{1,20}, or
 * datacontenttype has bytes outside U+0020–U+007E (it is sent verbatim); EVB_ERR_NOMEM. */
evb_err evb_ce_http_binary_headers(const evb_event *ev, evb_ce_header **out, size_t *n_out);

/* Frees n headers and the array. NULL is a no-op. */
void evb_ce_http_headers_free(evb_ce_header *h, size_t n);

#endif
