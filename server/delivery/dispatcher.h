/* evbridge — the dispatcher: turns due deliveries into HTTP requests and DingTalk robot
 * messages, and records what happened.
 *
 * One thread drives one libcurl multi handle (connection reuse per target, HTTP/1.1
 * keep-alive, HTTP/2 where offered). It claims due deliveries from the store with a lease
 * (on a helper thread, ahead of the transfers, so it never waits for a commit), sends them,
 * and completes each as delivered, retried later (the connection's retry policy,
 * Retry-After honoured) or dead-lettered, without waiting for the commit. Waiting is done with curl_multi_poll and
 * timers, never sleeps; a commit that creates deliveries wakes it. Bounded: at most
 * max_in_flight transfers, per-connection concurrency and rate limits, a DingTalk robot
 * limit of 20 messages a minute, and a circuit breaker per action so one dead endpoint does
 * not slow the others. STREAM connections are left to Subscribe.
 */
#ifndef EVB_SERVER_DELIVERY_DISPATCHER_H
#define EVB_SERVER_DELIVERY_DISPATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/delivery/ssrf.h"
#include "server/store/store.h"

typedef struct evb_dispatcher evb_dispatcher;

/* Defaults (--max-deliveries; a connection's max_concurrency 0). */
#define EVB_DISPATCHER_MAX_IN_FLIGHT 256
#define EVB_DISPATCHER_CONNECTION_CONCURRENCY 16

typedef struct evb_dispatcher_options {
    int max_in_flight;          /* concurrent transfers; 0 = EVB_DISPATCHER_MAX_IN_FLIGHT */
    int connection_concurrency; /* default per-connection limit; 0 = 16 (..._CONCURRENCY) */
    int64_t lease_ms;           /* claim lease; 0 = 150000 (longer than any timeout) */
    const evb_cidr_list *allow; /* SSRF allow-list (borrowed; may be NULL) */
    int breaker_failures;       /* consecutive failures that open an action's breaker; 0 = 5 */
    int64_t breaker_open_ms;    /* how long it stays open; 0 = 30000 */
} evb_dispatcher_options;

/* Starts the dispatcher thread over the store (borrowed; must outlive it). */
evb_err evb_dispatcher_start(evb_store *store, const evb_dispatcher_options *opt,
                             evb_dispatcher **out);
/* Tells the dispatcher new deliveries may be due. Thread-safe, cheap, never blocks. */
void evb_dispatcher_wake(evb_dispatcher *d);
/* Stops claiming, lets transfers in flight finish for up to grace_ms, then stops. What is
 * still leased is delivered again after the next start (at-least-once). NULL is a no-op. */
void evb_dispatcher_stop(evb_dispatcher *d, int grace_ms);

#endif
