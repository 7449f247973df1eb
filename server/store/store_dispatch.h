/* evbridge — the dispatcher's view of the outbox: claiming due deliveries with a lease,
 * recording attempts and outcomes, dead letters and redrive.
 *
 * At-least-once: a claimed delivery is LEASED until lease_ms; if the process dies, the
 * lease expires and the delivery is due again. Ordering: deliveries that share a non-empty
 * ordering key within a connection are claimed strictly one at a time, oldest first (the
 * next one becomes claimable only when the previous one is DELIVERED — or DEAD, unless the
 * delivery is `strict`, in which case a DEAD one blocks its key until it is redriven:
 * fault tolerance NONE). "Older" is create order. Part of the store; callers see only this
 * header. Thread-safe.
 *
 * Common rules. Writes (claim, complete, redrive) are synchronous jobs of the writer, so
 * they ride its group commit (completions from several threads share transactions) and
 * must not be called from a put completion (EVB_ERR_INTERNAL); EVB_ERR_UNAVAILABLE when
 * closing or the commit failed (then nothing was written). EVB_ERR_INVALID for a NULL store,
 * a missing required argument or out-pointer, or a value out of range. Reads use the reader
 * pool. Arrays handed out are malloc'd (free with the matching _free); an empty result is
 * EVB_OK with *out NULL and *n_out 0.
 */
#ifndef EVB_SERVER_STORE_DISPATCH_H
#define EVB_SERVER_STORE_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/store/store.h"
#include "server/store/store_routing.h"

/* A claimed delivery with its event (both owned by the claim). */
typedef struct evb_claim {
    evb_delivery_rec *delivery; /* state LEASED, attempts already incremented */
    evb_event *event;
} evb_claim;

/* Frees each element's delivery and event, then the array. NULL is a no-op. */
void evb_claim_array_free(evb_claim *cs, size_t n);

/* Claims up to `limit` (1..1000) deliveries that are due at now_ms — PENDING with next_ms
 * <= now, or LEASED with lease_ms <= now (an expired lease: at-least-once) — respecting
 * ordering keys, skipping connections listed in `skip_connections` (may be NULL when n_skip
 * is 0; e.g. those at their concurrency or rate limit, or paused: PENDING deliveries of a
 * paused or disabled connection are claimable unless skipped), in (next_ms, create order).
 * Each is set LEASED until now_ms + lease_ms (lease_ms > 0) with attempts + 1 and update_ms
 * now_ms, in ONE writer job (atomic with other writes). HELD deliveries are never claimed.
 * *out is malloc'd (evb_claim_array_free); *n_out may be 0.
 *
 * Cost is bounded: one scan of at most 4 x limit due candidates (a skipped connection's
 * rows are not among them), one index seek per candidate with an ordering key. A candidate
 * whose key is blocked by an older delivery is "parked" (its next_ms moved 60 s ahead, its
 * due time remembered) so it neither fills later scans nor makes next_due look due; the
 * completion that unblocks its key puts it back at its due time. So fewer than `limit` may
 * come back while more are due: call again.
 *
 * The claim commits before the events are read (each on the reader pool); a delivery whose
 * event vanished meanwhile (it was purged, the delivery with it) is left out. On an error
 * after the commit, the claimed deliveries are due again when their lease expires. */
evb_err evb_store_delivery_claim(evb_store *s, int64_t now_ms, int64_t lease_ms, int limit,
                                 const char *const *skip_connections, size_t n_skip,
                                 evb_claim **out, size_t *n_out);

/* min(next_ms of PENDING deliveries, lease_ms of LEASED ones): when the dispatcher should
 * claim again at the latest; INT64_MAX when none. It may lie in the past while claim
 * returns nothing (the due ones are in skipped connections, or their ordering key has just
 * been found blocked): poll with a floor, and claim again on completions and new events. */
evb_err evb_store_delivery_next_due(evb_store *s, int64_t *next_ms_out);

/* One attempt's result, recorded in delivery_attempts (for traces). */
typedef struct evb_attempt {
    int attempt;         /* the claimed record's attempts (1 = first): identifies the lease */
    int64_t time_ms;     /* when the attempt started (the dispatcher's clock, as now_ms) */
    const char *outcome; /* "DELIVERED", "RETRY", "DEAD", "NACK", ... */
    int http_status;     /* 0 when none (connection error, stream) */
    int64_t errcode;     /* DingTalk errcode; 0 when none */
    int64_t latency_ms;
    const char *error; /* NULL or "" when none; never contains secrets */
} evb_attempt;

