/* evbridge — Connection <-> stored JSON, with validation. See connection_codec.h. */
#include "server/rpc/connection_codec.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "server/routing/pattern.h"
#include "server/routing/transform.h"

#define MAX_AGE_MAX_S (7LL * 86400)

static evb_err check_types(const Evbridge__V1__Connection *c, const evb_connector *conn,
                           json_t *types, evb_error *e)
{
    for (size_t i = 0; i < c->n_event_types; i++) {
        const char *t = c->event_types[i];
        int found = 0;
        for (size_t k = 0; k < conn->n_types && !found; k++)
            found = strcmp(conn->types[k].type, t) == 0;
        if (!found)
            return evb_error_set(e, EVB_ERR_INVALID, "connection.event_types",
                                 "connection.event_types[%zu] \"%.128s\" is not declared by "
                                 "connector %s", i, t, conn->name);
        json_array_append_new(types, json_string(t));
    }
    return EVB_OK;
}

static evb_err check_transform(const Evbridge__V1__Transform *t, json_t **out, evb_error *e)
{
    int mode = t ? (int)t->mode : 0;
    const char *value = t ? t->value : "";
    size_t n_vars = t ? t->n_vars : 0;
    if (mode == 0)
        mode = EVB_TRANSFORM_ORIGINAL;
    const char **names = calloc(n_vars + 1, sizeof *names);
    const char **paths = calloc(n_vars + 1, sizeof *paths);
    json_t *vars = json_object();
    evb_err rc = names && paths ? EVB_OK : EVB_ERR_NOMEM;
    for (size_t i = 0; rc == EVB_OK && i < n_vars; i++) {
        names[i] = t->vars[i]->key;
        paths[i] = t->vars[i]->value;
        json_object_set_new(vars, names[i], json_string(paths[i]));
    }
    evb_transform *compiled = NULL;
    evb_error terr;
    evb_error_clear(&terr);
    if (rc == EVB_OK)
        rc = evb_transform_compile((evb_transform_mode)mode, value, names, paths, n_vars,
                                   &compiled, &terr);
    evb_transform_free(compiled);
    free(names);
    free(paths);
    if (rc != EVB_OK) {
        json_decref(vars);
        return evb_error_set(e, rc == EVB_ERR_NOMEM ? rc : EVB_ERR_INVALID,
                             "connection.transform", "connection.%s",
                             terr.message[0] ? terr.message : evb_strerror(rc));
    }
    *out = json_pack("{s:i, s:s, s:o}", "mode", mode, "value", value, "vars", vars);
    return EVB_OK;
}

static evb_err check_retry(const Evbridge__V1__RetryPolicy *r, json_t **out, evb_error *e)
{
    Evbridge__V1__RetryPolicy zero = EVBRIDGE__V1__RETRY_POLICY__INIT;
    if (r == NULL)
        r = &zero;
    int strategy = r->strategy ? (int)r->strategy : EVBRIDGE__V1__RETRY_STRATEGY__BACKOFF_RETRY;
    if (strategy < 1 || strategy > 3)
        return evb_error_set(e, EVB_ERR_INVALID, "connection.retry.strategy",
                             "connection.retry.strategy: unknown retry strategy");
    if (r->max_attempts < 0 || r->max_attempts > 1000 || r->max_age_seconds < 0 ||
        r->max_age_seconds > MAX_AGE_MAX_S || r->base_delay_ms < 0 || r->max_delay_ms < 0 ||
        !(r->jitter >= 0.0 && r->jitter <= 1.0))
        return evb_error_set(e, EVB_ERR_INVALID, "connection.retry",
                             "connection.retry: max_attempts 0..1000, max_age_seconds "
                             "0..%lld, delays >= 0, jitter 0..1", MAX_AGE_MAX_S);
    if (strategy == EVBRIDGE__V1__RETRY_STRATEGY__CUSTOM &&
        (r->max_attempts < 1 || r->max_delay_ms < r->base_delay_ms || r->base_delay_ms < 1))
        return evb_error_set(e, EVB_ERR_INVALID, "connection.retry",
                             "a CUSTOM retry policy needs max_attempts >= 1, base_delay_ms >= 1 "
                             "and max_delay_ms >= base_delay_ms");
    *out = json_pack("{s:i, s:i, s:I, s:I, s:I, s:f}", "strategy", strategy, "max_attempts",
                     r->max_attempts, "max_age_seconds", (json_int_t)r->max_age_seconds,
                     "base_delay_ms", (json_int_t)r->base_delay_ms, "max_delay_ms",
                     (json_int_t)r->max_delay_ms, "jitter", r->jitter);
    return EVB_OK;
}

