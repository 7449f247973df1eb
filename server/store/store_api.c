/* evbridge — the public store API: picks a backend at open and forwards every call to it
 * (store_backend.h). No SQL here. */
#include "server/store/store_backend.h"

#include <string.h>

#define BE(s) (((const store_head *)(const void *)(s))->be)

/* 1 when url names PostgreSQL (a libpq URI). */
static int is_postgres_url(const char *url)
{
    return url != NULL &&
           (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0);
}

evb_err evb_store_open(const evb_store_options *opt, evb_store **out, evb_error *err)
{
    if (opt == NULL || out == NULL) {
        evb_error_set(err, EVB_ERR_INVALID, NULL, "store options and out pointer required");
        return EVB_ERR_INVALID;
    }
    *out = NULL;
    const char *url = opt->url;
    if (url == NULL || url[0] == '\0' || strcmp(url, "sqlite") == 0)
        return store_sqlite_open(opt, out, err);
    if (is_postgres_url(url))
        return store_pg_open(opt, out, err);
    /* Only the scheme: a mistyped URL may still carry a password. */
    evb_error_set(err, EVB_ERR_INVALID, "store",
                  "unknown store \"%.*s\": use sqlite (the default) or postgres://...",
                  (int)(strcspn(url, ":@/") > 40 ? 40 : strcspn(url, ":@/")), url);
    return EVB_ERR_INVALID;
}

void evb_store_close(evb_store *s)
{
    if (s == NULL)
        return;
    BE(s)->close(s);
}

int evb_store_ready(const evb_store *s)
{
    if (s == NULL)
        return 0;
    return BE(s)->ready(s);
}

evb_err evb_store_put_events(evb_store *s, evb_put_item *items, size_t n, evb_store_put_cb cb,
                             void *arg)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->put_events(s, items, n, cb, arg);
}

evb_err evb_store_get_event(evb_store *s, const char *id, const char *org, const char *connector,
                            evb_event **out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->get_event(s, id, org, connector, out);
}

evb_err evb_store_list_events(evb_store *s, const evb_event_query *q, evb_event ***out,
                              size_t *n_out, int64_t *next_after_seq)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->list_events(s, q, out, n_out, next_after_seq);
}

evb_err evb_store_count_events(evb_store *s, int64_t *out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->count_events(s, out);
}

evb_err evb_store_connector_create(evb_store *s, const evb_connector *c)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->connector_create(s, c);
}

evb_err evb_store_connector_update(evb_store *s, const evb_connector *c)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->connector_update(s, c);
}

evb_err evb_store_connector_delete(evb_store *s, const char *name)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->connector_delete(s, name);
}

evb_err evb_store_connector_get(evb_store *s, const char *name, evb_connector **out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->connector_get(s, name, out);
}

evb_err evb_store_connector_list(evb_store *s, const char *isv, evb_connector ***out, size_t *n_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->connector_list(s, isv, out, n_out);
}

evb_err evb_store_key_create(evb_store *s, const evb_api_key *k)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->key_create(s, k);
}

evb_err evb_store_key_revoke(evb_store *s, const char *key_id, int64_t revoke_ms)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->key_revoke(s, key_id, revoke_ms);
}

evb_err evb_store_key_get(evb_store *s, const char *key_id, evb_api_key **out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->key_get(s, key_id, out);
}

evb_err evb_store_key_list(evb_store *s, int include_revoked, evb_api_key ***out, size_t *n_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->key_list(s, include_revoked, out, n_out);
}

evb_err evb_store_key_count_admin(evb_store *s, int64_t *out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->key_count_admin(s, out);
}

evb_err evb_store_key_create_first_admin(evb_store *s, const evb_api_key *k)
{
    if (s == NULL || k == NULL || k->role == NULL || strcmp(k->role, "admin") != 0)
        return EVB_ERR_INVALID;
    return BE(s)->key_create_first_admin(s, k);
}

evb_err evb_store_action_create(evb_store *s, const evb_action_rec *a)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->action_create(s, a);
}

evb_err evb_store_action_update(evb_store *s, const evb_action_rec *a)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->action_update(s, a);
}

evb_err evb_store_action_set_disabled(evb_store *s, const char *name, int disabled,
                                      const char *reason)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->action_set_disabled(s, name, disabled, reason);
}

evb_err evb_store_action_delete(evb_store *s, const char *name)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->action_delete(s, name);
}

evb_err evb_store_action_get(evb_store *s, const char *name, evb_action_rec **out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->action_get(s, name, out);
}

evb_err evb_store_action_list(evb_store *s, const char *isv, const char *org, evb_action_rec ***out,
                              size_t *n_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->action_list(s, isv, org, out, n_out);
}

evb_err evb_store_connection_create(evb_store *s, const evb_connection_rec *c)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->connection_create(s, c);
}

evb_err evb_store_connection_update(evb_store *s, const evb_connection_rec *c)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->connection_update(s, c);
}

evb_err evb_store_connection_set_state(evb_store *s, const char *id, int state, const char *reason)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->connection_set_state(s, id, state, reason);
}

evb_err evb_store_connection_delete(evb_store *s, const char *id)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->connection_delete(s, id);
}

evb_err evb_store_connection_get(evb_store *s, const char *id, evb_connection_rec **out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->connection_get(s, id, out);
}

evb_err evb_store_connection_list(evb_store *s, const char *org, const char *connector,
                                  evb_connection_rec ***out, size_t *n_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->connection_list(s, org, connector, out, n_out);
}

