/* evbridge — the stream hub: deliveries of STREAM connections to Subscribe streams.
 *
 * Subscribers join a connection with a credit (max in flight) and an ack deadline. One
 * feeder thread claims due deliveries (with a lease longer than the ack deadline) only for
 * connections that have a subscriber with free credit, hands each to one subscriber of its
 * connection (round-robin among those with credit) and remembers it until the subscriber
 * acks it (DELIVERED, attempt outcome "DELIVERED" as for HTTP), nacks it (PENDING after the
 * requested delay or the connection's retry policy: "NACK"), lets the ack deadline pass (PENDING,
 * due now: "ACK_TIMEOUT") or goes away (PENDING, due now: "DISCONNECTED"). NACK and ACK_TIMEOUT
 * count against the connection's retry policy limits (attempts, age): when exhausted the
 * delivery is dead-lettered ("DEAD"). DISCONNECTED does not count. All store writes are
 * made by the feeder thread, never by the caller of the functions below, so RPC worker
 * threads never wait for a commit.
 *
 * Several subscribers of one connection share its deliveries: each delivery is in flight
 * to at most one subscriber at a time. Delivery is at-least-once: an ack that arrives after
 * the deadline (the delivery went back to PENDING) is ignored, and the delivery comes
 * again with the same id.
 *
 * Threads: every function is thread-safe. The deliver callback runs on the feeder thread
 * with the hub's mutex held: it must not call back into the hub, and it must not block
 * (queue the message). It is never called after evb_stream_hub_leave returned for that
 * subscriber, so a stream handler that calls leave from its on_done may use its stream in
 * the callback without a lock of its own.
 */
#ifndef EVB_SERVER_DELIVERY_STREAM_HUB_H
#define EVB_SERVER_DELIVERY_STREAM_HUB_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/cloudevents/event.h"
#include "server/store/store.h"

typedef struct evb_stream_hub evb_stream_hub;
typedef struct evb_stream_sub evb_stream_sub;

/* Hands one delivery to a subscriber. Returns 1 when it was queued for sending, 0 when it
 * could not be (the stream is ending): the delivery then goes back to PENDING, due now.
 * delivery_id and ev are valid only during the call. */
typedef int (*evb_stream_deliver_fn)(void *arg, const char *delivery_id, int attempt,
                                     const evb_event *ev);

typedef struct evb_stream_hub_options {
    int64_t lease_extra_ms; /* lease = ack deadline + this; 0 = 30000 */
    int poll_ms;            /* periodic re-check for due retries; 0 = 500 */
} evb_stream_hub_options;

/* Limits of evb_stream_hub_join (the Subscribe API's). */
#define EVB_STREAM_MAX_IN_FLIGHT_LIMIT 1000
#define EVB_STREAM_ACK_DEADLINE_MIN_MS 1000
#define EVB_STREAM_ACK_DEADLINE_MAX_MS 600000

/* Starts the feeder thread over the store (borrowed; must outlive the hub). opt may be
 * NULL. EVB_ERR_NOMEM / EVB_ERR_INTERNAL when the thread cannot start. */
evb_err evb_stream_hub_start(evb_store *store, const evb_stream_hub_options *opt,
                             evb_stream_hub **out);
/* New deliveries may be due (e.g. after a commit that created some). Cheap, never blocks
 * for long. NULL is a no-op. */
void evb_stream_hub_wake(evb_stream_hub *h);
/* Stops the feeder: queued acks, nacks and returns are recorded first; deliveries still in
 * flight to subscribers that have not left are left LEASED (due again when the lease
 * expires). Subscribers should have left (the RPC server shut down) before; any that
 * remain are freed and must not be used again. Call before the store closes. NULL is a
 * no-op. */
void evb_stream_hub_stop(evb_stream_hub *h);

/* Joins connection_id (copied) with max_in_flight (1..EVB_STREAM_MAX_IN_FLIGHT_LIMIT) and
 * ack_deadline_ms (EVB_STREAM_ACK_DEADLINE_MIN_MS..MAX_MS), else EVB_ERR_INVALID. The
 * caller checks that the connection exists, is its org's and is a STREAM connection; the
 * hub re-checks kind and state at every claim (a paused, disabled or non-STREAM
 * connection gets no deliveries). deliver(arg, ...) is called from the feeder thread until
 * evb_stream_hub_leave. EVB_ERR_UNAVAILABLE after stop. *out is the caller's handle. */
evb_err evb_stream_hub_join(evb_stream_hub *h, const char *connection_id, int max_in_flight,
                            int ack_deadline_ms, evb_stream_deliver_fn deliver, void *arg,
                            evb_stream_sub **out);
/* Acks deliveries in flight to this subscriber; ids it does not hold (unknown, already
 * acked, timed out) are ignored. Frees their credit at once. */
void evb_stream_hub_ack(evb_stream_sub *s, const char *const *ids, size_t n);
/* Nacks: redelivery no earlier than delay_ms (0 = the connection's retry policy; values
 * above 7 days are taken as 7 days). Ids not held are ignored. */
void evb_stream_hub_nack(evb_stream_sub *s, const char *const *ids, size_t n, int64_t delay_ms);
/* Leaves: the subscriber's deliveries in flight go back to PENDING, due now; no deliver
 * call follows once this returns; s is freed. NULL is a no-op. */
void evb_stream_hub_leave(evb_stream_sub *s);

#endif