evb_err evb_connection_config_from_pb(const Evbridge__V1__Connection *c,
                                      const evb_connector *connector, size_t max_pattern_bytes,
                                      char **config_out, evb_error *e)
{
    json_t *cfg = json_object(), *types = json_array(), *transform = NULL, *retry = NULL;
    json_object_set_new(cfg, "event_types", types);
    evb_err rc = check_types(c, connector, types, e);
    if (rc == EVB_OK && c->pattern[0] != '\0') {
        evb_pattern *p = NULL;
        evb_error perr;
        evb_error_clear(&perr);
        rc = evb_pattern_compile(c->pattern, strlen(c->pattern), max_pattern_bytes, &p, &perr);
        evb_pattern_free(p);
        if (rc != EVB_OK)
            rc = evb_error_set(e, rc == EVB_ERR_NOMEM ? rc : EVB_ERR_INVALID,
                               "connection.pattern", "connection.pattern%s%s: %s",
                               perr.pointer[0] ? " at " : "", perr.pointer, perr.message);
    }
    if (rc == EVB_OK && (rc = check_transform(c->transform, &transform, e)) == EVB_OK)
        json_object_set_new(cfg, "transform", transform);
    if (rc == EVB_OK && (rc = check_retry(c->retry, &retry, e)) == EVB_OK)
        json_object_set_new(cfg, "retry", retry);
    if (rc == EVB_OK && (c->ordering < 0 || c->ordering > 2))
        rc = evb_error_set(e, EVB_ERR_INVALID, "connection.ordering", "connection.ordering: unknown ordering");
    if (rc == EVB_OK && (c->fault_tolerance < 0 || c->fault_tolerance > 2))
        rc = evb_error_set(e, EVB_ERR_INVALID, "connection.fault_tolerance",
                           "connection.fault_tolerance: unknown fault tolerance");
    if (rc == EVB_OK && !(c->rate_limit_per_second >= 0 && c->rate_limit_per_second <= 1e6))
        rc = evb_error_set(e, EVB_ERR_INVALID, "connection.rate_limit_per_second",
                           "connection.rate_limit_per_second must be 0 (unlimited)..1000000");
    if (rc == EVB_OK && (c->max_concurrency < 0 || c->max_concurrency > 1024))
        rc = evb_error_set(e, EVB_ERR_INVALID, "connection.max_concurrency",
                           "connection.max_concurrency must be 0 (default)..1024");
    if (rc != EVB_OK) {
        json_decref(cfg);
        return rc;
    }
    json_object_set_new(cfg, "pattern", json_string(c->pattern));
    json_object_set_new(cfg, "dead_letter", json_boolean(c->dead_letter));
    json_object_set_new(cfg, "ordering", json_integer(c->ordering ? c->ordering : 1));
    json_object_set_new(cfg, "rate_limit_per_second", json_real(c->rate_limit_per_second));
    json_object_set_new(cfg, "fault_tolerance",
                        json_integer(c->fault_tolerance ? c->fault_tolerance : 1));
    json_object_set_new(cfg, "max_concurrency", json_integer(c->max_concurrency));
    *config_out = json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(cfg);
    return *config_out ? EVB_OK : evb_error_set(e, EVB_ERR_NOMEM, NULL, "out of memory");
}

/* ---- reply form ---- */

