/* evbridge — outbound HTTP requests for HTTP actions, built without any I/O.
 *
 * An action's stored config (server/rpc/action_codec.c) is parsed once into an
 * evb_http_target; each attempt then builds an evb_http_request: URL, method, header lines,
 * body and timeout, ready for a sender (libcurl) that adds nothing of its own.
 *
 * CloudEvents HTTP binding (content_mode):
 *   BINARY (1, default)  ce-<attr> headers (percent-encoded as the binding requires, via
 *                        server/cloudevents/ce_http.h), Content-Type = datacontenttype,
 *                        body = data.
 *   STRUCTURED (2)       Content-Type: application/cloudevents+json; charset=UTF-8, body =
 *                        the event in JSON format (server/cloudevents/ce_json.h).
 * With a transform other than ORIGINAL (mode 0 and ORIGINAL mean "no transform"):
 *   BINARY               body = transform output, Content-Type = the transform's content
 *                        type; the ce- headers still describe the event, so the receiver sees
 *                        a CloudEvent whose data is the transformed payload.
 *   STRUCTURED           body = transform output, Content-Type = the transform's content
 *                        type, no ce- headers: the request is then not a CloudEvent.
 * Tracing: an event with a `traceparent` (and `tracestate`) extension also sends the W3C
 * `traceparent` (`tracestate`) header with the same value, in both modes (binary mode keeps
 * ce-traceparent too, as the binding maps every extension).
 * Auth: basic (Authorization: Basic base64(user:password)), bearer (Authorization: Bearer
 * <token>), api-key (<header>: <key>).
 * Signing (Standard Webhooks, signing.h), when the action has a whsec_ secret: webhook-id =
 * delivery id, webhook-timestamp = now_s, webhook-signature = v1,<base64 HMAC>. Without a
 * secret only webhook-id is sent (when a delivery id is given), so receivers can still
 * deduplicate retries.
 * No header value ever contains CR, LF or another control character: config values are
 * checked at parse time, event values are percent-encoded or checked at build time.
 */
#ifndef EVB_SERVER_DELIVERY_REQUEST_H
#define EVB_SERVER_DELIVERY_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/cloudevents/event.h"
#include "server/routing/transform.h"

typedef enum evb_content_mode {
    EVB_CONTENT_BINARY = 1,
    EVB_CONTENT_STRUCTURED = 2
} evb_content_mode;

typedef enum evb_http_auth_kind {
    EVB_HTTP_AUTH_NONE = 0, /* 0 and 1 (proto NONE) */
    EVB_HTTP_AUTH_BASIC = 2,
    EVB_HTTP_AUTH_BEARER = 3,
    EVB_HTTP_AUTH_API_KEY = 4
} evb_http_auth_kind;

#define EVB_HTTP_TIMEOUT_DEFAULT_MS 15000

/* A parsed HTTP action: immutable after evb_http_target_parse, so one target may be shared
 * by concurrent builds. Opaque. */
typedef struct evb_http_target evb_http_target;

/* One request, ready to send. Owned by the caller: evb_http_request_fini. */
typedef struct evb_http_request {
    char *url;          /* malloc'd */
    const char *method; /* static: "POST" or "PUT" */
    char **headers;     /* n_headers malloc'd "Name: value" lines (no CR/LF) */
    size_t n_headers;
    char *body; /* malloc'd, NUL-terminated (NUL not counted); may hold NUL bytes */
    size_t body_len;
    long timeout_ms;
} evb_http_request;

/* Parses the stored config of an HTTP action ({"description":..., "http":{...}}) into *out
 * (free with evb_http_target_free). Rechecks what a sender relies on: an http(s) URL without
 * blanks or control characters, method POST or PUT (default POST), content_mode 1 or 2
 * (default 1), timeout_ms 1..120000 (0 or absent = 15000), custom headers with token names
 * that are not reserved (ce-*, content-type, webhook-*, authorization, host, ...) and
 * values without control characters, a decodable whsec_ secret when one is set, complete
 * auth settings. EVB_ERR_INVALID (err->pointer names the member, e.g. "http.url"),
 * EVB_ERR_PARSE for text that is not JSON, EVB_ERR_NOMEM. *out is set only on EVB_OK.
 * Thread-safe. */
evb_err evb_http_target_parse(const char *action_config_json, evb_http_target **out,
                              evb_error *err);

/* Frees t (the secret and credentials are wiped first). NULL is a no-op. */
void evb_http_target_free(evb_http_target *t);

/* The target's content mode and whether it signs (for callers and tests). */
evb_content_mode evb_http_target_content_mode(const evb_http_target *t);
int evb_http_target_signs(const evb_http_target *t);

/* Builds the request for one attempt to deliver ev to t (see the file comment).
 * transform may be NULL (= ORIGINAL). delivery_id (may be NULL when t does not sign) must be
 * printable ASCII without blanks or '.'; now_s is the attempt's unix time in seconds.
 * Header order: Content-Type, ce-* (binary mode), traceparent, tracestate, Authorization or
 * the api-key header, the action's custom headers (in config order), webhook-id,
 * webhook-timestamp, webhook-signature. Content-Type is missing only for an untransformed
 * binary-mode event with neither data nor datacontenttype: the sender must then suppress
 * its library's default (libcurl: add "Content-Type:"), or the receiver would read a
 * datacontenttype the event does not have.
 * Errors: EVB_ERR_INVALID when the event cannot be sent in the chosen mode (missing
 * required attribute, a value ce_http/ce_json rejects) or delivery_id is missing/invalid
 * for a signing target; EVB_ERR_TOO_LARGE from the transform's output cap; EVB_ERR_NOMEM.
 * err (may be NULL) says why. On error *out is left zeroed. Thread-safe (t, transform and
 * ev are only read). */
evb_err evb_http_request_build(const evb_http_target *t, const evb_transform *transform,
                               const evb_event *ev, const char *delivery_id, int64_t now_s,
                               evb_http_request *out, evb_error *err);

/* Frees every member and zeroes *r. NULL is a no-op. */
void evb_http_request_fini(evb_http_request *r);

/* Appends a "name: value" line to r->headers. Checks that name is a token and that value
 * has no control characters (CR, LF, NUL, ...): EVB_ERR_INVALID otherwise. EVB_ERR_NOMEM.
 * Used by the robot builder too. */
evb_err evb_http_request_add_header(evb_http_request *r, const char *name, const char *value);

/* The value of the first header named name (case-insensitive) in r, pointing into r's
 * line; NULL when absent. */
const char *evb_http_request_header(const evb_http_request *r, const char *name);

#endif
