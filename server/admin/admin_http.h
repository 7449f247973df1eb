/* evbridge — the HTTP admin listener (libmicrohttpd): Prometheus /metrics, /healthz and
 * /readyz, for scrapers, load balancers and orchestrators.
 *
 * GET (or HEAD) only. /metrics answers the process-wide registry (server/metrics/catalog.h)
 * in the text exposition format 0.0.4, after refreshing the scrape-time gauges: outbox
 * figures from the store and process figures from /proc/self. /healthz is 200 while the
 * process runs (liveness). /readyz is 200 while `serving` is set and the store is ready
 * (the same condition as grpc.health.v1 SERVING), else 503. Anything else is 404, other
 * methods 405. The listener has no authentication: bind it to loopback or a private
 * network (the default is 127.0.0.1:9464). It runs on libmicrohttpd's own thread.
 */
#ifndef EVB_SERVER_ADMIN_HTTP_H
#define EVB_SERVER_ADMIN_HTTP_H

#include <stdatomic.h>

#include "common/err.h"
#include "server/store/store.h"

typedef struct evb_admin_http evb_admin_http;

typedef struct evb_admin_options {
    const char *listen;       /* "host:port" or "[v6]:port"; port 0 picks a free one */
    evb_store *store;         /* borrowed; must outlive the listener */
    const atomic_int *serving; /* borrowed; 1 while serving (NULL: always) */
} evb_admin_options;

/* Binds and starts serving. *port_out (may be NULL) receives the bound port. EVB_ERR_INVALID
 * for an address that does not parse, EVB_ERR_IO when it cannot be bound. Not thread-safe
 * (call from main). */
evb_err evb_admin_http_start(const evb_admin_options *opt, evb_admin_http **out,
                             int *port_out);
/* Stops the listener (waits for its thread). NULL is a no-op. */
void evb_admin_http_stop(evb_admin_http *a);

#endif
