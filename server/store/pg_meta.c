/* evbridge — PostgreSQL backend: connectors and API keys. Contracts in store.h.
 *
 * Writes are one configuration transaction each (pg_config_tx): the change and a NOTIFY on
 * the config channel commit together, so every other node bumps its configuration
 * generation (and its caches reload) once the change is visible. Each write is a single
 * statement whose own row locks settle races between nodes: creates are INSERT ... ON
 * CONFLICT DO NOTHING (nothing inserted: the name or key id is taken), updates and deletes
 * report a missing row by their row count, and a revoke sets the time only while it is
 * still 0, so the first revocation's time stays whichever node wins. Reads run on a pooled
 * connection outside any transaction. The argument checks, the connector's event types
 * JSON column and the row decoders are the SQLite backend's (store_common_meta.c). Lists
 * sort text with COLLATE "C", the byte order SQLite uses, whatever the database collation.
 */
#include "server/store/pg_common_meta.h"

#include "common/timeutil.h"

#include <stdlib.h>

/* ---- connectors ---- */

enum { OP_CREATE, OP_UPDATE, OP_DELETE };

typedef struct conn_tx {
    int op;
    const evb_connector *c; /* create, update */
    const char *name;       /* delete */
    const char *types_json;
} conn_tx;

static evb_err conn_run(pg_store *ps, PGconn *c, void *arg)
{
    (void)ps;
    const conn_tx *x = arg;
    pg_params p;
    pg_params_init(&p);
    int64_t changes = 0;
    evb_err e;
    if (x->op == OP_DELETE) {
        pg_p_text(&p, x->name);
        e = pg_cmd(c, "DELETE FROM connectors WHERE name = $1", &p, &changes);
        return e == EVB_OK && changes == 0 ? EVB_ERR_NOT_FOUND : e;
    }
    pg_p_text(&p, x->c->name);
    pg_p_text(&p, x->c->display_name);
    pg_p_text(&p, x->c->source);
    pg_p_text(&p, x->types_json);
    pg_p_i64(&p, evb_now_ms());
    if (x->op == OP_CREATE) {
        pg_p_text(&p, x->c->isv);
        e = pg_cmd(c,
                   "INSERT INTO connectors(" STORE_CONNECTOR_COLS ") "
                   "VALUES($1, $2, $6, $3, $4, $5::bigint, $5::bigint) "
                   "ON CONFLICT (name) DO NOTHING",
                   &p, &changes);
        return e == EVB_OK && changes == 0 ? EVB_ERR_EXISTS : e;
    }
    /* A connector never changes owner: isv is kept. */
    e = pg_cmd(c,
               "UPDATE connectors SET display_name = $2, source = $3, types = $4, "
               "update_ms = $5::bigint WHERE name = $1",
               &p, &changes);
    return e == EVB_OK && changes == 0 ? EVB_ERR_NOT_FOUND : e;
}

static evb_err conn_write(evb_store *s, int op, const evb_connector *c)
{
    if (!store_connector_ok(c))
        return EVB_ERR_INVALID;
    char *types = NULL;
    evb_err e = store_connector_types_encode(c, &types);
    if (e != EVB_OK)
        return e;
    conn_tx x = {.op = op, .c = c, .types_json = types};
    e = pg_config_tx(PG_STORE(s), 0, conn_run, &x);
    free(types);
    return e;
}

evb_err pg_connector_create(evb_store *s, const evb_connector *c)
{
    return conn_write(s, OP_CREATE, c);
}

evb_err pg_connector_update(evb_store *s, const evb_connector *c)
{
    return conn_write(s, OP_UPDATE, c);
}

evb_err pg_connector_delete(evb_store *s, const char *name)
{
    if (name == NULL)
        return EVB_ERR_INVALID;
    conn_tx x = {.op = OP_DELETE, .name = name};
    return pg_config_tx(PG_STORE(s), 0, conn_run, &x);
}

evb_err pg_connector_get(evb_store *s, const char *name, evb_connector **out)
{
    if (name == NULL || out == NULL)
        return EVB_ERR_INVALID;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, name);
    return pg_rec_get(PG_STORE(s),
                      "SELECT " STORE_CONNECTOR_COLS " FROM connectors WHERE name = $1", &p,
                      store_connector_from_row, out);
}

evb_err pg_connector_list(evb_store *s, const char *isv, evb_connector ***out, size_t *n_out)
{
    if (out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, isv);
    void *cs = NULL;
    size_t n = 0;
    evb_err e = pg_rec_list(PG_STORE(s),
                            "SELECT " STORE_CONNECTOR_COLS " FROM connectors "
                            "WHERE $1::text IS NULL OR isv = $1 ORDER BY name COLLATE \"C\"",
                            &p, sizeof(evb_connector *), store_connector_from_row, &cs, &n);
    if (e != EVB_OK) {
        evb_connector_array_free(cs, n);
        return e;
    }
    *out = cs;
    *n_out = n;
    return EVB_OK;
}

/* ---- API keys ---- */

typedef struct key_tx {
    const evb_api_key *k; /* create */
    int first_admin;      /* create only while no active admin key exists */
    const char *key_id;   /* revoke */
    int64_t revoke_ms;
} key_tx;

