/* evbridge — private header of server/store/: the backend-neutral pieces of event puts and
 * of event and delivery reads, shared by the SQLite files (events.c, deliveries.c,
 * replay.c, ...) and the PostgreSQL ones (pg_events.c, pg_deliveries.c, ...).
 *
 * Both backends must accept and refuse exactly the same submissions and queries, and store
 * extensions in the same JSON form, so these checks and codecs live once, here
 * (store_common_events.c). Nothing here touches a database. Thread-safe (no state).
 */
#ifndef EVB_SERVER_STORE_COMMON_EVENTS_H
#define EVB_SERVER_STORE_COMMON_EVENTS_H

#include <stddef.h>

#include "server/store/store.h"

/* Column lists of an event and a delivery row (same names in both backends): a row decoder
 * expects its columns in this order. */
#define STORE_EVENT_COLS                                                                           \
    "seq, id, org, connector, type, source, subject, time, time_ms, datacontenttype, "             \
    "dataschema, extensions, data, recv_ms"
#define STORE_DELIVERY_COLS                                                                        \
    "id, event_seq, event_id, connection_id, org, state, attempts, next_ms, lease_ms, "            \
    "ordering_key, last_status, last_error, create_ms, update_ms"

/* Largest page of evb_store_delivery_list. */
#define STORE_DELIVERY_LIST_MAX 1000

/* Checks an item's deliveries before queueing (caller's thread): EVB_ERR_INVALID for
 * deliveries NULL with n_deliveries > 0 or a delivery without id or connection_id. */
evb_err store_put_item_check(const evb_put_item *it);

/* The argument checks of evb_store_put_events on a submission (items non-NULL, n > 0):
 * EVB_ERR_INVALID for an event NULL or without id, source or type, or an item failing
 * store_put_item_check. Extensions are checked by store_ext_encode. */
evb_err store_put_check(const evb_put_item *items, size_t n);
/* What a submission of n items holds in memory while queued, roughly: per event its struct,
 * its members (the block evb_ingest_build_event allocates, else data and attribute
 * strings) and its deliveries. The caller's request around the events (PutEvents: the
 * unpacked request, about as large again) is not seen here. Counted against the write
 * queue's queue_max_bytes. */
size_t store_put_bytes(const evb_put_item *items, size_t n);
/* Puts items back as before a put ran (status PENDING, no first id, seq 0): a job's reset
 * before a retry, and after a failed transaction. */
void store_put_items_reset(evb_put_item *items, size_t n);

/* The event's extensions as the JSON object text stored with it ({"name":"value",...} in
 * the event's order, compact): *out malloc'd, NULL when the event has none.
 * EVB_ERR_INVALID for an extension without name or value or whose text is not UTF-8;
 * EVB_ERR_NOMEM. */
evb_err store_ext_encode(const evb_event *ev, char **out);

/* Fills ev->ext / ev->n_ext (sorted by name) from stored JSON text. EVB_ERR_INTERNAL for
 * text the store did not write (a corrupt row); EVB_ERR_NOMEM. On error ev may hold part of
 * the extensions (evb_event_free frees them). */
evb_err store_ext_decode(const char *text, evb_event *ev);

/* 1 when q is a valid evb_store_list_events query (limit 1..1000, after_seq >= 0). */
int store_event_query_ok(const evb_event_query *q);

/* 1 when (state, limit) are valid for evb_store_delivery_list (state -1..4, limit
 * 1..STORE_DELIVERY_LIST_MAX). */
int store_delivery_list_ok(int state, int limit);

#endif
