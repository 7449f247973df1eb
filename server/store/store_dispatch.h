/* evbridge — the dispatcher's view of the outbox: claiming due deliveries with a lease,
 * recording attempts and outcomes, dead letters and redrive.
 *
 * At-least-once: a claimed delivery is LEASED until lease_ms; if the process dies, the
 * lease expires and the delivery is due again. Ordering: deliveries that share a non-empty
 * ordering key within a connection are claimed strictly one at a time, oldest first (the
 * next one becomes claimable only when the previous one is DELIVERED — or DEAD, unless the
 * delivery is `strict`, in which case a DEAD one blocks its key until it is redriven:
 * fault tolerance NONE). Part of the store; callers see only this header. Thread-safe.
 */
#ifndef EVB_SERVER_STORE_DISPATCH_H
#define EVB_SERVER_STORE_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/store/store.h"
#include "server/store/store_routing.h"

/* A claimed delivery with its event. */
typedef struct evb_claim {
    evb_delivery_rec *delivery; /* state LEASED, attempts already incremented */
    evb_event *event;
} evb_claim;

void evb_claim_array_free(evb_claim *cs, size_t n);

/* Claims up to `limit` deliveries that are due at now_ms — PENDING with next_ms <= now, or
 * LEASED with an expired lease — respecting ordering keys, skipping connections listed in
 * `skip_connections` (may be NULL; e.g. those at their concurrency limit or rate limit),
 * in (next_ms, create order). Each is set LEASED until now_ms + lease_ms with attempts + 1,
 * in one transaction. *out is malloc'd (evb_claim_array_free); *n_out may be 0. */
evb_err evb_store_delivery_claim(evb_store *s, int64_t now_ms, int64_t lease_ms, int limit,
                                 const char *const *skip_connections, size_t n_skip,
                                 evb_claim **out, size_t *n_out);

/* The earliest next_ms (or lease expiry) of any delivery that could become due, so the
 * dispatcher can sleep until then; INT64_MAX when none. */
evb_err evb_store_delivery_next_due(evb_store *s, int64_t *next_ms_out);

/* One attempt's result, recorded in delivery_attempts (for traces). */
typedef struct evb_attempt {
    int attempt;          /* the delivery's attempt number (1 = first) */
    int64_t time_ms;      /* when the attempt started */
    const char *outcome;  /* "DELIVERED", "RETRY", "DEAD", "NACK", ... */
    int http_status;      /* 0 when none (connection error, stream) */
    int64_t errcode;      /* DingTalk errcode; 0 when none */
    int64_t latency_ms;
    const char *error;    /* NULL or "" when none; never contains secrets */
} evb_attempt;

/* Records the attempt and moves the delivery (which must be LEASED) to its next state:
 * EVB_DELIVERY_DELIVERED, EVB_DELIVERY_PENDING (a retry, due at next_ms) or
 * EVB_DELIVERY_DEAD. last_status / last_error are updated from the attempt. A delivery
 * that is no longer LEASED (its lease expired and it was claimed again, or it was deleted)
 * is left alone: EVB_ERR_PRECONDITION. */
evb_err evb_store_delivery_complete(evb_store *s, const char *delivery_id,
                                    const evb_attempt *a, int new_state, int64_t next_ms);

/* Attempts of a delivery, oldest first (traces). */
typedef struct evb_attempt_rec {
    int attempt;
    int64_t time_ms;
    char *outcome;
    int http_status;
    int64_t errcode;
    int64_t latency_ms;
    char *error;
} evb_attempt_rec;
void evb_attempt_rec_array_free(evb_attempt_rec *as, size_t n);
evb_err evb_store_delivery_attempts(evb_store *s, const char *delivery_id, evb_attempt_rec **out,
                                    size_t *n_out);

/* ---- dead letters ---- */

/* DEAD deliveries of an org (and optionally one connection), newest first, paged by
 * (update time, id): after_token "" = first page; *next_token_out (malloc'd) "" when done.
 * Each with its event (evb_claim reused: delivery + event). */
evb_err evb_store_dead_list(evb_store *s, const char *org, const char *connection_id,
                            int limit, const char *after_token, evb_claim **out, size_t *n_out,
                            char **next_token_out);

/* Makes DEAD deliveries of the org PENDING again (due now, attempts reset to 0): all of a
 * connection (connection_id non-NULL), or the listed ids, optionally only those that died
 * within [start_ms, end_ms). *count_out receives how many were redriven. */
evb_err evb_store_dead_redrive(evb_store *s, const char *org, const char *connection_id,
                               const char *const *ids, size_t n_ids, int64_t start_ms,
                               int64_t end_ms, int64_t now_ms, int64_t *count_out);

#endif
