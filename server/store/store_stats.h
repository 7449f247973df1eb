/* evbridge — outbox figures for monitoring (the admin listener's /metrics).
 *
 * One read on the reader pool: deliveries by state (PENDING, HELD, LEASED, DEAD) and the
 * earliest due time among PENDING deliveries that are due. Cost grows with the number of
 * undelivered rows (an index range scan; delivered rows are not visited). Thread-safe.
 */
#ifndef EVB_SERVER_STORE_STATS_H
#define EVB_SERVER_STORE_STATS_H

#include <stdint.h>

#include "common/err.h"
#include "server/store/store.h"

typedef struct evb_delivery_stats {
    int64_t pending;        /* PENDING: due now or scheduled (retries, parked) */
    int64_t held;           /* HELD (paused connections) */
    int64_t in_flight;      /* LEASED to a transfer or a subscriber */
    int64_t dead;           /* DEAD (dead letters) */
    int64_t oldest_due_ms;  /* smallest next_ms <= now_ms among PENDING; 0 when none due */
} evb_delivery_stats;

/* Fills *out as of now_ms. EVB_ERR_INVALID for NULL arguments; EVB_ERR_UNAVAILABLE or
 * EVB_ERR_INTERNAL when the database cannot be read. */
evb_err evb_store_delivery_stats(evb_store *s, int64_t now_ms, evb_delivery_stats *out);

#endif
