/* evbridge — outbox figures for monitoring (store_stats.h).
 *
 * Two statements on a pooled reader, prepared per call (a scrape every few seconds does not
 * need a cached slot): a count per undelivered state through the deliveries_due index
 * (state, next_ms), and the minimum next_ms of due PENDING rows. Parked deliveries (waiting
 * behind an older one of their ordering key) have next_ms moved ahead, so they do not count
 * as due: the older one they wait for does.
 */
#include <sqlite3.h>
#include <string.h>

#include "server/store/store_int.h"
#include "server/store/store_stats.h"

evb_err sq_delivery_stats(evb_store *s, int64_t now_ms, evb_delivery_stats *out)
{
    if (s == NULL || out == NULL)
        return EVB_ERR_INVALID;
    memset(out, 0, sizeof *out);
    store_reader *r = NULL;
    evb_err e = store_reader_get(s, &r);
    if (e != EVB_OK)
        return e;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(r->db,
                                "SELECT state, count(*) FROM deliveries WHERE state IN "
                                "(0, 1, 2, 4) GROUP BY state",
                                -1, &st, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(st, 1);
        switch (sqlite3_column_int(st, 0)) {
        case 0: out->pending = n; break;
        case 1: out->held = n; break;
        case 2: out->in_flight = n; break;
        default: out->dead = n; break;
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_DONE)
        rc = sqlite3_prepare_v2(r->db,
                                "SELECT min(next_ms) FROM deliveries WHERE state = 0 AND "
                                "next_ms <= ?1",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, now_ms);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
            out->oldest_due_ms = sqlite3_column_int64(st, 0);
        if (rc == SQLITE_ROW)
            rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    store_reader_put(s, r);
    return rc == SQLITE_DONE ? EVB_OK : store_map_rc(rc);
}
