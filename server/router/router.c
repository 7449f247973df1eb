/* evbridge — the routing snapshot and per-event routing. See router.h.
 *
 * Snapshot = every connection, grouped by (org, connector) in a hash table; per group one
 * matcher over the connections that have a pattern (rule id = index in the group), plus
 * the list of pattern-less connections that match everything. Snapshots are
 * reference-counted and immutable; a rebuild swaps the pointer under a mutex.
 */
#include "server/router/router.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/id.h"
#include "common/text.h"
#include "server/router/router_int.h"
#include "server/routing/pattern.h"
#include "server/store/store_routing.h"

#define N_BUCKETS 256
#define MATCH_STACK 64
#define STRICT_KEY "\x01connection" /* cannot collide with a subject: control character */

typedef struct conn_entry {
    char *id;
    int state;
    int per_subject;
    int strict;           /* fault tolerance NONE: serial, a dead delivery stops the rest */
    char **types;
    size_t n_types;
    evb_pattern *pattern; /* NULL = match everything */
} conn_entry;

typedef struct group {
    struct group *next;
    char *org, *connector;
    conn_entry **conns;
    size_t n, cap;
    evb_matcher *matcher;
    int uses_data;
} group;

typedef struct snapshot {
    atomic_int refs;
    uint64_t generation;
    group *buckets[N_BUCKETS];
} snapshot;

struct evb_router {
    evb_store *store;
    pthread_mutex_t mu;       /* guards cur */
    pthread_mutex_t build_mu; /* one rebuild at a time */
    snapshot *cur;
};

static unsigned hash2(const char *a, const char *b)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)a; *p; p++)
        h = (h ^ *p) * 16777619u;
    h = (h ^ 0xff) * 16777619u;
    for (const unsigned char *p = (const unsigned char *)b; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h % N_BUCKETS;
}

static void conn_free(conn_entry *c)
{
    if (c == NULL)
        return;
    free(c->id);
    for (size_t i = 0; i < c->n_types; i++)
        free(c->types[i]);
    free(c->types);
    evb_pattern_free(c->pattern);
    free(c);
}

static void snapshot_free(snapshot *s)
{
    for (size_t b = 0; b < N_BUCKETS; b++) {
        group *g = s->buckets[b];
        while (g != NULL) {
            group *next = g->next;
            evb_matcher_free(g->matcher);
            for (size_t i = 0; i < g->n; i++)
                conn_free(g->conns[i]);
            free(g->conns);
            free(g->org);
            free(g->connector);
            free(g);
            g = next;
        }
    }
    free(s);
}

static void snapshot_release(snapshot *s)
{
    if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
        snapshot_free(s);
}

static group *find_group(const snapshot *s, const char *org, const char *connector)
{
    for (group *g = s->buckets[hash2(org, connector)]; g != NULL; g = g->next)
        if (strcmp(g->org, org) == 0 && strcmp(g->connector, connector) == 0)
            return g;
    return NULL;
}

/* 1 when a pattern names the payload (then events are matched with their data parsed). */
static int pattern_uses_data(json_t *p)
{
    const char *k;
    json_t *v;
    json_object_foreach(p, k, v) {
        if (strcmp(k, "data") == 0 || strncmp(k, "data.", 5) == 0)
            return 1;
        if (strcmp(k, "$or") == 0) {
            size_t i;
            json_t *alt;
            json_array_foreach(v, i, alt) if (json_is_object(alt) && pattern_uses_data(alt)) return 1;
        }
    }
    return 0;
}

