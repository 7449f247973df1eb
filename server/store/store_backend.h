/* evbridge — private header of server/store/: the backend interface.
 *
 * The public store API (store.h, store_routing.h, store_schemas.h, store_dispatch.h,
 * store_stats.h) is a set of trampolines (store_api.c) over one table of functions per
 * backend: the SQLite backend (sq_*.c's entry points, the embedded default) and the
 * PostgreSQL backend (pg_*.c). Every backend's store struct starts with a pointer to its
 * table, so the trampolines find it without knowing the backend; each entry has exactly the
 * contract of the public function of the same name (evb_store_<entry>). A NULL store is
 * answered by the trampoline (EVB_ERR_INVALID, 0 or nothing) and never reaches a backend.
 * Nothing outside server/store/ includes this header.
 */
#ifndef EVB_SERVER_STORE_BACKEND_H
#define EVB_SERVER_STORE_BACKEND_H

#include "server/store/store.h"
#include "server/store/store_dispatch.h"
#include "server/store/store_routing.h"
#include "server/store/store_schemas.h"
#include "server/store/store_stats.h"

/* Every entry: X(return type, name, (parameters)). */
#define STORE_ENTRIES(X)                                                                           \
    X(void, close, (evb_store * s))                                                                \
    X(int, ready, (const evb_store *s))                                                            \
    X(evb_err, put_events,                                                                         \
      (evb_store * s, evb_put_item * items, size_t n, evb_store_put_cb cb, void *arg))             \
    X(evb_err, get_event,                                                                          \
      (evb_store * s, const char *id, const char *org, const char *connector, evb_event **out))    \
    X(evb_err, list_events,                                                                        \
      (evb_store * s, const evb_event_query *q, evb_event ***out, size_t *n_out,                   \
       int64_t *next_after_seq))                                                                   \
    X(evb_err, count_events, (evb_store * s, int64_t * out))                                       \
    X(evb_err, connector_create, (evb_store * s, const evb_connector *c))                          \
    X(evb_err, connector_update, (evb_store * s, const evb_connector *c))                          \
    X(evb_err, connector_delete, (evb_store * s, const char *name))                                \
    X(evb_err, connector_get, (evb_store * s, const char *name, evb_connector **out))              \
    X(evb_err, connector_list,                                                                     \
      (evb_store * s, const char *isv, evb_connector ***out, size_t *n_out))                       \
    X(evb_err, key_create, (evb_store * s, const evb_api_key *k))                                  \
    X(evb_err, key_revoke, (evb_store * s, const char *key_id, int64_t revoke_ms))                 \
    X(evb_err, key_get, (evb_store * s, const char *key_id, evb_api_key **out))                    \
    X(evb_err, key_list, (evb_store * s, int include_revoked, evb_api_key ***out, size_t *n_out))  \
    X(evb_err, key_count_admin, (evb_store * s, int64_t * out))                                    \
    X(evb_err, key_create_first_admin, (evb_store * s, const evb_api_key *k))                      \
    X(evb_err, action_create, (evb_store * s, const evb_action_rec *a))                            \
    X(evb_err, action_update, (evb_store * s, const evb_action_rec *a))                            \
    X(evb_err, action_set_disabled,                                                                \
      (evb_store * s, const char *name, int disabled, const char *reason))                         \
    X(evb_err, action_delete, (evb_store * s, const char *name))                                   \
    X(evb_err, action_get, (evb_store * s, const char *name, evb_action_rec **out))                \
    X(evb_err, action_list,                                                                        \
      (evb_store * s, const char *isv, const char *org, evb_action_rec ***out, size_t *n_out))     \
    X(evb_err, connection_create, (evb_store * s, const evb_connection_rec *c))                    \
    X(evb_err, connection_update, (evb_store * s, const evb_connection_rec *c))                    \
    X(evb_err, connection_set_state,                                                               \
      (evb_store * s, const char *id, int state, const char *reason))                              \
    X(evb_err, connection_delete, (evb_store * s, const char *id))                                 \
    X(evb_err, connection_get, (evb_store * s, const char *id, evb_connection_rec **out))          \
    X(evb_err, connection_list,                                                                    \
      (evb_store * s, const char *org, const char *connector, evb_connection_rec ***out,           \
       size_t *n_out))                                                                             \
    X(evb_err, connection_all, (evb_store * s, evb_connection_rec * **out, size_t * n_out))        \
    X(uint64_t, routing_generation, (evb_store * s))                                               \
    X(evb_err, delivery_list_for_event,                                                            \
      (evb_store * s, int64_t event_seq, evb_delivery_rec * **out, size_t * n_out))                \
    X(evb_err, delivery_list,                                                                      \
      (evb_store * s, const char *connection_id, int state, int limit, evb_delivery_rec ***out,    \
       size_t *n_out))                                                                             \
    X(evb_err, event_filter_trace, (evb_store * s, int64_t event_seq, char **json_out))            \
    X(evb_err, schema_register,                                                                    \
      (evb_store * s, const char *subject, const char *schema, const char *canon_hash,             \
       int32_t expect_latest, evb_schema_rec **out, int *created))                                 \
    X(evb_err, schema_get,                                                                         \
      (evb_store * s, const char *subject, int32_t version, int include_deleted,                   \
       evb_schema_rec **out))                                                                      \
    X(evb_err, schema_get_by_id, (evb_store * s, int64_t id, evb_schema_rec * *out))               \
    X(evb_err, schema_list,                                                                        \
      (evb_store * s, const char *subject, int include_deleted, evb_schema_rec ***out,             \
       size_t *n_out))                                                                             \
    X(evb_err, schema_subjects,                                                                    \
      (evb_store * s, const char *prefix, int include_deleted, char ***out, size_t *n_out))        \
    X(evb_err, schema_delete,                                                                      \
      (evb_store * s, const char *subject, int32_t version, int permanent, int32_t **versions_out, \
       size_t *n_out))                                                                             \
    X(evb_err, subject_config_get,                                                                 \
      (evb_store * s, const char *subject, int *level, int *format_mode))                          \
    X(evb_err, subject_config_set,                                                                 \
      (evb_store * s, const char *subject, int level, int format_mode))                            \
    X(evb_err, delivery_claim,                                                                     \
      (evb_store * s, int64_t now_ms, int64_t lease_ms, int limit,                                 \
       const char *const *skip_connections, size_t n_skip, evb_claim **out, size_t *n_out))        \
    X(evb_err, delivery_next_due, (evb_store * s, int64_t * next_ms_out))                          \
    X(evb_err, delivery_complete,                                                                  \
      (evb_store * s, const char *delivery_id, const evb_attempt *a, int new_state,                \
       int64_t next_ms))                                                                           \
    X(evb_err, delivery_complete_async,                                                            \
      (evb_store * s, const char *delivery_id, const evb_attempt *a, int new_state,                \
       int64_t next_ms, evb_store_complete_cb cb, void *arg))                                      \
    X(evb_err, delivery_attempts,                                                                  \
      (evb_store * s, const char *delivery_id, evb_attempt_rec **out, size_t *n_out))              \
    X(evb_err, delivery_release_leases, (evb_store * s, int64_t now_ms, int64_t * count_out))      \
    X(evb_err, delivery_give_back,                                                                 \
      (evb_store * s, const char *const *ids, const int *attempts, size_t n, int64_t next_ms))     \
    X(evb_err, delivery_replay,                                                                    \
      (evb_store * s, const evb_event *const *evs, const evb_delivery_new *ds, size_t n))          \
    X(evb_err, dead_list,                                                                          \
      (evb_store * s, const char *org, const char *connection_id, int limit,                       \
       const char *after_token, evb_claim **out, size_t *n_out, char **next_token_out))            \
    X(evb_err, dead_redrive,                                                                       \
      (evb_store * s, const char *org, const char *connection_id, const char *const *ids,          \
       size_t n_ids, int64_t start_ms, int64_t end_ms, int64_t now_ms, int64_t *count_out))        \
    X(evb_err, delivery_stats, (evb_store * s, int64_t now_ms, evb_delivery_stats * out))          \
    X(uint64_t, config_generation, (evb_store * s))                                                \
    X(void, set_remote_wake, (evb_store * s, evb_store_wake_fn fn, void *arg))

#define STORE_MEMBER_(ret, name, params) ret(*name) params;
typedef struct store_backend {
    const char *name; /* "sqlite", "postgres" */
    STORE_ENTRIES(STORE_MEMBER_)
} store_backend;

/* The first member of every backend's struct evb_store-compatible object. */
typedef struct store_head {
    const store_backend *be;
} store_head;

/* Backends (each defined in its own files). opt has been checked by evb_store_open. */
extern const store_backend store_sqlite_backend;
evb_err store_sqlite_open(const evb_store_options *opt, evb_store **out, evb_error *err);
extern const store_backend store_pg_backend;
evb_err store_pg_open(const evb_store_options *opt, evb_store **out, evb_error *err);

#endif
