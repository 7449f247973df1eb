/* evbridge — connection transforms: what a delivery carries instead of the whole event.
 *
 * A transform is compiled once when a connection is created or updated (all checks happen
 * there, with messages that name the field) and applied to each event at delivery, where it
 * cannot fail except for the output cap. Modes (numbers as in proto TransformMode):
 *
 *   ORIGINAL  the CloudEvent in JSON format (structured mode)
 *   DATA      the payload only
 *   JSONPATH  one value selected by a JSONPath (jsonpath.h), as JSON; missing gives null
 *   CONSTANT  a fixed text, sent as given (JSON when it is JSON, else plain text)
 *   TEMPLATE  a template with ${name} placeholders; vars bind each name to a JSONPath.
 *             Inside a JSON string of the template a value is substituted JSON-escaped.
 *
 * Content type of the output:
 *   ORIGINAL                      EVB_TRANSFORM_CT_CLOUDEVENT
 *   DATA                          JSON payload: EVB_TRANSFORM_CT_JSON; a string payload
 *                                 with a non-JSON datacontenttype: its bytes and that type;
 *                                 data_base64: the decoded bytes and the datacontenttype
 *                                 (application/octet-stream when absent); no data: "null"
 *   JSONPATH                      EVB_TRANSFORM_CT_JSON
 *   CONSTANT, TEMPLATE            EVB_TRANSFORM_CT_JSON when JSON, else EVB_TRANSFORM_CT_TEXT
 * The full rules, with examples, are in docs/transforms.md.
 */
#ifndef EVB_SERVER_ROUTING_TRANSFORM_H
#define EVB_SERVER_ROUTING_TRANSFORM_H

#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

typedef enum evb_transform_mode {
    EVB_TRANSFORM_UNSPECIFIED = 0, /* treated as ORIGINAL */
    EVB_TRANSFORM_ORIGINAL = 1,
    EVB_TRANSFORM_DATA = 2,
    EVB_TRANSFORM_JSONPATH = 3,
    EVB_TRANSFORM_CONSTANT = 4,
    EVB_TRANSFORM_TEMPLATE = 5
} evb_transform_mode;

/* Limits. Lengths count Unicode code points (as the proto's strings do). */
#define EVB_TRANSFORM_MAX_VALUE 10240       /* value: path, constant or template */
#define EVB_TRANSFORM_MAX_VARS 100          /* TEMPLATE variables */
#define EVB_TRANSFORM_MAX_VAR_NAME 64       /* [A-Za-z_][A-Za-z0-9_]* */
#define EVB_TRANSFORM_MAX_OUTPUT (1u << 20) /* bytes of one transformed output */

#define EVB_TRANSFORM_CT_JSON "application/json"
#define EVB_TRANSFORM_CT_TEXT "text/plain; charset=utf-8"
#define EVB_TRANSFORM_CT_CLOUDEVENT "application/cloudevents+json; charset=UTF-8"

typedef struct evb_transform evb_transform;

/* Compiles a transform. mode 0 means ORIGINAL. value (NULL = "") is the JSONPath, the
 * constant or the template and must be empty for ORIGINAL and DATA. var_names[i] binds to
 * var_paths[i] for i < n_vars (arrays may be NULL when n_vars is 0); vars are allowed only
 * with TEMPLATE, and each must be used by the template; every ${name} in the template must
 * be bound. All strings are borrowed and must be valid UTF-8.
 * Errors (err may be NULL): EVB_ERR_INVALID with err->pointer naming the field —
 * "transform.mode", "transform.value", "transform.vars" or "transform.vars.<name>" — and a
 * message saying why (bad JSONPath syntax and where, undefined ${var}, unused or invalid
 * variable name, over a limit, a CONSTANT or TEMPLATE that starts like JSON ('{' or '[')
 * but is not valid JSON); EVB_ERR_NOMEM. *out is set only on EVB_OK (free with
 * evb_transform_free). Thread-safe. */
evb_err evb_transform_compile(evb_transform_mode mode, const char *value,
                              const char *const *var_names, const char *const *var_paths,
                              size_t n_vars, evb_transform **out, evb_error *err);

/* Compiles the proto JSON form of a Transform from text[0..len), e.g.
 * {"mode":"JSONPATH","value":"$.data"} or
 * {"mode":"TEMPLATE","value":"Hello ${name}","vars":{"name":"$.data.name"}}.
 * mode is an enum name (ORIGINAL, DATA, JSONPATH, CONSTANT, TEMPLATE,
 * TRANSFORM_MODE_UNSPECIFIED) or its number; members may be absent or null (defaults);
 * unknown members, duplicate keys and wrong types are errors. Same errors as
 * evb_transform_compile, plus EVB_ERR_INVALID with pointer "transform" for text that is
 * not a JSON object. Thread-safe. */
evb_err evb_transform_compile_json(const char *text, size_t len, evb_transform **out,
                                   evb_error *err);

/* Frees t. NULL is a no-op. */
void evb_transform_free(evb_transform *t);

/* The mode t was compiled with (ORIGINAL for an UNSPECIFIED mode). Thread-safe. */
evb_transform_mode evb_transform_get_mode(const evb_transform *t);

/* Applies t to event, the CloudEvent in JSON format (a JSON object: top-level attributes and
 * extensions plus "data" or "data_base64"). On EVB_OK *out is a malloc'd buffer of *out_len
 * bytes (NUL-terminated, the NUL not counted; the bytes may contain NUL only for a binary
 * payload) and *content_type (may be NULL) a static string or, for DATA with a non-JSON
 * payload, the event's datacontenttype string (valid as long as event). out_len may be NULL.
 * Errors: EVB_ERR_TOO_LARGE when the output would exceed EVB_TRANSFORM_MAX_OUTPUT;
 * EVB_ERR_INVALID when event is not an object, is nested deeper than 2048 levels, or has
 * data_base64 that is not valid base64 (DATA mode); EVB_ERR_NOMEM. Missing values never
 * fail. Does not modify t or event (event's values are not reference-counted or marked),
 * so it is thread-safe, also for concurrent calls on the same t and event. */
evb_err evb_transform_apply(const evb_transform *t, const json_t *event, char **out,
                            size_t *out_len, const char **content_type, evb_error *err);

/* TestTransform in one call: compiles transform_json (as evb_transform_compile_json), parses
 * event_json (a JSON object; duplicate keys rejected) and applies. EVB_ERR_INVALID with the
 * pointer "transform..." or "event" for bad input; other errors as evb_transform_apply.
 * *out as in evb_transform_apply. Thread-safe. */
evb_err evb_transform_test(const char *transform_json, size_t transform_len, const char *event_json,
                           size_t event_len, char **out, size_t *out_len, evb_error *err);

#endif
