/* evbridge — CloudEvents JSON format (structured mode) for evb_event.
 *
 * Encoding: context attributes and extensions (incl. orgid, connector) are top-level
 * members. The payload goes to `data` as the JSON value itself when datacontenttype is JSON
 * (absent, application/json or any +json) and the bytes are valid JSON; as a JSON string
 * when the type is textual (text/..., xml) and the bytes are UTF-8; otherwise to
 * `data_base64`. An event with data_len 0 has no data member. JSON payloads are embedded
 * byte-exact (only surrounding whitespace is trimmed), so large integers and number
 * spellings survive. Decoding is the inverse (used by tests and tools).
 * All functions are thread-safe.
 * Spec: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md
 */
#ifndef EVB_SERVER_CLOUDEVENTS_CE_JSON_H
#define EVB_SERVER_CLOUDEVENTS_CE_JSON_H

#include <stddef.h>

#include "common/err.h"
#include "server/cloudevents/event.h"

#define EVB_CE_JSON_CONTENT_TYPE "application/cloudevents+json; charset=UTF-8"
#define EVB_CE_JSON_BATCH_CONTENT_TYPE "application/cloudevents-batch+json; charset=UTF-8"

/* How evb_ce_json_encode represents the data of an event. */
typedef enum evb_ce_json_data {
    EVB_CE_DATA_NONE = 0, /* no data member */
    EVB_CE_DATA_JSON,     /* "data": <JSON value> */
    EVB_CE_DATA_STRING,   /* "data": "<text>" */
    EVB_CE_DATA_BASE64    /* "data_base64": "<base64>" */
} evb_ce_json_data;

/* The representation the encoder picks for ev's data (see the file comment). */
evb_ce_json_data evb_ce_json_data_kind(const evb_event *ev);

/* Encodes ev as one compact JSON object (application/cloudevents+json) into *out
 * (malloc'd, NUL-terminated); *len_out (may be NULL) gets the length. The event is not
 * checked against ce_rules (call evb_ce_event_check first); an extension whose name
 * collides with another member, or a string that is not UTF-8, gives EVB_ERR_INVALID.
 * EVB_ERR_NOMEM on allocation failure. */
evb_err evb_ce_json_encode(const evb_event *ev, char **out, size_t *len_out);

/* Encodes n events as a JSON array (application/cloudevents-batch+json); n may be 0
 * ("[]"). Same errors as evb_ce_json_encode. */
evb_err evb_ce_json_encode_batch(const evb_event *const *evs, size_t n, char **out,
                                 size_t *len_out);

/* Decodes one application/cloudevents+json object from text[0..len) into *out (malloc'd;
 * free with evb_event_free). specversion must be "1.0"; members that are null count as
 * absent; integer and boolean extension values become their JSON spelling; a JSON `data`
 * value becomes its compact serialisation, a string `data` with a non-JSON content type
 * its UTF-8 bytes, `data_base64` its decoded bytes (both at once is invalid). `time` is
 * parsed into time_ms; extensions are sorted by name. The result must pass
 * evb_ce_event_check. EVB_ERR_PARSE for malformed JSON (duplicate keys included),
 * EVB_ERR_INVALID for a bad event; err (may be NULL) names the member in err->pointer. */
evb_err evb_ce_json_decode(const char *text, size_t len, evb_event **out, evb_error *err);

/* Decodes a JSON array of events into *out (malloc'd array of n event pointers; free with
 * evb_event_array_free). err->pointer is prefixed with the index: "[2].source". */
evb_err evb_ce_json_decode_batch(const char *text, size_t len, evb_event ***out, size_t *n_out,
                                 evb_error *err);

#endif
