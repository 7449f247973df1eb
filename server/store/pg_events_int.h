/* evbridge — private header of the PostgreSQL backend: decoding event and delivery rows,
 * for every pg file that reads them (pg_events.c and pg_deliveries.c define these; the
 * dispatcher's claims and the dead-letter list read the same rows).
 *
 * A row decoder reads the columns STORE_EVENT_COLS / STORE_DELIVERY_COLS
 * (store_common_events.h) starting at column col of row, so one SELECT may return a
 * delivery and its event side by side.
 */
#ifndef EVB_SERVER_STORE_PG_EVENTS_INT_H
#define EVB_SERVER_STORE_PG_EVENTS_INT_H

#include "server/store/pg_int.h"
#include "server/store/store_common_events.h"

/* *out (malloc'd; evb_event_free) from the event columns at col. EVB_ERR_NOMEM, or
 * EVB_ERR_INTERNAL for extensions the store did not write. */
evb_err pg_event_from_row(const PGresult *r, int row, int col, evb_event **out);

/* *out (malloc'd; evb_delivery_rec_free) from the delivery columns at col. EVB_ERR_NOMEM. */
evb_err pg_delivery_from_row(const PGresult *r, int row, int col, evb_delivery_rec **out);

#endif
