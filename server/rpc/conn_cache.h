/* evbridge — the connectors named by publishing requests, cached per store configuration
 * generation.
 *
 * Every PutEvents request (and every PublishStream message) names its connector. Reading it
 * from the store each time cost an SQL read and a row decode (its event types are stored as
 * JSON) per request. The cache keeps each connector read as an immutable, reference-counted
 * snapshot and empties itself whenever evb_store_config_generation() has moved — every
 * committed change of a connector (and of keys, schemas, actions, connections) made through
 * the store, and on PostgreSQL another node's within the documented bound — so a created,
 * updated or deleted connector is seen by the next request as a store read would see it.
 * Only found connectors are cached; NOT_FOUND and errors are read from the store each time.
 * Thread-safe.
 */
#ifndef EVB_SERVER_RPC_CONN_CACHE_H
#define EVB_SERVER_RPC_CONN_CACHE_H

#include "common/err.h"
#include "server/store/store.h"

typedef struct evb_conn_cache evb_conn_cache;
/* A reference to one connector snapshot. */
typedef struct evb_conn_ref evb_conn_ref;

/* A cache over `store` (borrowed; must outlive the cache). EVB_ERR_NOMEM. */
evb_err evb_conn_cache_new(evb_store *store, evb_conn_cache **out);
/* Frees the cache. References still held stay valid until released. NULL is a no-op. */
void evb_conn_cache_free(evb_conn_cache *c);

/* The connector `name` as of the store's current configuration: from the cache, else read
 * from the store (evb_store_connector_get: EVB_ERR_NOT_FOUND, EVB_ERR_UNAVAILABLE, ...).
 * On EVB_OK *out holds a reference the caller releases with evb_conn_ref_release. */
evb_err evb_conn_cache_get(evb_conn_cache *c, const char *name, evb_conn_ref **out);
/* The connector of a reference; valid (and unchanged) until the reference is released. */
const evb_connector *evb_conn_ref_connector(const evb_conn_ref *r);
/* Drops a reference. NULL is a no-op. */
void evb_conn_ref_release(evb_conn_ref *r);

#endif