/* Records the attempt and moves the delivery (which must be LEASED, with attempts ==
 * a->attempt) to its next state: EVB_DELIVERY_DELIVERED, EVB_DELIVERY_PENDING (a retry,
 * due at next_ms; next_ms is ignored otherwise) or EVB_DELIVERY_DEAD (any other state:
 * EVB_ERR_INVALID, as is a NULL a or outcome). last_status becomes http_status, or errcode
 * when there is no HTTP status; last_error the attempt's error ("" when NULL); update_ms the
 * end of the attempt (time_ms + latency_ms; now when time_ms is 0): for a DEAD one, the
 * time it died. The attempt and the transition commit together. A delivery that is no
 * longer this lease (its lease expired and it was claimed again, it was redriven, or it
 * was deleted) is left alone and nothing is recorded: EVB_ERR_PRECONDITION.
 * DELIVERED, or DEAD without strict, unblocks the delivery's ordering key. */
evb_err evb_store_delivery_complete(evb_store *s, const char *delivery_id, const evb_attempt *a,
                                    int new_state, int64_t next_ms);

/* As evb_store_delivery_complete without waiting: the completion rides the writer's next
 * group commit together with other writes (the attempt's strings are copied). cb (may be
 * NULL) runs once on the writer thread with the outcome; it must not block. On an error
 * return (EVB_ERR_LIMIT when the write queue is full, EVB_ERR_UNAVAILABLE when closing,
 * EVB_ERR_INVALID, EVB_ERR_NOMEM) nothing is queued and cb does not run: the delivery stays
 * LEASED and is due again when its lease expires. */
typedef void (*evb_store_complete_cb)(void *arg, evb_err err);
evb_err evb_store_delivery_complete_async(evb_store *s, const char *delivery_id,
                                          const evb_attempt *a, int new_state, int64_t next_ms,
                                          evb_store_complete_cb cb, void *arg);

/* Attempts of a delivery, oldest first (traces; a redriven delivery's attempts of every
 * round). Unknown delivery: EVB_OK with none. */
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

/* At start of a single-process store: every LEASED delivery belongs to a process that is
 * gone, so make it PENDING again, due at now_ms. *count_out (may be NULL) receives how many.
 * Never call this while a dispatcher of this store runs.
 * PostgreSQL: leases of a dead node simply expire; nothing is released at start (the
 * database is shared: a LEASED delivery may be another node's live transfer). EVB_OK with
 * *count_out 0. */
evb_err evb_store_delivery_release_leases(evb_store *s, int64_t now_ms, int64_t *count_out);

/* Gives claims back unsent: each delivery (id, with the attempts value it was claimed with)
 * that is still LEASED under that claim becomes PENDING again, due at next_ms, with the
 * attempt the claim counted taken back. For a dispatcher that claimed more than a
 * per-connection limit (concurrency, rate, breaker probe) lets it start now. */
evb_err evb_store_delivery_give_back(evb_store *s, const char *const *ids, const int *attempts,
                                     size_t n, int64_t next_ms);

/* Creates one new delivery per stored event (evs[i] must come from the store: its seq, id,
 * org are used; ds[i] gives the new delivery id, connection, ordering key, strict), due now,
 * all in one transaction (EventService.ReplayEvents). A paused connection gets them held. */
evb_err evb_store_delivery_replay(evb_store *s, const evb_event *const *evs,
                                  const evb_delivery_new *ds, size_t n);

/* ---- dead letters ---- */

/* DEAD deliveries of an org (required; and optionally one connection: NULL = all), newest
 * first by the time they died (update_ms, then id), at most `limit` (1..1000), paged:
 * after_token NULL or "" = first page, else a *next_token_out of the same query (opaque
 * text; a malformed one is EVB_ERR_INVALID). *next_token_out (malloc'd, free) is "" when
 * there are no more. Each with its event (evb_claim reused: delivery + event; deliveries
 * whose event is gone are left out). */
evb_err evb_store_dead_list(evb_store *s, const char *org, const char *connection_id, int limit,
                            const char *after_token, evb_claim **out, size_t *n_out,
                            char **next_token_out);

/* Makes DEAD deliveries of the org (required) PENDING again (due at now_ms, attempts reset
 * to 0, update_ms now_ms; last_status / last_error and the attempts kept): all of a
 * connection (connection_id non-NULL, n_ids 0), or the listed ids (ids non-NULL, n_ids
 * 1..1000; within that connection when connection_id is also given), only those that died
 * within [start_ms, end_ms) (INT64_MIN / INT64_MAX = unbounded). Neither a connection nor
 * ids: EVB_ERR_INVALID. Ids of another org, unknown or not DEAD are ignored. One writer
 * job. *count_out receives how many were redriven. */
evb_err evb_store_dead_redrive(evb_store *s, const char *org, const char *connection_id,
                               const char *const *ids, size_t n_ids, int64_t start_ms,
                               int64_t end_ms, int64_t now_ms, int64_t *count_out);

#endif
