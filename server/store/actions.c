/* evbridge — actions (SQLite): delivery targets registered by an ISV or an org. Contract in
 * store_routing.h.
 *
 * Writes are synchronous jobs on the writer queue (as connectors are), so each check and
 * its write are one step of the writer's transaction: "delete refuses while a connection
 * uses the action" cannot race a connection create. After a committed change the routing
 * generation is bumped (store_routing_run_sync), so routing snapshots notice. The target
 * configuration is JSON text the store keeps as given (it holds secrets: never logged).
 * Actions are few and rarely written: statements are prepared per call.
 */
#include "server/store/store_common_meta.h"
#include "server/store/store_int.h"
#include "server/store/store_routing.h"

#include <stdlib.h>

#define ACTION_COLS STORE_ACTION_COLS

/* ---- records ---- */

void evb_action_rec_free(evb_action_rec *a)
{
    if (a == NULL)
        return;
    free(a->name);
    free(a->isv);
    free(a->org);
    free(a->config);
    free(a->disabled_reason);
    free(a);
}

void evb_action_rec_array_free(evb_action_rec **as, size_t n)
{
    if (as == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        evb_action_rec_free(as[i]);
    free(as);
}

evb_err store_routing_run_sync(evb_store *s, store_sync_job *sj, const store_job_ops *ops)
{
    sj->job.ops = ops;
    evb_err e = store_config_run_sync(s, sj);
    if (e == EVB_OK)
        atomic_fetch_add(&s->routing_gen, 1);
    return e;
}

uint64_t sq_routing_generation(evb_store *s)
{
    return (uint64_t)atomic_load(&s->routing_gen);
}

/* ---- writes ---- */

enum { OP_CREATE, OP_UPDATE, OP_DISABLE, OP_DELETE };

typedef struct action_job {
    store_sync_job sync;
    int op;
    const evb_action_rec *a; /* create, update */
    const char *name;        /* disable, delete */
    int disabled;
    const char *reason;
} action_job;

static evb_err action_create(evb_store *s, const action_job *x)
{
    sqlite3_stmt *st = NULL;
    evb_err e =
        store_prepare(s->wdb,
                      "INSERT INTO actions(" ACTION_COLS ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                      "?8, ?8) ON CONFLICT(name) DO NOTHING",
                      &st);
    if (e != EVB_OK)
        return e;
    const evb_action_rec *a = x->a;
    int64_t now = store_now_ms();
    store_bind_text(st, 1, a->name);
    store_bind_text(st, 2, store_or_empty(a->isv));
    store_bind_text(st, 3, store_or_empty(a->org));
    sqlite3_bind_int(st, 4, a->kind);
    store_bind_text(st, 5, a->config != NULL ? a->config : "{}");
    sqlite3_bind_int(st, 6, a->disabled != 0);
    store_bind_text(st, 7, a->disabled ? store_or_empty(a->disabled_reason) : "");
    sqlite3_bind_int64(st, 8, a->create_ms > 0 ? a->create_ms : now);
    int changes = 0;
    e = store_exec_finalize(s, st, &changes);
    return e == EVB_OK && changes == 0 ? EVB_ERR_EXISTS : e;
}

static evb_err action_update(evb_store *s, const action_job *x)
{
    sqlite3_stmt *st = NULL;
    evb_err e = store_prepare(
        s->wdb, "UPDATE actions SET kind = ?2, config = ?3, update_ms = ?4 WHERE name = ?1", &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, x->a->name);
    sqlite3_bind_int(st, 2, x->a->kind);
    store_bind_text(st, 3, x->a->config != NULL ? x->a->config : "{}");
    sqlite3_bind_int64(st, 4, store_now_ms());
    int changes = 0;
    e = store_exec_finalize(s, st, &changes);
    return e == EVB_OK && changes == 0 ? EVB_ERR_NOT_FOUND : e;
}

static evb_err action_disable(evb_store *s, const action_job *x)
{
    sqlite3_stmt *st = NULL;
    evb_err e =
        store_prepare(s->wdb,
                      "UPDATE actions SET disabled = ?2, disabled_reason = ?3, update_ms = ?4 "
                      "WHERE name = ?1",
                      &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, x->name);
    sqlite3_bind_int(st, 2, x->disabled != 0);
    store_bind_text(st, 3, x->disabled ? store_or_empty(x->reason) : "");
    sqlite3_bind_int64(st, 4, store_now_ms());
    int changes = 0;
    e = store_exec_finalize(s, st, &changes);
    return e == EVB_OK && changes == 0 ? EVB_ERR_NOT_FOUND : e;
}

static evb_err action_delete(evb_store *s, const action_job *x)
{
    sqlite3_stmt *st = NULL;
    evb_err e = store_prepare(s->wdb, "DELETE FROM actions WHERE name = ?1", &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, x->name);
    int changes = 0;
    e = store_exec_finalize(s, st, &changes);
    if (e != EVB_OK)
        return e;
    if (changes == 0)
        return EVB_ERR_NOT_FOUND;
    /* Still in use: the job's savepoint rolls the delete back. */
    e = store_prepare(s->wdb, "SELECT 1 FROM connections WHERE action = ?1 LIMIT 1", &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, x->name);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW)
        return EVB_ERR_PRECONDITION;
    return rc == SQLITE_DONE ? EVB_OK : store_map_rc(rc);
}

