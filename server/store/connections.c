/* evbridge — connections (SQLite): an org's routing rules. Contract in store_routing.h.
 *
 * Writes are synchronous jobs on the writer queue, so a state change and what it does to
 * the connection's deliveries are one atomic step: becoming ENABLED (by set_state or by an
 * update) turns its HELD deliveries into PENDING, due now; a delete removes its PENDING
 * and HELD deliveries (delivered, dead and leased ones stay: traces, and a dispatcher may
 * be finishing a leased one). Since deliveries are created in the writer too, and their
 * state follows the stored connection state at that commit (deliveries.c), no delivery is
 * ever left held behind a resume. After a committed change the routing generation is
 * bumped. The settings are JSON text the store keeps as given. Statements are prepared per
 * call: connections are written rarely and read whole into routing snapshots.
 */
#include "server/store/store_common_meta.h"
#include "server/store/store_int.h"
#include "server/store/store_routing.h"

#include <stdlib.h>

#define CONNECTION_COLS STORE_CONNECTION_COLS

/* ---- records ---- */

void evb_connection_rec_free(evb_connection_rec *c)
{
    if (c == NULL)
        return;
    free(c->id);
    free(c->org);
    free(c->name);
    free(c->connector);
    free(c->action);
    free(c->config);
    free(c->state_reason);
    free(c);
}

