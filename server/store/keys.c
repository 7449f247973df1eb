/* evbridge — API keys (SQLite): create/revoke through the writer, get/list/count through the
 * reader pool.
 *
 * Only the hash of a key's secret is stored (the caller hashes). Revocation is a timestamp
 * set once: revoking a revoked key succeeds and keeps the first time, so a retried admin
 * call is harmless. Writes are synchronous wrappers over the write queue (see writer.c).
 */
#include "server/store/store_common_meta.h"
#include "server/store/store_int.h"

#include <stdlib.h>

#define KEY_COLS STORE_KEY_COLS

/* ---- writes ---- */

typedef struct key_job {
    store_sync_job sync;
    const evb_api_key *k; /* create */
    int first_admin;      /* create only while no active admin key exists */
    const char *key_id;   /* revoke */
    int64_t revoke_ms;
} key_job;

/* The first admin key: the writer runs one job at a time, so check and insert are atomic. */
#define FIRST_ADMIN_INSERT                                                                         \
    "INSERT INTO api_keys(" KEY_COLS ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, 0 WHERE NOT EXISTS "        \
    "(SELECT 1 FROM api_keys WHERE role = 'admin' AND revoke_ms = 0) "                             \
    "ON CONFLICT(key_id) DO NOTHING"

static evb_err key_create_run(evb_store *s, store_job *j)
{
    key_job *x = (key_job *)j;
    evb_err e = EVB_OK;
    sqlite3_stmt *st = NULL;
    if (x->first_admin)
        e = store_prepare(s->wdb, FIRST_ADMIN_INSERT, &st);
    else
        st = store_wstmt(s, WS_KEY_INSERT,
                         "INSERT INTO api_keys(" KEY_COLS ") "
                         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, 0) "
                         "ON CONFLICT(key_id) DO NOTHING",
                         &e);
    if (st == NULL)
        return e;
    const evb_api_key *k = x->k;
    store_bind_text(st, 1, k->key_id);
    store_bind_text(st, 2, k->hash);
    store_bind_text(st, 3, k->role);
    store_bind_text(st, 4, k->scope != NULL ? k->scope : "");
    store_bind_text(st, 5, k->description);
    sqlite3_bind_int64(st, 6, k->create_ms > 0 ? k->create_ms : store_now_ms());
    int changes = 0;
    if (x->first_admin) {
        e = store_exec_finalize(s, st, &changes);
    } else {
        int rc = store_step_done(st);
        e = store_map_rc(rc);
        changes = rc == SQLITE_OK ? sqlite3_changes(s->wdb) : 0;
    }
    return e == EVB_OK && changes == 0 ? EVB_ERR_EXISTS : e;
}

static evb_err key_revoke_run(evb_store *s, store_job *j)
{
    key_job *x = (key_job *)j;
    evb_err e = EVB_OK;
    sqlite3_stmt *st =
        store_wstmt(s, WS_KEY_REVOKE,
                    "UPDATE api_keys SET revoke_ms = ?2 WHERE key_id = ?1 AND revoke_ms = 0", &e);
    if (st == NULL)
        return e;
    store_bind_text(st, 1, x->key_id);
    sqlite3_bind_int64(st, 2, x->revoke_ms);
    int rc = store_step_done(st);
    if (rc != SQLITE_OK)
        return store_map_rc(rc);
    if (sqlite3_changes(s->wdb) > 0)
        return EVB_OK;
    /* Nothing changed: already revoked (fine) or no such key. */
    st = store_wstmt(s, WS_KEY_REVOKED_AT, "SELECT revoke_ms FROM api_keys WHERE key_id = ?1", &e);
    if (st == NULL)
        return e;
    store_bind_text(st, 1, x->key_id);
    rc = sqlite3_step(st);
    e = rc == SQLITE_ROW ? EVB_OK : rc == SQLITE_DONE ? EVB_ERR_NOT_FOUND : store_map_rc(rc);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return e;
}

static const store_job_ops key_create_ops = {key_create_run, NULL, store_sync_complete};
static const store_job_ops key_revoke_ops = {key_revoke_run, NULL, store_sync_complete};

evb_err sq_key_create(evb_store *s, const evb_api_key *k)
{
    if (s == NULL || !store_key_ok(k))
        return EVB_ERR_INVALID;
    key_job x = {.sync = {.job = {.ops = &key_create_ops}}, .k = k};
    return store_config_run_sync(s, &x.sync);
}

evb_err sq_key_create_first_admin(evb_store *s, const evb_api_key *k)
{
    if (!store_key_ok(k))
        return EVB_ERR_INVALID;
    key_job x = {.sync = {.job = {.ops = &key_create_ops}}, .k = k, .first_admin = 1};
    return store_config_run_sync(s, &x.sync);
}

evb_err sq_key_revoke(evb_store *s, const char *key_id, int64_t revoke_ms)
{
    if (s == NULL || key_id == NULL)
        return EVB_ERR_INVALID;
    key_job x = {.sync = {.job = {.ops = &key_revoke_ops}},
                 .key_id = key_id,
                 .revoke_ms = revoke_ms > 0 ? revoke_ms : store_now_ms()};
    return store_config_run_sync(s, &x.sync);
}

/* ---- reads ---- */

/* store_row_fn: an API key row into *(evb_api_key **)slot. */
static evb_err key_from_row(sqlite3_stmt *st, void *slot, void *arg)
{
    (void)arg;
    store_row r;
    store_row_sqlite(&r, st);
    return store_key_from_row(&r, slot);
}

evb_err sq_key_get(evb_store *s, const char *key_id, evb_api_key **out)
{
    if (s == NULL || key_id == NULL || out == NULL)
        return EVB_ERR_INVALID;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = store_read_cached(s, RS_KEY_GET,
                                  "SELECT " KEY_COLS " FROM api_keys WHERE key_id = ?1", &r, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, key_id);
    e = store_one_row(st, key_from_row, NULL, out);
    store_reader_put(s, r);
    return e;
}

evb_err sq_key_list(evb_store *s, int include_revoked, evb_api_key ***out, size_t *n_out)
{
    if (s == NULL || out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = include_revoked
                    ? store_read_cached(
                          s, RS_KEY_LIST_ALL,
                          "SELECT " KEY_COLS " FROM api_keys ORDER BY create_ms, key_id", &r, &st)
                    : store_read_cached(s, RS_KEY_LIST_ACTIVE,
                                        "SELECT " KEY_COLS " FROM api_keys WHERE revoke_ms = 0 "
                                        "ORDER BY create_ms, key_id",
                                        &r, &st);
    if (e != EVB_OK)
        return e;
    void *ks = NULL;
    size_t n = 0;
    e = store_collect(st, sizeof(evb_api_key *), 16, key_from_row, NULL, &ks, &n);
    store_reader_put(s, r);
    if (e != EVB_OK) {
        evb_api_key_array_free(ks, n);
        return e;
    }
    *out = ks;
    *n_out = n;
    return EVB_OK;
}

evb_err sq_key_count_admin(evb_store *s, int64_t *out)
{
    if (s == NULL || out == NULL)
        return EVB_ERR_INVALID;
    return store_read_int64(s, RS_KEY_COUNT_ADMIN,
                            "SELECT count(*) FROM api_keys WHERE role = 'admin' AND revoke_ms = 0",
                            out);
}
