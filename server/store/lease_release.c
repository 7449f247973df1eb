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

evb_err evb_store_delivery_release_leases(evb_store *s, int64_t now_ms, int64_t *count_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    release_job x = {.sync.job.ops = &release_ops, .now_ms = now_ms};
    evb_err e = store_run_sync(s, &x.sync);
    if (e == EVB_OK && count_out != NULL)
        *count_out = x.count;
    return e;
}