static evb_err action_run(evb_store *s, store_job *j)
{
    action_job *x = (action_job *)j;
    switch (x->op) {
    case OP_CREATE:
        return action_create(s, x);
    case OP_UPDATE:
        return action_update(s, x);
    case OP_DISABLE:
        return action_disable(s, x);
    default:
        return action_delete(s, x);
    }
}

static const store_job_ops action_ops = {action_run, NULL, store_sync_complete};

evb_err sq_action_create(evb_store *s, const evb_action_rec *a)
{
    if (s == NULL || a == NULL || a->name == NULL)
        return EVB_ERR_INVALID;
    action_job x = {.op = OP_CREATE, .a = a};
    return store_routing_run_sync(s, &x.sync, &action_ops);
}

evb_err sq_action_update(evb_store *s, const evb_action_rec *a)
{
    if (s == NULL || a == NULL || a->name == NULL)
        return EVB_ERR_INVALID;
    action_job x = {.op = OP_UPDATE, .a = a};
    return store_routing_run_sync(s, &x.sync, &action_ops);
}

evb_err sq_action_set_disabled(evb_store *s, const char *name, int disabled, const char *reason)
{
    if (s == NULL || name == NULL)
        return EVB_ERR_INVALID;
    action_job x = {.op = OP_DISABLE, .name = name, .disabled = disabled, .reason = reason};
    return store_routing_run_sync(s, &x.sync, &action_ops);
}

evb_err sq_action_delete(evb_store *s, const char *name)
{
    if (s == NULL || name == NULL)
        return EVB_ERR_INVALID;
    action_job x = {.op = OP_DELETE, .name = name};
    return store_routing_run_sync(s, &x.sync, &action_ops);
}

/* ---- reads ---- */

/* store_row_fn: an action row into *(evb_action_rec **)slot. */
static evb_err rec_from_row(sqlite3_stmt *st, void *slot, void *arg)
{
    (void)arg;
    store_row r;
    store_row_sqlite(&r, st);
    return store_action_from_row(&r, slot);
}

evb_err sq_action_get(evb_store *s, const char *name, evb_action_rec **out)
{
    if (s == NULL || name == NULL || out == NULL)
        return EVB_ERR_INVALID;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = store_read_begin(s, "SELECT " ACTION_COLS " FROM actions WHERE name = ?1", &r, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, name);
    e = store_one_row(st, rec_from_row, NULL, out);
    store_read_end(s, r, st);
    return e;
}

evb_err sq_action_list(evb_store *s, const char *isv, const char *org, evb_action_rec ***out,
                       size_t *n_out)
{
    if (s == NULL || out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e =
        store_read_begin(s,
                         "SELECT " ACTION_COLS " FROM actions WHERE (?1 IS NULL OR isv = ?1) "
                         "AND (?2 IS NULL OR org = ?2) ORDER BY name",
                         &r, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, isv);
    store_bind_text(st, 2, org);
    void *as = NULL;
    size_t n = 0;
    e = store_collect(st, sizeof(evb_action_rec *), 16, rec_from_row, NULL, &as, &n);
    store_read_end(s, r, st);
    if (e != EVB_OK) {
        evb_action_rec_array_free(as, n);
        return e;
    }
    *out = as;
    *n_out = n;
    return EVB_OK;
}
