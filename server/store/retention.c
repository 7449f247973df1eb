/* evbridge — retention (SQLite): one batch of old events per call. See retention.h. */
#include "server/store/retention.h"

#include "server/store/store_int.h"

int64_t store_retention_ms(int64_t opt)
{
    return opt == 0 ? RETENTION_DEFAULT_MS : opt < 0 ? -1 : opt;
}

evb_err store_retention_purge(evb_store *s, int64_t now_ms, int *full)
{
    *full = 0;
    if (s->retention_ms < 0)
        return EVB_OK;
    evb_err e = EVB_OK;
    sqlite3_stmt *st = store_wstmt(s, WS_RETENTION_PURGE,
                                   "DELETE FROM events WHERE seq IN (" RETENTION_SELECT ")", &e);
    if (st == NULL)
        return e;
    sqlite3_bind_int64(st, 1, now_ms - s->retention_ms);
    sqlite3_bind_int(st, 2, RETENTION_BATCH);
    int rc = store_step_done(st);
    if (rc != SQLITE_OK)
        return store_map_rc(rc);
    *full = sqlite3_changes(s->wdb) >= RETENTION_BATCH;
    return EVB_OK;
}