static evb_err key_create_run(pg_store *ps, PGconn *c, void *arg)
{
    (void)ps;
    const evb_api_key *k = ((const key_tx *)arg)->k;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, k->key_id);
    pg_p_text(&p, k->hash);
    pg_p_text(&p, k->role);
    pg_p_text(&p, k->scope != NULL ? k->scope : "");
    pg_p_text(&p, k->description);
    pg_p_i64(&p, k->create_ms > 0 ? k->create_ms : evb_now_ms());
    int64_t changes = 0;
    evb_err e = EVB_OK;
    if (((const key_tx *)arg)->first_admin) {
        /* Nodes starting together take turns (a transaction-scoped lock of ours), so each
         * sees the admin key a previous one committed. */
        e = pg_cmd(c, "SELECT pg_advisory_xact_lock(7453982212)", NULL, NULL);
        if (e == EVB_OK)
            e = pg_cmd(c,
                       "INSERT INTO api_keys(" STORE_KEY_COLS ") "
                       "SELECT $1, $2, $3, $4, $5, $6::bigint, 0 WHERE NOT EXISTS "
                       "(SELECT 1 FROM api_keys WHERE role = 'admin' AND revoke_ms = 0) "
                       "ON CONFLICT (key_id) DO NOTHING",
                       &p, &changes);
    } else {
        e = pg_cmd(c,
                   "INSERT INTO api_keys(" STORE_KEY_COLS ") "
                   "VALUES($1, $2, $3, $4, $5, $6::bigint, 0) "
                   "ON CONFLICT (key_id) DO NOTHING",
                   &p, &changes);
    }
    return e == EVB_OK && changes == 0 ? EVB_ERR_EXISTS : e;
}

static evb_err key_revoke_run(pg_store *ps, PGconn *c, void *arg)
{
    (void)ps;
    const key_tx *x = arg;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, x->key_id);
    pg_p_i64(&p, x->revoke_ms);
    /* One statement: revokes an active key, or finds the key already revoked (the first
     * time stays); no row at all means no such key. */
    PGresult *r = NULL;
    evb_err e = pg_exec(c,
                        "WITH u AS (UPDATE api_keys SET revoke_ms = $2::bigint "
                        "WHERE key_id = $1 AND revoke_ms = 0 RETURNING key_id) "
                        "SELECT 1 FROM u UNION ALL SELECT 1 FROM api_keys WHERE key_id = $1",
                        &p, &r);
    if (e == EVB_OK && PQntuples(r) == 0)
        e = EVB_ERR_NOT_FOUND;
    PQclear(r);
    return e;
}

evb_err pg_key_create(evb_store *s, const evb_api_key *k)
{
    if (!store_key_ok(k))
        return EVB_ERR_INVALID;
    key_tx x = {.k = k};
    return pg_config_tx(PG_STORE(s), 0, key_create_run, &x);
}

evb_err pg_key_create_first_admin(evb_store *s, const evb_api_key *k)
{
    if (!store_key_ok(k))
        return EVB_ERR_INVALID;
    key_tx x = {.k = k, .first_admin = 1};
    return pg_config_tx(PG_STORE(s), 0, key_create_run, &x);
}

evb_err pg_key_revoke(evb_store *s, const char *key_id, int64_t revoke_ms)
{
    if (key_id == NULL)
        return EVB_ERR_INVALID;
    key_tx x = {.key_id = key_id, .revoke_ms = revoke_ms > 0 ? revoke_ms : evb_now_ms()};
    return pg_config_tx(PG_STORE(s), 0, key_revoke_run, &x);
}

evb_err pg_key_get(evb_store *s, const char *key_id, evb_api_key **out)
{
    if (key_id == NULL || out == NULL)
        return EVB_ERR_INVALID;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, key_id);
    return pg_rec_get(PG_STORE(s), "SELECT " STORE_KEY_COLS " FROM api_keys WHERE key_id = $1", &p,
                      store_key_from_row, out);
}

evb_err pg_key_list(evb_store *s, int include_revoked, evb_api_key ***out, size_t *n_out)
{
    if (out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    pg_params p;
    pg_params_init(&p);
    pg_p_i64(&p, include_revoked != 0);
    void *ks = NULL;
    size_t n = 0;
    evb_err e = pg_rec_list(PG_STORE(s),
                            "SELECT " STORE_KEY_COLS " FROM api_keys "
                            "WHERE $1::int <> 0 OR revoke_ms = 0 "
                            "ORDER BY create_ms, key_id COLLATE \"C\"",
                            &p, sizeof(evb_api_key *), store_key_from_row, &ks, &n);
    if (e != EVB_OK) {
        evb_api_key_array_free(ks, n);
        return e;
    }
    *out = ks;
    *n_out = n;
    return EVB_OK;
}

evb_err pg_key_count_admin(evb_store *s, int64_t *out)
{
    if (out == NULL)
        return EVB_ERR_INVALID;
    PGresult *r = NULL;
    evb_err e =
        pg_query(PG_STORE(s),
                 "SELECT count(*) FROM api_keys WHERE role = 'admin' AND revoke_ms = 0", NULL, &r);
    if (e == EVB_OK)
        *out = pg_i64(r, 0, 0);
    PQclear(r);
    return e;
}
