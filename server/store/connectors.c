/* evbridge — connectors (SQLite): create/update/delete through the writer, get/list
 * through the reader pool.
 *
 * Writes are synchronous wrappers over the write queue: the caller's thread encodes the
 * event types as JSON, queues a job and waits for its outcome, so metadata writes ride in
 * the same group commit as events. A connector's event types are one JSON array column,
 * encoded and decoded by store_common_meta.c (shared with PostgreSQL). Times are set here,
 * not by callers.
 */
#include "server/store/store_common_meta.h"
#include "server/store/store_int.h"

#include <stdlib.h>

#define CONN_COLS STORE_CONNECTOR_COLS

/* ---- writes ---- */

enum { OP_CREATE, OP_UPDATE, OP_DELETE };

typedef struct conn_job {
    store_sync_job sync;
    int op;
    const evb_connector *c;
    const char *name;
    const char *types_json;
} conn_job;

static evb_err conn_write(evb_store *s, conn_job *x, sqlite3_stmt *st)
{
    int64_t now = store_now_ms();
    store_bind_text(st, 1, x->c->name);
    store_bind_text(st, 2, x->c->display_name);
    store_bind_text(st, 3, x->c->isv);
    store_bind_text(st, 4, x->c->source);
    store_bind_text(st, 5, x->types_json);
    sqlite3_bind_int64(st, 6, now);
    int rc = store_step_done(st);
    if (rc != SQLITE_OK)
        return store_map_rc(rc);
    if (sqlite3_changes(s->wdb) == 0)
        return x->op == OP_CREATE ? EVB_ERR_EXISTS : EVB_ERR_NOT_FOUND;
    return EVB_OK;
}

static evb_err conn_run(evb_store *s, store_job *j)
{
    conn_job *x = (conn_job *)j;
    evb_err e = EVB_OK;
    sqlite3_stmt *st;
    switch (x->op) {
    case OP_CREATE:
        st = store_wstmt(s, WS_CONN_INSERT,
                         "INSERT INTO connectors(" CONN_COLS ") "
                         "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT(name) DO NOTHING",
                         &e);
        return st != NULL ? conn_write(s, x, st) : e;
    case OP_UPDATE:
        /* isv (?3) is bound but not used: a connector never changes owner. */
        st = store_wstmt(s, WS_CONN_UPDATE,
                         "UPDATE connectors SET display_name = ?2, source = ?4, types = ?5, "
                         "update_ms = ?6 WHERE name = ?1",
                         &e);
        return st != NULL ? conn_write(s, x, st) : e;
    default:
        st = store_wstmt(s, WS_CONN_DELETE, "DELETE FROM connectors WHERE name = ?1", &e);
        if (st == NULL)
            return e;
        store_bind_text(st, 1, x->name);
        int rc = store_step_done(st);
        if (rc != SQLITE_OK)
            return store_map_rc(rc);
        return sqlite3_changes(s->wdb) == 0 ? EVB_ERR_NOT_FOUND : EVB_OK;
    }
}

static const store_job_ops conn_ops = {conn_run, NULL, store_sync_complete};

static evb_err conn_submit(evb_store *s, int op, const evb_connector *c)
{
    if (s == NULL || !store_connector_ok(c))
        return EVB_ERR_INVALID;
    char *types = NULL;
    evb_err e = store_connector_types_encode(c, &types);
    if (e != EVB_OK)
        return e;
    conn_job x = {.sync = {.job = {.ops = &conn_ops}}, .op = op, .c = c, .types_json = types};
    e = store_config_run_sync(s, &x.sync);
    free(types);
    return e;
}

evb_err sq_connector_create(evb_store *s, const evb_connector *c)
{
    return conn_submit(s, OP_CREATE, c);
}

evb_err sq_connector_update(evb_store *s, const evb_connector *c)
{
    return conn_submit(s, OP_UPDATE, c);
}

evb_err sq_connector_delete(evb_store *s, const char *name)
{
    if (s == NULL || name == NULL)
        return EVB_ERR_INVALID;
    conn_job x = {.sync = {.job = {.ops = &conn_ops}}, .op = OP_DELETE, .name = name};
    return store_config_run_sync(s, &x.sync);
}

/* ---- reads ---- */

/* store_row_fn: a connector row into *(evb_connector **)slot. */
static evb_err conn_from_row(sqlite3_stmt *st, void *slot, void *arg)
{
    (void)arg;
    store_row r;
    store_row_sqlite(&r, st);
    return store_connector_from_row(&r, slot);
}

evb_err sq_connector_get(evb_store *s, const char *name, evb_connector **out)
{
    if (s == NULL || name == NULL || out == NULL)
        return EVB_ERR_INVALID;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = store_read_cached(s, RS_CONN_GET,
                                  "SELECT " CONN_COLS " FROM connectors WHERE name = ?1", &r, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, name);
    e = store_one_row(st, conn_from_row, NULL, out);
    store_reader_put(s, r);
    return e;
}

evb_err sq_connector_list(evb_store *s, const char *isv, evb_connector ***out, size_t *n_out)
{
    if (s == NULL || out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e =
        isv == NULL
            ? store_read_cached(s, RS_CONN_LIST_ALL,
                                "SELECT " CONN_COLS " FROM connectors ORDER BY name", &r, &st)
            : store_read_cached(s, RS_CONN_LIST_ISV,
                                "SELECT " CONN_COLS " FROM connectors WHERE isv = ?1 ORDER BY name",
                                &r, &st);
    if (e != EVB_OK)
        return e;
    if (isv != NULL)
        store_bind_text(st, 1, isv);
    void *cs = NULL;
    size_t n = 0;
    e = store_collect(st, sizeof(evb_connector *), 16, conn_from_row, NULL, &cs, &n);
    store_reader_put(s, r);
    if (e != EVB_OK) {
        evb_connector_array_free(cs, n);
        return e;
    }
    *out = cs;
    *n_out = n;
    return EVB_OK;
}
