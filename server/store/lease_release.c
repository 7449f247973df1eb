/* evbridge — releasing the leases of a previous process at start.
 *
 * The SQLite store is opened by one process at a time (the lock file), so at start every
 * LEASED delivery belongs to a process that is gone: its transfers will never complete.
 * Making them PENDING again (due now) delivers them again at once instead of after the
 * lease (at-least-once; receivers deduplicate by delivery id). A multi-node backend must
 * not do this: other nodes' leases are alive.
 */
#include <sqlite3.h>

#include "server/store/store_dispatch.h"
#include "server/store/store_int.h"

typedef struct release_job {
    store_sync_job sync;
    int64_t now_ms;
    int64_t count;
} release_job;

static evb_err release_run(evb_store *s, store_job *j)
{
    release_job *x = (release_job *)j;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->wdb,
                                "UPDATE deliveries SET state = 0, next_ms = ?1, lease_ms = 0, "
                                "update_ms = ?1 WHERE state = 2",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, x->now_ms);
        rc = sqlite3_step(st);
        x->count = sqlite3_changes(s->wdb);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? EVB_OK : store_map_rc(rc);
}

static const store_job_ops release_ops = {.run = release_run, .complete = store_sync_complete};

evb_err sq_delivery_release_leases(evb_store *s, int64_t now_ms, int64_t *count_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    release_job x = {.sync.job.ops = &release_ops, .now_ms = now_ms};
    evb_err e = store_run_sync(s, &x.sync);
    if (e == EVB_OK && count_out != NULL)
        *count_out = x.count;
    return e;
}

/* ---- giving claims back (a dispatcher that claimed more than a limit allows) ---- */

typedef struct giveback_job {
    store_sync_job sync;
    const char *const *ids;
    const int *attempts;
    size_t n;
    int64_t next_ms;
} giveback_job;

static evb_err giveback_run(evb_store *s, store_job *j)
{
    giveback_job *x = (giveback_job *)j;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->wdb,
                                "UPDATE deliveries SET state = 0, next_ms = ?1, lease_ms = 0, "
                                "attempts = attempts - 1 "
                                "WHERE id = ?2 AND state = 2 AND attempts = ?3",
                                -1, &st, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < x->n; i++) {
        sqlite3_bind_int64(st, 1, x->next_ms);
        sqlite3_bind_text(st, 2, x->ids[i], -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, x->attempts[i]);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? sqlite3_reset(st) : rc;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? EVB_OK : store_map_rc(rc);
}

static const store_job_ops giveback_ops = {.run = giveback_run, .complete = store_sync_complete};

evb_err sq_delivery_give_back(evb_store *s, const char *const *ids, const int *attempts,
                                     size_t n, int64_t next_ms)
{
    if (s == NULL || (n > 0 && (ids == NULL || attempts == NULL)))
        return EVB_ERR_INVALID;
    if (n == 0)
        return EVB_OK;
    giveback_job x = {.sync.job.ops = &giveback_ops, .ids = ids, .attempts = attempts, .n = n,
                      .next_ms = next_ms};
    return store_run_sync(s, &x.sync);
}
