/* evbridge — turning a published entry into a CloudEvent (pure logic, no I/O).
 *
 * The rules of PutEvents entries (docs/api.md): id <= 128 chars (UUIDv7 when empty), org
 * [A-Za-z0-9_.-]{1,64}, type declared by the connector, subject <= 512, time RFC 3339
 * (receipt time when empty), datacontenttype default application/json with JSON data that
 * must parse (for event types without a data model: with one, the caller validates the data
 * against it, which parses it), extension names [a-z0-9]{1,20} and not a context attribute, data <= the
 * entry limit. Every string must be valid UTF-8 without control characters. A rejected
 * entry yields a reject code and a message naming the field ("entries[2].time").
 * Thread-safe (no shared state).
 */
#ifndef EVB_SERVER_INGEST_H
#define EVB_SERVER_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/cloudevents/event.h"
#include "server/store/records.h"

/* Reject codes carried in PutEventsResult.error_code. */
#define EVB_REJECT_INVALID "INVALID_ARGUMENT"
#define EVB_REJECT_UNKNOWN_TYPE "UNKNOWN_TYPE"
#define EVB_REJECT_TOO_LARGE "TOO_LARGE"
#define EVB_REJECT_SCHEMA "SCHEMA_VIOLATION"
#define EVB_REJECT_NO_MODEL "SCHEMA_NOT_FOUND"

typedef struct evb_ingest_limits {
    int max_entries;          /* per request */
    size_t max_entry_bytes;   /* data bytes per entry */
    size_t max_request_bytes; /* encoded request size */
} evb_ingest_limits;

/* A borrowed view of one PutEventsEntry. Strings are NUL-terminated C strings (may be NULL =
 * empty), so this view cannot hold an embedded NUL: protobuf-c already ends an unpacked
 * string at its first NUL byte. The caller rejects entries whose strings hold one from the
 * encoded request before building the view (server/rpc/put_job.c, check_nuls). */
typedef struct evb_ingest_entry {
    const char *id;
    const char *org;
    const char *type;
    const char *subject;
    const char *time;
    const char *datacontenttype;
    const uint8_t *data;
    size_t data_len;
    const char *const *ext_names;
    const char *const *ext_values;
    size_t n_ext;
} evb_ingest_entry;

/* Builds the CloudEvent for entry number `index` of a request to connector `conn`.
 * now_ms is the receipt time. On EVB_OK *out (caller-owned storage, zeroed by the callee)
 * holds the event: source from the connector, extensions orgid and connector set,
 * dataschema unset (the registry sets it). On error *out holds nothing, *reject_code is
 * one of the EVB_REJECT_* strings and err names the field. `type_out` (may be NULL)
 * receives the connector's matching event type definition. */
evb_err evb_ingest_build_event(const evb_connector *conn, const evb_ingest_entry *entry,
                               size_t index, const evb_ingest_limits *limits, int64_t now_ms,
                               evb_event *out, const evb_event_type_def **type_out,
                               const char **reject_code, evb_error *err);

#endif