/* Parses a stored connection into an entry; *uses_data is set when its pattern needs data. */
static evb_err conn_from_rec(const evb_connection_rec *rec, conn_entry **out, int *uses_data)
{
    json_t *cfg = json_loads(rec->config, 0, NULL);
    conn_entry *c = calloc(1, sizeof *c);
    evb_err rc = cfg && c ? EVB_OK : EVB_ERR_NOMEM;
    if (rc == EVB_OK) {
        c->id = evb_strdup(rec->id);
        c->state = rec->state;
        c->per_subject = json_integer_value(json_object_get(cfg, "ordering")) == 2;
        c->strict = json_integer_value(json_object_get(cfg, "fault_tolerance")) == 2;
        json_t *types = json_object_get(cfg, "event_types");
        c->types = calloc(json_array_size(types) + 1, sizeof *c->types);
        for (size_t i = 0; c->types && i < json_array_size(types); i++)
            c->types[c->n_types++] = evb_strdup(json_string_value(json_array_get(types, i)));
        const char *pat = json_string_value(json_object_get(cfg, "pattern"));
        if (pat != NULL && pat[0] != '\0') {
            evb_error e;
            rc = evb_pattern_compile(pat, strlen(pat), (size_t)1 << 20, &c->pattern, &e);
            json_t *pj = json_loads(pat, 0, NULL);
            *uses_data |= pj == NULL || pattern_uses_data(pj);
            json_decref(pj);
        }
        if (c->id == NULL || c->types == NULL)
            rc = EVB_ERR_NOMEM;
    }
    json_decref(cfg);
    if (rc != EVB_OK) {
        conn_free(c);
        return rc;
    }
    *out = c;
    return EVB_OK;
}

static evb_err add_to_group(snapshot *s, const evb_connection_rec *rec)
{
    group *g = find_group(s, rec->org, rec->connector);
    if (g == NULL) {
        g = calloc(1, sizeof *g);
        if (g == NULL || (g->org = evb_strdup(rec->org)) == NULL ||
            (g->connector = evb_strdup(rec->connector)) == NULL) {
            if (g != NULL) {
                free(g->org);
                free(g);
            }
            return EVB_ERR_NOMEM;
        }
        unsigned b = hash2(rec->org, rec->connector);
        g->next = s->buckets[b];
        s->buckets[b] = g;
    }
    if (g->n == g->cap) {
        size_t ncap = g->cap ? g->cap * 2 : 8;
        conn_entry **nc = realloc(g->conns, ncap * sizeof *nc);
        if (nc == NULL)
            return EVB_ERR_NOMEM;
        g->conns = nc;
        g->cap = ncap;
    }
    conn_entry *c = NULL;
    evb_err rc = conn_from_rec(rec, &c, &g->uses_data);
    if (rc == EVB_OK)
        g->conns[g->n++] = c;
    return rc;
}

static evb_err build_matchers(snapshot *s)
{
    for (size_t b = 0; b < N_BUCKETS; b++) {
        for (group *g = s->buckets[b]; g != NULL; g = g->next) {
            evb_err rc = evb_matcher_new(&g->matcher);
            for (size_t i = 0; rc == EVB_OK && i < g->n; i++)
                if (g->conns[i]->pattern != NULL)
                    rc = evb_matcher_add(g->matcher, g->conns[i]->pattern, i);
            if (rc == EVB_OK)
                rc = evb_matcher_build(g->matcher);
            if (rc != EVB_OK)
                return rc;
        }
    }
    return EVB_OK;
}

static evb_err build_snapshot(evb_store *store, snapshot **out)
{
    snapshot *s = calloc(1, sizeof *s);
    if (s == NULL)
        return EVB_ERR_NOMEM;
    atomic_init(&s->refs, 1);
    s->generation = evb_store_routing_generation(store); /* read before loading */
    evb_connection_rec **cs = NULL;
    size_t n = 0;
    evb_err rc = evb_store_connection_all(store, &cs, &n);
    if (rc == EVB_ERR_NOT_FOUND)
        rc = EVB_OK, n = 0;
    for (size_t i = 0; rc == EVB_OK && i < n; i++)
        rc = add_to_group(s, cs[i]);
    evb_connection_rec_array_free(cs, n);
    if (rc == EVB_OK)
        rc = build_matchers(s);
    if (rc != EVB_OK) {
        snapshot_free(s);
        return rc;
    }
    *out = s;
    return EVB_OK;
}

