/* evbctl — generic protobuf-c <-> JSON (jansson) conversion driven by message descriptors.
 *
 * Used for -f input files (JSON or YAML, both parsed into a jansson tree first), -o json and
 * -o yaml output, and the tables. Mapping (close to the proto3 JSON mapping, but with the
 * proto field names, as the server's own JSON forms use them):
 *   - fields by their .proto names; unknown names are errors (they are typos);
 *   - enums by value name ("HTTP"); numbers are accepted on input;
 *   - 64-bit integers as JSON numbers (strings are accepted on input; uint64 above
 *     INT64_MAX is output as a string); NaN/Infinity doubles as strings;
 *   - bytes as standard base64; maps as objects; repeated fields as arrays; nested
 *     messages as objects; oneof members as plain members (two of one oneof is an error);
 *   - output writes every scalar and repeated field, defaults included (scripts get a
 *     stable shape: {"matched": false}), but leaves out unset messages and oneof members;
 *   - io.cloudevents.v1.CloudEvent is output in the CloudEvents JSON format (specversion,
 *     id, source, type, the attributes, "data" for JSON/text or "data_base64"), the form
 *     event patterns and transforms are written against.
 * Thread-safe (no shared state).
 */
#ifndef EVB_CLIENTS_EVBCTL_PBJSON_H
#define EVB_CLIENTS_EVBCTL_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#include "common/err.h"

/* A new JSON object for m (NULL m gives JSON null). NULL only when out of memory. */
json_t *evb_pbjson_from_message(const ProtobufCMessage *m);

/* Builds a new message of desc from the JSON object j (NULL or null: all defaults). On
 * EVB_OK *out is owned by the caller (protobuf_c_message_free_unpacked(*out, NULL)).
 * EVB_ERR_INVALID with err->pointer naming the field path ("http.timeout_ms") and a
 * message; EVB_ERR_NOMEM. `what` names the root in messages (e.g. "connection"). */
evb_err evb_pbjson_to_message(const json_t *j, const ProtobufCMessageDescriptor *desc,
                              const char *what, ProtobufCMessage **out, evb_error *err);

/* The CloudEvents JSON form of a CloudEvent message (see above). */
json_t *evb_pbjson_cloudevent(const ProtobufCMessage *ce);

#endif
