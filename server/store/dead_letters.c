/* evbridge — dead letters (SQLite): list an org's DEAD deliveries newest first with their
 * events, and redrive them. Contract in store_dispatch.h.
 *
 * Both ride the partial indexes of step 4, dead_by_org (org, update_ms, id) and
 * dead_by_connection (connection_id, update_ms, id), which hold DEAD rows only: a page is a
 * backwards range scan from the token, and a redrive by time is a range of the same index.
 * The page token is "<update_ms>.<id>" of the last row returned; callers treat it as
 * opaque. A redrive by ids looks each id up by its key (the other terms are written +x so
 * the planner cannot prefer an org-wide scan) and is still confined to the org. Redrive is
 * one writer job, so a redriven delivery is due in the same commit that makes it PENDING.
 */
#include "server/store/store_dispatch.h"
#include "server/store/store_int.h"

#include <stdlib.h>

/* ---- list ---- */

/* Steps st into cs (at most limit rows; *more set when a further row exists). */
static evb_err list_collect(sqlite3_stmt *st, int limit, evb_claim *cs, size_t *n, int *more)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == (size_t)limit) {
            *more = 1;
            return EVB_OK;
        }
        evb_err e = store_delivery_from_row(st, &cs[*n].delivery);
        if (e != EVB_OK)
            return e;
        (*n)++;
    }
    return rc == SQLITE_DONE ? EVB_OK : store_map_rc(rc);
}

evb_err sq_dead_list(evb_store *s, const char *org, const char *connection_id, int limit,
                     const char *after_token, evb_claim **out, size_t *n_out, char **next_token_out)
{
    if (s == NULL || !store_dead_list_args_ok(org, limit, out, n_out, next_token_out))
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    *next_token_out = NULL;
    int64_t after_ms = 0;
    const char *after_id = NULL;
    evb_err e = store_dead_token_parse(after_token, &after_ms, &after_id);
    if (e != EVB_OK)
        return e;
    evb_claim *cs = calloc((size_t)limit, sizeof *cs);
    if (cs == NULL)
        return EVB_ERR_NOMEM;
    store_reader *r = NULL;
    e = store_reader_get(s, &r);
    if (e != EVB_OK) {
        free(cs);
        return e;
    }
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        r->db,
        connection_id != NULL
            ? "SELECT " STORE_DELIVERY_COLS " FROM deliveries WHERE connection_id = ?2 "
              "AND state = 4 AND org = ?1 AND (update_ms, id) < (?3, ?4) "
              "ORDER BY update_ms DESC, id DESC LIMIT ?5"
            : "SELECT " STORE_DELIVERY_COLS " FROM deliveries WHERE org = ?1 AND state = 4 "
              "AND (update_ms, id) < (?3, ?4) ORDER BY update_ms DESC, id DESC LIMIT ?5",
        -1, &st, NULL);
    size_t n = 0;
    int more = 0;
    if (rc != SQLITE_OK) {
        e = store_map_rc(rc);
    } else {
        store_bind_text(st, 1, org);
        store_bind_text(st, 2, connection_id);
        sqlite3_bind_int64(st, 3, after_ms);
        store_bind_text(st, 4, after_id);
        sqlite3_bind_int(st, 5, limit + 1);
        e = list_collect(st, limit, cs, &n, &more);
    }
    sqlite3_finalize(st);
    store_reader_put(s, r);

    /* The token comes from the last row read, even if its event turns out to be gone. */
    if (e == EVB_OK)
        e = store_dead_token_next(more, more ? cs[n - 1].delivery : NULL, next_token_out);
    size_t kept = n;
    if (e == EVB_OK)
        e = store_claims_load_events(s, cs, &kept);
    return store_dead_page_hand_out(e, cs, n, kept, out, n_out, next_token_out);
}

/* ---- redrive (writer job) ---- */

typedef struct redrive_job {
    store_sync_job sync;
    const char *org;
    const char *connection_id;
    const char *ids_json; /* NULL = all of the connection */
    int64_t start_ms, end_ms, now_ms;
    int64_t count; /* out */
} redrive_job;

#define REDRIVE_SET                                                                                \
    "UPDATE deliveries SET state = 0, next_ms = ?6, attempts = 0, lease_ms = 0, park_ms = 0, "     \
    "update_ms = ?6 WHERE "

static evb_err redrive_run(evb_store *s, store_job *j)
{
    redrive_job *x = (redrive_job *)j;
    x->count = 0;
    sqlite3_stmt *st = NULL;
    /* Rare: prepared per call. */
    int rc = sqlite3_prepare_v2(
        s->wdb,
        x->ids_json != NULL ? REDRIVE_SET "id IN (SELECT value FROM json_each(?3)) AND +org = ?1 "
                                          "AND +state = 4 AND (?2 IS NULL OR +connection_id = ?2) "
                                          "AND +update_ms >= ?4 AND +update_ms < ?5"
                            : REDRIVE_SET "connection_id = ?2 AND state = 4 AND org = ?1 "
                                          "AND update_ms >= ?4 AND update_ms < ?5",
        -1, &st, NULL);
    if (rc == SQLITE_OK) {
        store_bind_text(st, 1, x->org);
        store_bind_text(st, 2, x->connection_id);
        store_bind_text(st, 3, x->ids_json);
        sqlite3_bind_int64(st, 4, x->start_ms);
        sqlite3_bind_int64(st, 5, x->end_ms);
        sqlite3_bind_int64(st, 6, x->now_ms);
        rc = store_step_done(st);
        if (rc == SQLITE_OK)
            x->count = sqlite3_changes(s->wdb);
    }
    sqlite3_finalize(st);
    return store_map_rc(rc);
}

static void redrive_reset(store_job *j)
{
    ((redrive_job *)j)->count = 0;
}

static const store_job_ops redrive_ops = {redrive_run, redrive_reset, store_sync_complete};

evb_err sq_dead_redrive(evb_store *s, const char *org, const char *connection_id,
                        const char *const *ids, size_t n_ids, int64_t start_ms, int64_t end_ms,
                        int64_t now_ms, int64_t *count_out)
{
    if (s == NULL || !store_redrive_args_ok(org, connection_id, ids, n_ids, count_out))
        return EVB_ERR_INVALID;
    *count_out = 0;
    char *ids_json = NULL;
    if (n_ids > 0) {
        evb_err e = store_json_str_array(ids, n_ids, &ids_json);
        if (e != EVB_OK)
            return e;
    }
    redrive_job x = {.sync = {.job = {.ops = &redrive_ops}},
                     .org = org,
                     .connection_id = connection_id,
                     .ids_json = ids_json,
                     .start_ms = start_ms,
                     .end_ms = end_ms,
                     .now_ms = now_ms};
    evb_err e = store_run_sync(s, &x.sync);
    free(ids_json);
    if (e == EVB_OK)
        *count_out = x.count;
    return e;
}
