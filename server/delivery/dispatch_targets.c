/* evbridge — the dispatcher's cache of connections and actions (parsed targets, compiled
 * transforms, retry policies, limits), rebuilt when the store's routing generation moves.
 * Breaker state and in-flight counts carry over to the rebuilt entries by id/name.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "common/timeutil.h"
#include "server/delivery/dispatch_int.h"
#include "server/store/store_routing.h"

#define ROBOT_PER_MINUTE 20.0

void evb_bucket_init(bucket *b, double rate, double burst, int64_t now_ms)
{
    b->rate = rate;
    b->burst = burst > 1 ? burst : 1;
    b->tokens = b->burst;
    b->last_ms = now_ms;
}

int evb_bucket_ready(bucket *b, int64_t now_ms)
{
    if (b->rate <= 0)
        return 1;
    if (now_ms > b->last_ms) {
        b->tokens += (double)(now_ms - b->last_ms) * b->rate / 1000.0;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ms = now_ms;
    }
    return b->tokens >= 1.0;
}

void evb_bucket_take(bucket *b)
{
    if (b->rate > 0)
        b->tokens -= 1.0;
}

static void action_free(action_entry *a)
{
    if (a == NULL)
        return;
    free(a->name);
    free(a->disabled_reason);
    evb_http_target_free(a->http);
    evb_robot_target_free(a->robot);
    free(a);
}

static void conn_free(conn_entry *c)
{
    if (c == NULL)
        return;
    free(c->id);
    free(c->action);
    evb_transform_free(c->transform);
    free(c);
}

void evb_targets_fini(target_cache *c)
{
    for (size_t i = 0; i < c->n_conns; i++)
        conn_free(c->conns[i]);
    for (size_t i = 0; i < c->n_actions; i++)
        action_free(c->actions[i]);
    free(c->conns);
    free(c->actions);
    memset(c, 0, sizeof *c);
}

static int cmp_conn(const void *a, const void *b)
{
    return strcmp((*(conn_entry *const *)a)->id, (*(conn_entry *const *)b)->id);
}

static int cmp_action(const void *a, const void *b)
{
    return strcmp((*(action_entry *const *)a)->name, (*(action_entry *const *)b)->name);
}

conn_entry *evb_targets_conn(const target_cache *c, const char *id)
{
    conn_entry key = {.id = (char *)id}, *kp = &key;
    conn_entry **hit = c->n_conns ? bsearch(&kp, c->conns, c->n_conns, sizeof *c->conns,
                                            cmp_conn)
                                  : NULL;
    return hit ? *hit : NULL;
}

static action_entry *find_action(action_entry **as, size_t n, const char *name)
{
    action_entry key = {.name = (char *)name}, *kp = &key;
    action_entry **hit = n ? bsearch(&kp, as, n, sizeof *as, cmp_action) : NULL;
    return hit ? *hit : NULL;
}

static action_entry *action_from_rec(const evb_action_rec *r, const target_cache *old,
                                     int64_t now)
{
    action_entry *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    a->name = evb_strdup(r->name);
    a->kind = r->kind;
    a->disabled = r->disabled;
    a->disabled_reason = evb_strdup(r->disabled_reason ? r->disabled_reason : "");
    evb_error e;
    if (r->kind == ACTION_HTTP && evb_http_target_parse(r->config, &a->http, &e) != EVB_OK) {
        a->disabled = 1;
        free(a->disabled_reason);
        a->disabled_reason = evb_strdup("the stored HTTP target is invalid");
    } else if (r->kind == ACTION_ROBOT &&
               evb_robot_target_parse(r->config, &a->robot, &e) != EVB_OK) {
        a->disabled = 1;
        free(a->disabled_reason);
        a->disabled_reason = evb_strdup("the stored robot target is invalid");
    }
    evb_bucket_init(&a->robot_limit, r->kind == ACTION_ROBOT ? ROBOT_PER_MINUTE / 60.0 : 0,
                    ROBOT_PER_MINUTE, now);
    const action_entry *prev = find_action(old->actions, old->n_actions, r->name);
    if (prev != NULL) {
        a->consecutive_failures = prev->consecutive_failures;
        a->open_until_ms = prev->open_until_ms;
        a->half_open_in_flight = prev->half_open_in_flight;
        a->robot_limit = prev->robot_limit;
    }
    if (a->name == NULL || a->disabled_reason == NULL) {
        action_free(a);
        return NULL;
    }
    return a;
}

static conn_entry *conn_from_rec(const evb_connection_rec *r, const target_cache *old,
                                 int64_t now)
{
    conn_entry *c = calloc(1, sizeof *c);
    json_t *cfg = json_loads(r->config, 0, NULL);
    if (c == NULL || cfg == NULL) {
        free(c);
        json_decref(cfg);
        return NULL;
    }
    c->id = evb_strdup(r->id);
    c->action = evb_strdup(r->action);
    c->state = r->state;
    if (evb_retry_policy_from_json(json_object_get(cfg, "retry"), &c->retry, NULL) != EVB_OK)
        evb_retry_policy_default(&c->retry);
    json_t *t = json_object_get(cfg, "transform");
    int mode = (int)json_integer_value(json_object_get(t, "mode"));
    if (mode > EVB_TRANSFORM_ORIGINAL) {
        json_t *vars = json_object_get(t, "vars");
        size_t nv = json_object_size(vars), i = 0;
        const char **names = calloc(nv + 1, sizeof *names), **paths = calloc(nv + 1, sizeof *paths);
        const char *k;
        json_t *v;
        json_object_foreach(vars, k, v) {
            if (names && paths) {
                names[i] = k;
                paths[i++] = json_string_value(v);
            }
        }
        const char *value = json_string_value(json_object_get(t, "value"));
        if (names && paths)
            evb_transform_compile((evb_transform_mode)mode, value ? value : "", names, paths, i,
                                  &c->transform, NULL);
        free(names);
        free(paths);
    }
    c->max_concurrency = (int)json_integer_value(json_object_get(cfg, "max_concurrency"));
    double rate = json_number_value(json_object_get(cfg, "rate_limit_per_second"));
    evb_bucket_init(&c->rate, rate, rate, now);
    const conn_entry *prev = evb_targets_conn(old, r->id);
    if (prev != NULL) {
        c->in_flight = prev->in_flight;
        c->queued = prev->queued;
        c->done_per_s = prev->done_per_s;
        c->done_since_ms = prev->done_since_ms;
        c->done_n = prev->done_n;
        if (prev->rate.rate == rate)
            c->rate = prev->rate;
    }
    json_decref(cfg);
    if (c->id == NULL || c->action == NULL) {
        conn_free(c);
        return NULL;
    }
    return c;
}

evb_err evb_targets_refresh(target_cache *c, evb_store *store)
{
    uint64_t gen = evb_store_routing_generation(store);
    if (gen == c->generation && c->generation != 0)
        return EVB_OK;
    evb_action_rec **as = NULL;
    evb_connection_rec **cs = NULL;
    size_t na = 0, nc = 0;
    evb_err rc = evb_store_action_list(store, NULL, NULL, &as, &na);
    if (rc == EVB_ERR_NOT_FOUND)
        rc = EVB_OK, na = 0;
    if (rc == EVB_OK && (rc = evb_store_connection_all(store, &cs, &nc)) == EVB_ERR_NOT_FOUND)
        rc = EVB_OK, nc = 0;
    target_cache fresh = {.generation = gen};
    int64_t now = evb_mono_ms();
    fresh.actions = calloc(na + 1, sizeof *fresh.actions);
    fresh.conns = calloc(nc + 1, sizeof *fresh.conns);
    if (rc == EVB_OK && (fresh.actions == NULL || fresh.conns == NULL))
        rc = EVB_ERR_NOMEM;
    for (size_t i = 0; rc == EVB_OK && i < na; i++)
        if ((fresh.actions[fresh.n_actions++] = action_from_rec(as[i], c, now)) == NULL)
            rc = EVB_ERR_NOMEM;
    if (rc == EVB_OK)
        qsort(fresh.actions, fresh.n_actions, sizeof *fresh.actions, cmp_action);
    for (size_t i = 0; rc == EVB_OK && i < nc; i++) {
        conn_entry *ce = conn_from_rec(cs[i], c, now);
        if (ce == NULL) {
            rc = EVB_ERR_NOMEM;
            break;
        }
        ce->act = find_action(fresh.actions, fresh.n_actions, ce->action);
        fresh.conns[fresh.n_conns++] = ce;
    }
    if (rc == EVB_OK)
        qsort(fresh.conns, fresh.n_conns, sizeof *fresh.conns, cmp_conn);
    evb_action_rec_array_free(as, na);
    evb_connection_rec_array_free(cs, nc);
    if (rc != EVB_OK) {
        evb_targets_fini(&fresh);
        return rc;
    }
    evb_targets_fini(c);
    *c = fresh;
    return EVB_OK;
}
