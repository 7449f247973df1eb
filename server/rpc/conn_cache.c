/* evbridge — connector cache for publishing. See conn_cache.h.
 *
 * A hash table of reference-counted snapshots under one mutex (held for a lookup only; the
 * store is read outside it). The generation is read before anything else: a lookup that
 * sees a generation other than the table's empties the table first. A snapshot read from
 * the store is inserted only when the table is still at the generation read before the
 * read, so a read that raced with a change is used once (as an uncached read would be)
 * but never cached: either the table still holds the old generation, and the next lookup
 * empties it, or it moved on, and nothing is inserted. The table is emptied at MAX_ENTRIES
 * too (a bound, not an LRU: an ISV platform has far fewer active connectors).
 */
#include "server/rpc/conn_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_BUCKETS 256
#define MAX_ENTRIES 4096

struct evb_conn_ref {
    atomic_int refs;           /* the cache's (while in the table) + one per holder */
    evb_connector *conn;       /* owned */
    struct evb_conn_ref *next; /* bucket chain, under the cache mutex */
};

struct evb_conn_cache {
    evb_store *store;
    pthread_mutex_t mu;
    uint64_t gen; /* store configuration generation the table was filled at */
    size_t n;
    evb_conn_ref *buckets[N_BUCKETS];
};

static unsigned bucket_of(const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % N_BUCKETS;
}

const evb_connector *evb_conn_ref_connector(const evb_conn_ref *r)
{
    return r->conn;
}

void evb_conn_ref_release(evb_conn_ref *r)
{
    if (r != NULL && atomic_fetch_sub(&r->refs, 1) == 1) {
        evb_connector_free(r->conn);
        free(r);
    }
}

static void drop_all_locked(evb_conn_cache *c)
{
    for (size_t b = 0; b < N_BUCKETS; b++) {
        evb_conn_ref *r = c->buckets[b];
        c->buckets[b] = NULL;
        while (r != NULL) {
            evb_conn_ref *next = r->next;
            r->next = NULL;
            evb_conn_ref_release(r);
            r = next;
        }
    }
    c->n = 0;
}

static evb_conn_ref *find_locked(evb_conn_cache *c, unsigned b, const char *name)
{
    for (evb_conn_ref *r = c->buckets[b]; r != NULL; r = r->next)
        if (strcmp(r->conn->name, name) == 0)
            return r;
    return NULL;
}

evb_err evb_conn_cache_new(evb_store *store, evb_conn_cache **out)
{
    evb_conn_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return EVB_ERR_NOMEM;
    c->store = store;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return EVB_OK;
}

void evb_conn_cache_free(evb_conn_cache *c)
{
    if (c == NULL)
        return;
    drop_all_locked(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

evb_err evb_conn_cache_get(evb_conn_cache *c, const char *name, evb_conn_ref **out)
{
    if (c == NULL || name == NULL || out == NULL)
        return EVB_ERR_INVALID;
    unsigned b = bucket_of(name);
    uint64_t gen = evb_store_config_generation(c->store); /* before any read */
    pthread_mutex_lock(&c->mu);
    if (gen != c->gen) {
        drop_all_locked(c);
        c->gen = gen;
    }
    evb_conn_ref *r = find_locked(c, b, name);
    if (r != NULL)
        atomic_fetch_add(&r->refs, 1);
    pthread_mutex_unlock(&c->mu);
    if (r != NULL) {
        *out = r;
        return EVB_OK;
    }
    evb_connector *conn = NULL;
    evb_err rc = evb_store_connector_get(c->store, name, &conn);
    if (rc != EVB_OK)
        return rc;
    r = calloc(1, sizeof *r);
    if (r == NULL) {
        evb_connector_free(conn);
        return EVB_ERR_NOMEM;
    }
    atomic_init(&r->refs, 1);
    r->conn = conn;
    pthread_mutex_lock(&c->mu);
    if (c->gen == gen && find_locked(c, b, name) == NULL) {
        if (c->n >= MAX_ENTRIES)
            drop_all_locked(c);
        atomic_fetch_add(&r->refs, 1); /* the table's */
        r->next = c->buckets[b];
        c->buckets[b] = r;
        c->n++;
    }
    pthread_mutex_unlock(&c->mu);
    *out = r;
    return EVB_OK;
}