/* The current snapshot, rebuilt first when stale. The caller releases it. */
static evb_err acquire(evb_router *r, snapshot **out)
{
    uint64_t gen = evb_store_routing_generation(r->store);
    pthread_mutex_lock(&r->mu);
    snapshot *s = r->cur;
    if (s != NULL)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&r->mu);
    if (s != NULL && s->generation == gen) {
        *out = s;
        return EVB_OK;
    }
    pthread_mutex_lock(&r->build_mu);
    pthread_mutex_lock(&r->mu);
    snapshot *now = r->cur; /* another thread may have rebuilt meanwhile */
    pthread_mutex_unlock(&r->mu);
    evb_err rc = EVB_OK;
    if (now == NULL || now->generation != evb_store_routing_generation(r->store)) {
        snapshot *fresh = NULL;
        rc = build_snapshot(r->store, &fresh);
        if (rc == EVB_OK) {
            pthread_mutex_lock(&r->mu);
            snapshot *old = r->cur;
            r->cur = fresh;
            pthread_mutex_unlock(&r->mu);
            snapshot_release(old);
        }
    }
    pthread_mutex_unlock(&r->build_mu);
    if (rc == EVB_OK || s != NULL) {
        snapshot_release(s);
        pthread_mutex_lock(&r->mu);
        s = r->cur;
        if (s != NULL)
            atomic_fetch_add(&s->refs, 1);
        pthread_mutex_unlock(&r->mu);
    }
    if (s == NULL)
        return rc != EVB_OK ? rc : EVB_ERR_INTERNAL;
    *out = s;
    return EVB_OK;
}

evb_err evb_router_new(evb_store *store, evb_router **out)
{
    evb_router *r = calloc(1, sizeof *r);
    if (r == NULL)
        return EVB_ERR_NOMEM;
    r->store = store;
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->build_mu, NULL);
    *out = r;
    return EVB_OK;
}

void evb_router_free(evb_router *r)
{
    if (r == NULL)
        return;
    snapshot_release(r->cur);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->build_mu);
    free(r);
}

void evb_route_fini(evb_route *rt)
{
    if (rt == NULL)
        return;
    for (size_t i = 0; i < rt->n_deliveries; i++) {
        free((char *)rt->deliveries[i].id);
        free((char *)rt->deliveries[i].connection_id);
        free((char *)rt->deliveries[i].ordering_key);
    }
    free(rt->deliveries);
    free(rt->filter_trace);
    memset(rt, 0, sizeof *rt);
}

static int type_ok(const conn_entry *c, const char *type)
{
    if (c->n_types == 0)
        return 1;
    for (size_t i = 0; i < c->n_types; i++)
        if (strcmp(c->types[i], type) == 0)
            return 1;
    return 0;
}

/* Marks in `hit` the connections whose pattern matched (or that have none). The event is
 * matched as a view (router_int.h): no JSON tree, and the payload parsed at most once. */
static evb_err match_group(const group *g, const evb_event *ev, const evb_json *data,
                           unsigned char *hit)
{
    for (size_t i = 0; i < g->n; i++)
        hit[i] = g->conns[i]->pattern == NULL;
    if (evb_matcher_count(g->matcher) == 0)
        return EVB_OK;
    evb_router_view v;
    evb_err rc = evb_router_view_init(&v, ev, g->uses_data, data);
    uint64_t stack_ids[MATCH_STACK], *ids = stack_ids;
    size_t n = 0;
    if (rc == EVB_OK)
        rc = evb_matcher_match_view(g->matcher, &v.view, ids, MATCH_STACK, &n);
    if (rc == EVB_ERR_LIMIT) {
        ids = malloc(n * sizeof *ids);
        rc = ids ? evb_matcher_match_view(g->matcher, &v.view, ids, n, &n) : EVB_ERR_NOMEM;
    }
    evb_router_view_fini(&v);
    for (size_t i = 0; rc == EVB_OK && i < n; i++)
        if (ids[i] < g->n)
            hit[ids[i]] = 1;
    if (ids != stack_ids)
        free(ids);
    return rc;
}