void evb_connection_rec_array_free(evb_connection_rec **cs, size_t n)
{
    if (cs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        evb_connection_rec_free(cs[i]);
    free(cs);
}

/* ---- writes ---- */

enum { OP_CREATE, OP_UPDATE, OP_STATE, OP_DELETE };

typedef struct connection_job {
    store_sync_job sync;
    int op;
    const evb_connection_rec *c; /* create, update */
    const char *id;              /* state, delete */
    int state;
    const char *reason;
} connection_job;

/* HELD deliveries of the connection become PENDING, due now. */
static evb_err release_held(evb_store *s, const char *id, int64_t now)
{
    sqlite3_stmt *st = NULL;
    evb_err e = store_prepare(s->wdb,
                              "UPDATE deliveries SET state = ?2, next_ms = ?4, update_ms = ?4 "
                              "WHERE connection_id = ?1 AND state = ?3",
                              &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, id);
    sqlite3_bind_int(st, 2, EVB_DELIVERY_PENDING);
    sqlite3_bind_int(st, 3, EVB_DELIVERY_HELD);
    sqlite3_bind_int64(st, 4, now);
    int changes = 0;
    return store_exec_finalize(s, st, &changes);
}

static evb_err connection_create(evb_store *s, const connection_job *x)
{
    sqlite3_stmt *st = NULL;
    evb_err e =
        store_prepare(s->wdb,
                      "INSERT INTO connections(" CONNECTION_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, "
                      "?6, ?7, ?8, ?9, ?9) ON CONFLICT DO NOTHING",
                      &st);
    if (e != EVB_OK)
        return e;
    const evb_connection_rec *c = x->c;
    int64_t now = store_now_ms();
    store_bind_text(st, 1, c->id);
    store_bind_text(st, 2, c->org);
    store_bind_text(st, 3, c->name);
    store_bind_text(st, 4, c->connector);
    store_bind_text(st, 5, c->action);
    store_bind_text(st, 6, c->config != NULL ? c->config : "{}");
    sqlite3_bind_int(st, 7, c->state);
    store_bind_text(st, 8, store_or_empty(c->state_reason));
    sqlite3_bind_int64(st, 9, c->create_ms > 0 ? c->create_ms : now);
    int changes = 0;
    e = store_exec_finalize(s, st, &changes);
    return e == EVB_OK && changes == 0 ? EVB_ERR_EXISTS : e;
}

static evb_err connection_update(evb_store *s, const connection_job *x)
{
    sqlite3_stmt *st = NULL;
    evb_err e =
        store_prepare(s->wdb,
                      "UPDATE connections SET name = ?2, connector = ?3, action = ?4, config = ?5, "
                      "state = ?6, state_reason = ?7, update_ms = ?8 WHERE id = ?1",
                      &st);
    if (e != EVB_OK)
        return e;
    const evb_connection_rec *c = x->c;
    int64_t now = store_now_ms();
    store_bind_text(st, 1, c->id);
    store_bind_text(st, 2, c->name);
    store_bind_text(st, 3, c->connector);
    store_bind_text(st, 4, c->action);
    store_bind_text(st, 5, c->config != NULL ? c->config : "{}");
    sqlite3_bind_int(st, 6, c->state);
    store_bind_text(st, 7, store_or_empty(c->state_reason));
    sqlite3_bind_int64(st, 8, now);
    int changes = 0;
    e = store_exec_finalize(s, st, &changes);
    if (e == EVB_OK && changes == 0)
        return EVB_ERR_NOT_FOUND;
    if (e == EVB_OK && c->state == STORE_CONN_ENABLED)
        e = release_held(s, c->id, now);
    return e;
}

static evb_err connection_state(evb_store *s, const connection_job *x)
{
    sqlite3_stmt *st = NULL;
    evb_err e =
        store_prepare(s->wdb,
                      "UPDATE connections SET state = ?2, state_reason = ?3, update_ms = ?4 "
                      "WHERE id = ?1",
                      &st);
    if (e != EVB_OK)
        return e;
    int64_t now = store_now_ms();
    store_bind_text(st, 1, x->id);
    sqlite3_bind_int(st, 2, x->state);
    store_bind_text(st, 3, store_or_empty(x->reason));
    sqlite3_bind_int64(st, 4, now);
    int changes = 0;
    e = store_exec_finalize(s, st, &changes);
    if (e == EVB_OK && changes == 0)
        return EVB_ERR_NOT_FOUND;
    if (e == EVB_OK && x->state == STORE_CONN_ENABLED)
        e = release_held(s, x->id, now);
    return e;
}

static evb_err connection_delete(evb_store *s, const connection_job *x)
{
    sqlite3_stmt *st = NULL;
    evb_err e = store_prepare(s->wdb, "DELETE FROM connections WHERE id = ?1", &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, x->id);
    int changes = 0;
    e = store_exec_finalize(s, st, &changes);
    if (e != EVB_OK)
        return e;
    if (changes == 0)
        return EVB_ERR_NOT_FOUND;
    e = store_prepare(s->wdb,
                      "DELETE FROM deliveries WHERE connection_id = ?1 AND state IN (?2, ?3)", &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, x->id);
    sqlite3_bind_int(st, 2, EVB_DELIVERY_PENDING);
    sqlite3_bind_int(st, 3, EVB_DELIVERY_HELD);
    return store_exec_finalize(s, st, &changes);
}

static evb_err connection_run(evb_store *s, store_job *j)
{
    connection_job *x = (connection_job *)j;
    switch (x->op) {
    case OP_CREATE:
        return connection_create(s, x);
    case OP_UPDATE:
        return connection_update(s, x);
    case OP_STATE:
        return connection_state(s, x);
    default:
        return connection_delete(s, x);
    }
}

static const store_job_ops connection_ops = {connection_run, NULL, store_sync_complete};

evb_err sq_connection_create(evb_store *s, const evb_connection_rec *c)
{
    if (s == NULL || !store_connection_ok(c))
        return EVB_ERR_INVALID;
    connection_job x = {.op = OP_CREATE, .c = c};
    return store_routing_run_sync(s, &x.sync, &connection_ops);
}

evb_err sq_connection_update(evb_store *s, const evb_connection_rec *c)
{
    if (s == NULL || !store_connection_ok(c))
        return EVB_ERR_INVALID;
    connection_job x = {.op = OP_UPDATE, .c = c};
    return store_routing_run_sync(s, &x.sync, &connection_ops);
}

evb_err sq_connection_set_state(evb_store *s, const char *id, int state, const char *reason)
{
    if (s == NULL || id == NULL || !store_connection_state_ok(state))
        return EVB_ERR_INVALID;
    connection_job x = {.op = OP_STATE, .id = id, .state = state, .reason = reason};
    return store_routing_run_sync(s, &x.sync, &connection_ops);
}

evb_err sq_connection_delete(evb_store *s, const char *id)
{
    if (s == NULL || id == NULL)
        return EVB_ERR_INVALID;
    connection_job x = {.op = OP_DELETE, .id = id};
    return store_routing_run_sync(s, &x.sync, &connection_ops);
}

/* ---- reads ---- */

/* store_row_fn: a connection row into *(evb_connection_rec **)slot. */
static evb_err rec_from_row(sqlite3_stmt *st, void *slot, void *arg)
{
    (void)arg;
    store_row r;
    store_row_sqlite(&r, st);
    return store_connection_from_row(&r, slot);
}

/* Steps st (parameters bound) into a malloc'd array. */
static evb_err collect(sqlite3_stmt *st, evb_connection_rec ***out, size_t *n_out)
{
    void *cs = NULL;
    size_t n = 0;
    evb_err e = store_collect(st, sizeof(evb_connection_rec *), 16, rec_from_row, NULL, &cs, &n);
    if (e != EVB_OK) {
        evb_connection_rec_array_free(cs, n);
        return e;
    }
    *out = cs;
    *n_out = n;
    return EVB_OK;
}

evb_err sq_connection_get(evb_store *s, const char *id, evb_connection_rec **out)
{
    if (s == NULL || id == NULL || out == NULL)
        return EVB_ERR_INVALID;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e =
        store_read_begin(s, "SELECT " CONNECTION_COLS " FROM connections WHERE id = ?1", &r, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, id);
    e = store_one_row(st, rec_from_row, NULL, out);
    store_read_end(s, r, st);
    return e;
}

static evb_err list_sql(evb_store *s, const char *sql, const char *p1, const char *p2,
                        evb_connection_rec ***out, size_t *n_out)
{
    if (s == NULL || out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = store_read_begin(s, sql, &r, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, p1);
    store_bind_text(st, 2, p2);
    e = collect(st, out, n_out);
    store_read_end(s, r, st);
    return e;
}

evb_err sq_connection_list(evb_store *s, const char *org, const char *connector,
                           evb_connection_rec ***out, size_t *n_out)
{
    return list_sql(s,
                    "SELECT " CONNECTION_COLS " FROM connections WHERE (?1 IS NULL OR org = ?1) "
                    "AND (?2 IS NULL OR connector = ?2) ORDER BY org, name",
                    org, connector, out, n_out);
}

evb_err sq_connection_all(evb_store *s, evb_connection_rec ***out, size_t *n_out)
{
    return list_sql(s, "SELECT " CONNECTION_COLS " FROM connections ORDER BY id", NULL, NULL, out,
                    n_out);
}
