/* evbridge — the stored event: a CloudEvent 1.0 in plain C.
 *
 * This is the one in-memory form of an event shared by ingest, store, routing and
 * delivery. Conversions to wire formats (protobuf io.cloudevents.v1.CloudEvent, JSON
 * format, HTTP binary headers) live in their own files; attribute rules in ce_rules.h.
 * Strings are malloc'd, NUL-terminated, UTF-8; optional ones are NULL when absent.
 */
#ifndef EVB_SERVER_CLOUDEVENTS_EVENT_H
#define EVB_SERVER_CLOUDEVENTS_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* One extension attribute (string-valued; the CloudEvents type system maps to strings). */
typedef struct evb_ce_ext {
    char *name;  /* [a-z0-9]{1,20}, not a context attribute name */
    char *value;
} evb_ce_ext;

typedef struct evb_event {
    char *id;              /* required */
    char *source;          /* required, URI-reference */
    char *type;            /* required */
    char *subject;         /* optional */
    char *time;            /* RFC 3339 text as given (or generated at receipt) */
    char *datacontenttype; /* optional; ingest sets "application/json" by default */
    char *dataschema;      /* optional, absolute URI */
    char *org;             /* extension "orgid" */
    char *connector;       /* extension "connector" */
    evb_ce_ext *ext;       /* other extensions, sorted by name, names unique */
    size_t n_ext;
    uint8_t *data;         /* payload bytes (may be NULL when data_len is 0) */
    size_t data_len;
    int64_t time_ms;       /* `time` parsed, UTC ms */
    int64_t recv_ms;       /* receipt time, UTC ms */
    int64_t seq;           /* store sequence number; 0 until stored */
    void *block;           /* NULL, or one allocation holding members (evb_ingest_build_event
                              builds an event so); members pointing into it are not freed
                              one by one. A member set later is malloc'd on its own. */
    size_t block_len;
} evb_event;

/* Frees every member (the block once, members outside it one by one) and zeroes the struct
 * (caller-owned storage). NULL is a no-op. */
void evb_event_fini(evb_event *ev);
/* evb_event_fini + free(ev). NULL is a no-op. */
void evb_event_free(evb_event *ev);
/* Deep copy into *out (malloc'd). EVB_ERR_NOMEM on failure (nothing allocated then). */
evb_err evb_event_clone(const evb_event *ev, evb_event **out);
/* Frees an array of n event pointers and the array. */
void evb_event_array_free(evb_event **evs, size_t n);

#endif
