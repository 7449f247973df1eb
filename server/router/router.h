/* evbridge — routing at ingest: which connections an accepted event goes to.
 *
 * The router keeps an immutable snapshot of every connection, grouped by (org, connector),
 * with the patterns of each group compiled into one matcher (server/routing/pattern.h), so
 * the cost of routing does not grow linearly with the number of connections. The snapshot
 * is rebuilt when the store's routing generation moves (any action or connection change),
 * so a change takes effect for the next PutEvents without a restart; a build runs outside
 * the lock, and readers keep using the previous snapshot meanwhile. Thread-safe.
 */
#ifndef EVB_SERVER_ROUTER_H
#define EVB_SERVER_ROUTER_H

#include <stddef.h>

#include "common/err.h"
#include "registry/json_value.h"
#include "server/cloudevents/event.h"
#include "server/store/store.h"

typedef struct evb_router evb_router;

/* The routing decision for one event. Owned by the caller: evb_route_fini. */
typedef struct evb_route {
    evb_delivery_new *deliveries; /* ids and connection ids malloc'd */
    size_t n_deliveries;
    char *filter_trace;           /* JSON {"matched":[ids],"unmatched":[ids]}; NULL if none */
} evb_route;

evb_err evb_router_new(evb_store *store, evb_router **out);
void evb_router_free(evb_router *r);

/* Routes ev (its org, connector, type, subject and data) against the current snapshot.
 * A connection matches when it is not DISABLED, its event types are empty or contain the
 * event type, and its pattern is empty or matches the event as a JSON object. Paused
 * connections get held deliveries. data: ev's JSON payload parsed already (evb_json_parse
 * of ev->data, e.g. by schema validation), borrowed for the call; NULL = parsed here when a
 * pattern of the event's connections looks at "data" (and ev's datacontenttype is JSON).
 * EVB_ERR_NOMEM, or a store error when the snapshot cannot be rebuilt (the previous one is
 * used when there is one). */
evb_err evb_router_route(evb_router *r, const evb_event *ev, const evb_json *data, evb_route *out);
void evb_route_fini(evb_route *rt);

/* 1 when pattern p matches ev as routing matches it (its attributes and, parsed with our
 * strict parser, its payload: see router_int.h), else 0 (also when out of memory). For
 * callers outside ingest (replay) so that they answer as routing does. Thread-safe. */
struct evb_pattern;
int evb_router_pattern_match(const struct evb_pattern *p, const evb_event *ev);

/* The event as the JSON object patterns and transforms see: context attributes and
 * extensions at the top, the payload under "data" (parsed when JSON, else a string or
 * omitted when absent). New reference; NULL when out of memory. */
struct json_t;
struct json_t *evb_router_event_json(const evb_event *ev, int with_data);

#endif