evb_err evb_store_connection_all(evb_store *s, evb_connection_rec ***out, size_t *n_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->connection_all(s, out, n_out);
}

uint64_t evb_store_routing_generation(evb_store *s)
{
    if (s == NULL)
        return 0;
    return BE(s)->routing_generation(s);
}

evb_err evb_store_delivery_list_for_event(evb_store *s, int64_t event_seq, evb_delivery_rec ***out,
                                          size_t *n_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->delivery_list_for_event(s, event_seq, out, n_out);
}

evb_err evb_store_delivery_list(evb_store *s, const char *connection_id, int state, int limit,
                                evb_delivery_rec ***out, size_t *n_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->delivery_list(s, connection_id, state, limit, out, n_out);
}

evb_err evb_store_event_filter_trace(evb_store *s, int64_t event_seq, char **json_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->event_filter_trace(s, event_seq, json_out);
}

evb_err evb_store_schema_register(evb_store *s, const char *subject, const char *schema,
                                  const char *canon_hash, int32_t expect_latest,
                                  evb_schema_rec **out, int *created)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->schema_register(s, subject, schema, canon_hash, expect_latest, out, created);
}

evb_err evb_store_schema_get(evb_store *s, const char *subject, int32_t version,
                             int include_deleted, evb_schema_rec **out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->schema_get(s, subject, version, include_deleted, out);
}

evb_err evb_store_schema_get_by_id(evb_store *s, int64_t id, evb_schema_rec **out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->schema_get_by_id(s, id, out);
}

evb_err evb_store_schema_list(evb_store *s, const char *subject, int include_deleted,
                              evb_schema_rec ***out, size_t *n_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->schema_list(s, subject, include_deleted, out, n_out);
}

evb_err evb_store_schema_subjects(evb_store *s, const char *prefix, int include_deleted,
                                  char ***out, size_t *n_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->schema_subjects(s, prefix, include_deleted, out, n_out);
}

evb_err evb_store_schema_delete(evb_store *s, const char *subject, int32_t version, int permanent,
                                int32_t **versions_out, size_t *n_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->schema_delete(s, subject, version, permanent, versions_out, n_out);
}

evb_err evb_store_subject_config_get(evb_store *s, const char *subject, int *level,
                                     int *format_mode)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->subject_config_get(s, subject, level, format_mode);
}

evb_err evb_store_subject_config_set(evb_store *s, const char *subject, int level, int format_mode)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->subject_config_set(s, subject, level, format_mode);
}

evb_err evb_store_delivery_claim(evb_store *s, int64_t now_ms, int64_t lease_ms, int limit,
                                 const char *const *skip_connections, size_t n_skip,
                                 evb_claim **out, size_t *n_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->delivery_claim(s, now_ms, lease_ms, limit, skip_connections, n_skip, out, n_out);
}

evb_err evb_store_delivery_next_due(evb_store *s, int64_t *next_ms_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->delivery_next_due(s, next_ms_out);
}

evb_err evb_store_delivery_complete(evb_store *s, const char *delivery_id, const evb_attempt *a,
                                    int new_state, int64_t next_ms)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->delivery_complete(s, delivery_id, a, new_state, next_ms);
}

evb_err evb_store_delivery_complete_async(evb_store *s, const char *delivery_id,
                                          const evb_attempt *a, int new_state, int64_t next_ms,
                                          evb_store_complete_cb cb, void *arg)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->delivery_complete_async(s, delivery_id, a, new_state, next_ms, cb, arg);
}

evb_err evb_store_delivery_attempts(evb_store *s, const char *delivery_id, evb_attempt_rec **out,
                                    size_t *n_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->delivery_attempts(s, delivery_id, out, n_out);
}

evb_err evb_store_delivery_release_leases(evb_store *s, int64_t now_ms, int64_t *count_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->delivery_release_leases(s, now_ms, count_out);
}

evb_err evb_store_delivery_give_back(evb_store *s, const char *const *ids, const int *attempts,
                                     size_t n, int64_t next_ms)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->delivery_give_back(s, ids, attempts, n, next_ms);
}

evb_err evb_store_delivery_replay(evb_store *s, const evb_event *const *evs,
                                  const evb_delivery_new *ds, size_t n)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->delivery_replay(s, evs, ds, n);
}

evb_err evb_store_dead_list(evb_store *s, const char *org, const char *connection_id, int limit,
                            const char *after_token, evb_claim **out, size_t *n_out,
                            char **next_token_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->dead_list(s, org, connection_id, limit, after_token, out, n_out, next_token_out);
}

evb_err evb_store_dead_redrive(evb_store *s, const char *org, const char *connection_id,
                               const char *const *ids, size_t n_ids, int64_t start_ms,
                               int64_t end_ms, int64_t now_ms, int64_t *count_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->dead_redrive(s, org, connection_id, ids, n_ids, start_ms, end_ms, now_ms,
                               count_out);
}

evb_err evb_store_delivery_stats(evb_store *s, int64_t now_ms, evb_delivery_stats *out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    return BE(s)->delivery_stats(s, now_ms, out);
}

uint64_t evb_store_config_generation(evb_store *s)
{
    if (s == NULL)
        return 0;
    return BE(s)->config_generation(s);
}

void evb_store_set_remote_wake(evb_store *s, evb_store_wake_fn fn, void *arg)
{
    if (s == NULL)
        return;
    BE(s)->set_remote_wake(s, fn, arg);
}