static json_int_t jint(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static char *jstr(evb_arena *a, json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return evb_arena_strdup(a, v ? v : "");
}

static Evbridge__V1__Transform *transform_to_pb(evb_arena *a, json_t *t)
{
    Evbridge__V1__Transform *p = evb_arena_alloc(a, sizeof *p);
    if (p == NULL)
        return NULL;
    evbridge__v1__transform__init(p);
    p->mode = (Evbridge__V1__TransformMode)jint(t, "mode");
    p->value = jstr(a, t, "value");
    json_t *vars = json_object_get(t, "vars");
    p->vars = evb_arena_alloc(a, (json_object_size(vars) + 1) * sizeof *p->vars);
    const char *k;
    json_t *v;
    json_object_foreach(vars, k, v) {
        Evbridge__V1__Transform__VarsEntry *e = evb_arena_alloc(a, sizeof *e);
        if (e == NULL || p->vars == NULL)
            return NULL;
        evbridge__v1__transform__vars_entry__init(e);
        e->key = evb_arena_strdup(a, k);
        e->value = evb_arena_strdup(a, json_string_value(v));
        p->vars[p->n_vars++] = e;
    }
    return p;
}

static Evbridge__V1__RetryPolicy *retry_to_pb(evb_arena *a, json_t *r)
{
    Evbridge__V1__RetryPolicy *p = evb_arena_alloc(a, sizeof *p);
    if (p == NULL)
        return NULL;
    evbridge__v1__retry_policy__init(p);
    p->strategy = (Evbridge__V1__RetryStrategy)jint(r, "strategy");
    p->max_attempts = (int32_t)jint(r, "max_attempts");
    p->max_age_seconds = jint(r, "max_age_seconds");
    p->base_delay_ms = jint(r, "base_delay_ms");
    p->max_delay_ms = jint(r, "max_delay_ms");
    p->jitter = json_number_value(json_object_get(r, "jitter"));
    return p;
}

Evbridge__V1__Connection *evb_connection_to_pb(evb_arena *a, const evb_connection_rec *rec)
{
    json_t *cfg = json_loads(rec->config, 0, NULL);
    Evbridge__V1__Connection *p = evb_arena_alloc(a, sizeof *p);
    if (cfg == NULL || p == NULL) {
        json_decref(cfg);
        return NULL;
    }
    evbridge__v1__connection__init(p);
    p->id = evb_arena_strdup(a, rec->id);
    p->org = evb_arena_strdup(a, rec->org);
    p->name = evb_arena_strdup(a, rec->name);
    p->connector = evb_arena_strdup(a, rec->connector);
    p->action = evb_arena_strdup(a, rec->action);
    p->state = (Evbridge__V1__ConnectionState)rec->state;
    p->state_reason = evb_arena_strdup(a, rec->state_reason);
    p->create_time = evb_arena_time(a, rec->create_ms);
    p->update_time = evb_arena_time(a, rec->update_ms);
    p->pattern = jstr(a, cfg, "pattern");
    p->dead_letter = json_is_true(json_object_get(cfg, "dead_letter"));
    p->ordering = (Evbridge__V1__Ordering)jint(cfg, "ordering");
    p->rate_limit_per_second = json_number_value(json_object_get(cfg, "rate_limit_per_second"));
    p->fault_tolerance = (Evbridge__V1__FaultTolerance)jint(cfg, "fault_tolerance");
    p->max_concurrency = (int32_t)jint(cfg, "max_concurrency");
    json_t *types = json_object_get(cfg, "event_types");
    p->event_types = evb_arena_alloc(a, (json_array_size(types) + 1) * sizeof(char *));
    for (size_t i = 0; p->event_types != NULL && i < json_array_size(types); i++)
        p->event_types[p->n_event_types++] =
            evb_arena_strdup(a, json_string_value(json_array_get(types, i)));
    p->transform = transform_to_pb(a, json_object_get(cfg, "transform"));
    p->retry = retry_to_pb(a, json_object_get(cfg, "retry"));
    json_decref(cfg);
    int ok = p->id && p->org && p->name && p->connector && p->action && p->state_reason &&
             p->create_time && p->update_time && p->pattern && p->event_types && p->transform &&
             p->retry;
    return ok ? p : NULL;
}
