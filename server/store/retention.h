/* evbridge — private to server/store/: retention, the pruning of old events.
 *
 * Both backends prune the same way, in the background beside the dedup-key purge (about
 * once a second, more often while a batch comes back full): events received before
 * now - retention_ms, in batches of RETENTION_BATCH, oldest first, skipping any event that
 * still has a delivery PENDING, HELD or LEASED (at-least-once: nothing is dropped while it
 * can still be delivered). Their deliveries, attempts and filter traces go with them
 * (ON DELETE CASCADE), so the outbox stays about as big as the retention period's traffic.
 * Dead letters older than the retention go too (docs/operations.md).
 */
#ifndef EVB_SERVER_STORE_RETENTION_H
#define EVB_SERVER_STORE_RETENTION_H

#include <stdint.h>

#include "common/err.h"

#define RETENTION_DEFAULT_MS (7LL * 24 * 3600 * 1000)
#define RETENTION_BATCH 500

/* The effective retention for the option value (store.h): 0 -> the default, < 0 -> -1
 * (keep forever), else the value. */
int64_t store_retention_ms(int64_t opt);

/* The statement both backends run ($1 / ?1 = cutoff, $2 / ?2 = batch size): deletes one
 * batch. PostgreSQL adds FOR UPDATE SKIP LOCKED (nodes prune concurrently; pg_writer.c). */
#define RETENTION_SELECT                                                                           \
    "SELECT e.seq FROM events e WHERE e.recv_ms < $1 AND NOT EXISTS (SELECT 1 FROM deliveries "    \
    "d WHERE d.event_seq = e.seq AND d.state IN (0, 1, 2)) ORDER BY e.recv_ms LIMIT $2"

struct evb_store;
/* SQLite (retention.c): one batch inside the writer's transaction; *full when the batch
 * was full (more may remain). A store that keeps events forever does nothing. */
evb_err store_retention_purge(struct evb_store *s, int64_t now_ms, int *full);

#endif