/* Appends "id" (after a comma unless first) to a JSON array's contents in b. Connection
 * ids are UUIDs: nothing to escape. Appends instead of printf: this runs per connection
 * of every routed event. */
static evb_err append_id(evb_buf *b, const char *id)
{
    evb_err rc = b->len ? evb_buf_append(b, ",\"", 2) : evb_buf_append(b, "\"", 1);
    if (rc == EVB_OK)
        rc = evb_buf_append_str(b, id);
    if (rc == EVB_OK)
        rc = evb_buf_append(b, "\"", 1);
    return rc;
}

/* Builds deliveries and the filter trace from the per-connection outcome. */
static evb_err build_route(const group *g, const evb_event *ev, const unsigned char *hit,
                           evb_route *out)
{
    evb_buf matched, unmatched;
    evb_buf_init(&matched, 0);
    evb_buf_init(&unmatched, 0);
    evb_err rc = EVB_OK;
    out->deliveries = calloc(g->n, sizeof *out->deliveries);
    if (out->deliveries == NULL)
        rc = EVB_ERR_NOMEM;
    for (size_t i = 0; rc == EVB_OK && i < g->n; i++) {
        const conn_entry *c = g->conns[i];
        int ok = hit[i] && type_ok(c, ev->type) && c->state != 3 /* DISABLED */;
        evb_buf *b = ok ? &matched : &unmatched;
        rc = append_id(b, c->id);
        if (!ok || rc != EVB_OK)
            continue;
        char id[EVB_UUID_STRLEN + 1];
        evb_delivery_new *d = &out->deliveries[out->n_deliveries];
        rc = evb_uuid7(id, sizeof id);
        d->id = evb_strdup(id);
        d->connection_id = evb_strdup(c->id);
        d->held = c->state == 2; /* PAUSED */
        /* NONE stops the whole connection at a failed event: one key for all of it */
        d->strict = c->strict;
        d->ordering_key = c->strict        ? evb_strdup(STRICT_KEY)
                          : c->per_subject ? evb_strdup(ev->subject ? ev->subject : "")
                                           : NULL;
        out->n_deliveries++;
        if (d->id == NULL || d->connection_id == NULL ||
            ((c->per_subject || c->strict) && !d->ordering_key))
            rc = EVB_ERR_NOMEM;
    }
    if (rc == EVB_OK) {
        evb_buf trace;
        evb_buf_init(&trace, 0);
        rc = evb_buf_append_str(&trace, "{\"matched\":[");
        if (rc == EVB_OK)
            rc = evb_buf_append(&trace, matched.data, matched.len);
        if (rc == EVB_OK)
            rc = evb_buf_append_str(&trace, "],\"unmatched\":[");
        if (rc == EVB_OK)
            rc = evb_buf_append(&trace, unmatched.data, unmatched.len);
        if (rc == EVB_OK)
            rc = evb_buf_append_str(&trace, "]}");
        if (rc == EVB_OK)
            rc = evb_buf_detach(&trace, &out->filter_trace, NULL);
        evb_buf_fini(&trace);
    }
    evb_buf_fini(&matched);
    evb_buf_fini(&unmatched);
    return rc;
}

evb_err evb_router_route(evb_router *r, const evb_event *ev, const evb_json *data, evb_route *out)
{
    memset(out, 0, sizeof *out);
    snapshot *s = NULL;
    evb_err rc = acquire(r, &s);
    if (rc != EVB_OK)
        return rc;
    const group *g = find_group(s, ev->org, ev->connector);
    if (g != NULL && g->n > 0) {
        unsigned char stack_hit[256], *hit = g->n <= sizeof stack_hit ? stack_hit : malloc(g->n);
        rc = hit ? match_group(g, ev, data, hit) : EVB_ERR_NOMEM;
        if (rc == EVB_OK)
            rc = build_route(g, ev, hit, out);
        if (hit != stack_hit)
            free(hit);
    }
    snapshot_release(s);
    if (rc != EVB_OK)
        evb_route_fini(out);
    return rc;
}
