/* evbridge — the dispatcher's outbox (SQLite): claim due deliveries with a lease, complete
 * them with an attempt record, the next due time, attempts for traces. Contract in
 * store_dispatch.h.
 *
 * Claim is one writer job. It steps through at most 4 x limit due candidates in
 * (next_ms, rowid) order — PENDING ones from deliveries_due (state, next_ms), expired leases
 * from the partial index dispatch_leases — with the skipped connections filtered in SQL
 * (json_each of a JSON array), only as far as it needs, and takes them in order. A
 * candidate with an ordering key goes only if it is the head of its key: the oldest (rowid)
 * of the rows that block a key, which the partial index dispatch_heads holds alone
 * (PENDING, HELD, LEASED, strict DEAD), so that is one seek. A PENDING candidate that is
 * not its key's head is parked: next_ms moves PARK_MS ahead and park_ms keeps its due time,
 * so a long backlog behind one busy key neither fills every later scan (starving other
 * keys) nor keeps next_due in the past. A completion that takes a head out of the blocking
 * set (DELIVERED, DEAD without strict) unparks the key's new head (next_ms back to
 * park_ms); any other way a head leaves (a deleted connection) is covered by the park
 * expiring: the row is simply looked at again. Parks and leases are made after the scan,
 * each in ONE statement over the rowids (WHERE rowid IN json_each): per-row statements
 * journalled the same index pages once per row. (Their state test is written +state, so
 * the planner seeks the rowids instead of scanning deliveries_due for every PENDING and
 * LEASED row: a whole backlog per claim.) Leasing is an UPDATE ... RETURNING, so the
 * records come out of the same statement. Events are read after the commit on a reader,
 * in one read transaction: the writer only binds and steps.
 */
#include "server/store/store_dispatch.h"
#include "server/store/store_int.h"

#include "common/buf.h"

#include <stdlib.h>
#include <string.h>

#define CANDIDATES_PER_CLAIM STORE_CLAIM_CANDIDATES
#define STORE_DELIVERY_NCOLS 14 /* columns of STORE_DELIVERY_COLS */
#define PARK_MS STORE_PARK_MS

/* The rows that block an ordering key: must match dispatch_heads' WHERE (migrate.c step 4)
 * for the planner to use it (INDEXED BY makes a mismatch a prepare error, not a scan). */
#define HEAD_SET "ordering_key <> '' AND (state IN (0, 1, 2) OR (state = 4 AND strict = 1))"
#define HEAD_OF_KEY                                                                                \
    "SELECT rowid FROM deliveries INDEXED BY dispatch_heads WHERE connection_id = ?1 "             \
    "AND ordering_key = ?2 AND " HEAD_SET " ORDER BY rowid LIMIT 1"

/* ---- shared helpers ---- */

void evb_claim_array_free(evb_claim *cs, size_t n)
{
    if (cs == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        evb_delivery_rec_free(cs[i].delivery);
        evb_event_free(cs[i].event);
    }
    free(cs);
}

evb_err store_claims_load_events(evb_store *s, evb_claim *cs, size_t *n)
{
    if (*n == 0)
        return EVB_OK;
    store_reader *r = NULL;
    evb_err e = store_reader_get(s, &r);
    if (e != EVB_OK)
        return e;
    /* one read transaction for all of them, not one per event (each took and released
     * the WAL read lock: fcntl calls were a third of the loading) */
    int in_tx = sqlite3_exec(r->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK;
    size_t kept = 0;
    for (size_t i = 0; i < *n && e == EVB_OK; i++) {
        sqlite3_stmt *st = store_rstmt(
            r, RS_DISPATCH_EVENT, "SELECT " STORE_EVENT_COLS " FROM events WHERE seq = ?1", &e);
        if (st == NULL)
            break;
        sqlite3_bind_int64(st, 1, cs[i].delivery->event_seq);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
            e = store_event_from_row(st, &cs[i].event);
        else if (rc != SQLITE_DONE)
            e = store_map_rc(rc);
        sqlite3_reset(st);
        if (e != EVB_OK)
            break;
        if (cs[i].event == NULL) { /* gone with its event: drop it */
            evb_delivery_rec_free(cs[i].delivery);
            cs[i].delivery = NULL;
            continue;
        }
        if (kept != i) {
            cs[kept] = cs[i];
            cs[i] = (evb_claim){0};
        }
        kept++;
    }
    if (in_tx)
        sqlite3_exec(r->db, "COMMIT", NULL, NULL, NULL);
    store_reader_put(s, r);
    if (e != EVB_OK)
        return e;
    *n = kept;
    return EVB_OK;
}

/* ---- claim (writer job) ---- */

typedef struct claim_job {
    store_sync_job sync;
    int64_t now, lease_ms;
    int limit;
    const char *skip_json;
    int64_t *lease; /* limit slots: rows to lease, in candidate order */
    size_t n_lease;
    int64_t *park; /* CANDIDATES_PER_CLAIM x limit slots: rows to park */
    size_t n_park;
    evb_claim *claims; /* limit slots; delivery set, event NULL */
    size_t n_claims;
} claim_job;

static void claim_reset(store_job *j)
{
    claim_job *x = (claim_job *)j;
    for (size_t i = 0; i < x->n_claims; i++) {
        evb_delivery_rec_free(x->claims[i].delivery);
        x->claims[i].delivery = NULL;
    }
    x->n_claims = 0;
    x->n_lease = x->n_park = 0;
}

/* The due candidates, in (next_ms, rowid) order: PENDING ones, and LEASED ones whose lease
 * expired. Stepped only as far as the claim needs (nothing writes while it runs). */
static sqlite3_stmt *candidates(evb_store *s, const claim_job *x, evb_err *e)
{
    sqlite3_stmt *st = store_wstmt(
        s, WS_DISPATCH_CANDIDATES,
        "SELECT r, state, connection_id, ordering_key, next_ms FROM ("
        "SELECT rowid AS r, state, connection_id, ordering_key, next_ms FROM deliveries "
        "WHERE state = 0 AND next_ms <= ?1 "
        "AND connection_id NOT IN (SELECT value FROM json_each(?2)) "
        "ORDER BY next_ms, rowid LIMIT ?3) "
        "UNION ALL SELECT r, state, connection_id, ordering_key, next_ms FROM ("
        "SELECT rowid AS r, state, connection_id, ordering_key, next_ms "
        "FROM deliveries INDEXED BY dispatch_leases "
        "WHERE state = 2 AND lease_ms <= ?1 "
        "AND connection_id NOT IN (SELECT value FROM json_each(?2)) "
        "ORDER BY lease_ms LIMIT ?3) "
        "ORDER BY next_ms, r LIMIT ?3",
        e);
    if (st == NULL)
        return NULL;
    sqlite3_bind_int64(st, 1, x->now);
    store_bind_text(st, 2, x->skip_json);
    sqlite3_bind_int64(st, 3, (int64_t)x->limit * CANDIDATES_PER_CLAIM);
    return st;
}

/* A JSON array of the rowids (for json_each). */
static evb_err rowid_json(const int64_t *rowids, size_t n, evb_buf *b)
{
    evb_buf_init(b, 0);
    evb_err e = evb_buf_append(b, "[", 1);
    for (size_t i = 0; e == EVB_OK && i < n; i++)
        e = evb_buf_printf(b, "%s%lld", i ? "," : "", (long long)rowids[i]);
    if (e == EVB_OK)
        e = evb_buf_append(b, "]", 2); /* with the NUL */
    return e;
}

/* The rowid of the key's head (0 when the key has no blocking row). */
static evb_err key_head(evb_store *s, const char *connection_id, const char *key, int64_t *out)
{
    evb_err e = EVB_OK;
    sqlite3_stmt *st = store_wstmt(s, WS_DISPATCH_HEAD, HEAD_OF_KEY, &e);
    if (st == NULL)
        return e;
    store_bind_text(st, 1, connection_id);
    store_bind_text(st, 2, key);
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return store_map_rc(rc);
}

/* Parks x->park (PENDING rows whose key is blocked by an older one) in one statement. */
static evb_err park_all(evb_store *s, const claim_job *x)
{
    if (x->n_park == 0)
        return EVB_OK;
    evb_buf ids;
    evb_err e = rowid_json(x->park, x->n_park, &ids);
    sqlite3_stmt *st = e != EVB_OK ? NULL
                                   : store_wstmt(s, WS_DISPATCH_PARK,
                                                 "UPDATE deliveries SET park_ms = CASE WHEN "
                                                 "park_ms <> 0 THEN park_ms ELSE max(next_ms, 1) "
                                                 "END, next_ms = ?2 WHERE rowid IN (SELECT value "
                                                 "FROM json_each(?1)) AND +state = 0",
                                                 &e);
    if (st != NULL) {
        store_bind_text(st, 1, ids.data);
        sqlite3_bind_int64(st, 2, x->now + PARK_MS);
        e = store_map_rc(store_step_done(st));
    }
    evb_buf_fini(&ids);
    return e;
}

typedef struct lease_slot {
    int64_t rowid;
    size_t k; /* index into claim_job.lease */
} lease_slot;

static int cmp_slot(const void *a, const void *b)
{
    int64_t x = ((const lease_slot *)a)->rowid, y = ((const lease_slot *)b)->rowid;
    return x < y ? -1 : x > y;
}

/* Leases x->lease in ONE statement (a statement per row journalled the same index pages
 * once per row: ~3/4 of a claim's writer time at 500 rows); the records (as updated) go
 * to x->claims in candidate order. */
static evb_err lease_all(evb_store *s, claim_job *x)
{
    if (x->n_lease == 0)
        return EVB_OK;
    evb_buf ids;
    evb_err e = rowid_json(x->lease, x->n_lease, &ids);
    sqlite3_stmt *st = e != EVB_OK ? NULL
                                   : store_wstmt(s, WS_DISPATCH_LEASE,
                                                 "UPDATE deliveries SET state = 2, lease_ms = ?2, "
                                                 "attempts = attempts + 1, update_ms = ?3, "
                                                 "park_ms = 0 WHERE rowid IN (SELECT value FROM "
                                                 "json_each(?1)) AND +state IN (0, 2) "
                                                 "RETURNING " STORE_DELIVERY_COLS ", rowid",
                                                 &e);
    if (st == NULL) {
        evb_buf_fini(&ids);
        return e;
    }
    store_bind_text(st, 1, ids.data);
    sqlite3_bind_int64(st, 2, x->now + x->lease_ms);
    sqlite3_bind_int64(st, 3, x->now);
    /* RETURNING rows come in rowid order: each record goes to its candidate's slot */
    lease_slot *by_rowid = calloc(x->n_lease, sizeof *by_rowid);
    evb_delivery_rec **slot = calloc(x->n_lease, sizeof(evb_delivery_rec *));
    int rc = SQLITE_DONE;
    if (slot == NULL || by_rowid == NULL)
        e = EVB_ERR_NOMEM;
    for (size_t k = 0; e == EVB_OK && k < x->n_lease; k++)
        by_rowid[k] = (lease_slot){x->lease[k], k};
    if (e == EVB_OK)
        qsort(by_rowid, x->n_lease, sizeof *by_rowid, cmp_slot);
    while (e == EVB_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        lease_slot key = {sqlite3_column_int64(st, STORE_DELIVERY_NCOLS), 0};
        lease_slot *hit = bsearch(&key, by_rowid, x->n_lease, sizeof *by_rowid, cmp_slot);
        if (hit == NULL || slot[hit->k] != NULL)
            continue; /* not asked for: cannot happen */
        e = store_delivery_from_row(st, &slot[hit->k]);
    }
    free(by_rowid);
    if (rc == SQLITE_ROW) { /* stopped early (an error): run the statement to its end */
        rc = store_step_done(st);
    } else {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
    if (e == EVB_OK && rc != SQLITE_DONE && rc != SQLITE_OK)
        e = store_map_rc(rc);
    for (size_t k = 0; slot != NULL && k < x->n_lease; k++) {
        if (slot[k] == NULL)
            continue;
        if (e == EVB_OK)
            x->claims[x->n_claims++].delivery = slot[k];
        else
            evb_delivery_rec_free(slot[k]);
    }
    free(slot);
    evb_buf_fini(&ids);
    return e;
}

static evb_err claim_run(evb_store *s, store_job *j)
{
    claim_job *x = (claim_job *)j;
    x->n_lease = x->n_park = 0;
    evb_err e = EVB_OK;
    sqlite3_stmt *st = candidates(s, x, &e);
    if (st == NULL)
        return e;
    int rc = SQLITE_DONE;
    while (x->n_lease < (size_t)x->limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t rowid = sqlite3_column_int64(st, 0);
        const char *conn = (const char *)sqlite3_column_text(st, 2);
        const char *key = (const char *)sqlite3_column_text(st, 3);
        if (conn == NULL || key == NULL) {
            e = EVB_ERR_NOMEM;
            break;
        }
        if (key[0] != '\0') {
            /* PENDING and LEASED rows both block a key, so its head is the same whether or
             * not an earlier candidate of this claim is leased yet: leases and parks are
             * all made after the scan */
            int64_t head = 0;
            if ((e = key_head(s, conn, key, &head)) != EVB_OK)
                break;
            if (head != rowid) { /* an older one of its key is not done */
                if (sqlite3_column_int(st, 1) == EVB_DELIVERY_PENDING)
                    x->park[x->n_park++] = rowid;
                continue;
            }
        }
        x->lease[x->n_lease++] = rowid;
    }
    if (e == EVB_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = store_map_rc(rc);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (e == EVB_OK)
        e = park_all(s, x);
    if (e == EVB_OK)
        e = lease_all(s, x);
    return e;
}

static const store_job_ops claim_ops = {claim_run, claim_reset, store_sync_complete};

evb_err sq_delivery_claim(evb_store *s, int64_t now_ms, int64_t lease_ms, int limit,
                          const char *const *skip_connections, size_t n_skip, evb_claim **out,
                          size_t *n_out)
{
    if (s == NULL || !store_claim_args_ok(lease_ms, limit, skip_connections, n_skip, out, n_out))
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    claim_job x = {
        .sync = {.job = {.ops = &claim_ops}}, .now = now_ms, .lease_ms = lease_ms, .limit = limit};
    char *skip_json = NULL;
    evb_err e = store_json_str_array(skip_connections, n_skip, &skip_json);
    if (e != EVB_OK)
        return e;
    x.skip_json = skip_json;
    x.park = calloc((size_t)limit * CANDIDATES_PER_CLAIM, sizeof *x.park);
    x.claims = calloc((size_t)limit, sizeof *x.claims);
    x.lease = calloc((size_t)limit, sizeof *x.lease);
    if (x.park == NULL || x.claims == NULL || x.lease == NULL)
        e = EVB_ERR_NOMEM;
    if (e == EVB_OK)
        e = store_run_sync(s, &x.sync);
    free(skip_json);
    free(x.park);
    free(x.lease);
    size_t n = x.n_claims;
    if (e == EVB_OK)
        e = store_claims_load_events(s, x.claims, &n);
    if (e != EVB_OK || n == 0) {
        evb_claim_array_free(x.claims, e != EVB_OK ? x.n_claims : n);
        return e;
    }
    *out = x.claims;
    *n_out = n;
    return EVB_OK;
}

/* ---- complete (writer job) ---- */

typedef struct complete_job {
    store_sync_job sync;
    const char *id;
    const evb_attempt *a;
    int state;
    int64_t next_ms;
} complete_job;

/* The key's new head, when it is parked, goes back to its due time. */
static evb_err unpark_head(evb_store *s, const char *connection_id, const char *key)
{
    evb_err e = EVB_OK;
    sqlite3_stmt *st = store_wstmt(s, WS_DISPATCH_UNPARK,
                                   "UPDATE deliveries SET next_ms = park_ms, park_ms = 0 "
                                   "WHERE rowid = (" HEAD_OF_KEY ") AND state = 0 "
                                   "AND park_ms <> 0",
                                   &e);
    if (st == NULL)
        return e;
    store_bind_text(st, 1, connection_id);
    store_bind_text(st, 2, key);
    return store_map_rc(store_step_done(st));
}

static evb_err record_attempt(evb_store *s, const complete_job *x)
{
    evb_err e = EVB_OK;
    sqlite3_stmt *st = store_wstmt(
        s, WS_DISPATCH_ATTEMPT,
        "INSERT INTO delivery_attempts(delivery_id, attempt, time_ms, outcome, http_status, "
        "errcode, latency_ms, error) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &e);
    if (st == NULL)
        return e;
    const evb_attempt *a = x->a;
    store_bind_text(st, 1, x->id);
    sqlite3_bind_int(st, 2, a->attempt);
    sqlite3_bind_int64(st, 3, a->time_ms);
    store_bind_text(st, 4, a->outcome);
    sqlite3_bind_int(st, 5, a->http_status);
    sqlite3_bind_int64(st, 6, a->errcode);
    sqlite3_bind_int64(st, 7, a->latency_ms);
    store_bind_text(st, 8, a->error != NULL ? a->error : "");
    return store_map_rc(store_step_done(st));
}

/* Finds the delivery under this lease: a SELECT by id, then an UPDATE by rowid (an
 * UPDATE ... RETURNING builds an ephemeral table per statement: ~1/6 of a completion). */
static evb_err complete_run(evb_store *s, store_job *j)
{
    complete_job *x = (complete_job *)j;
    const evb_attempt *a = x->a;
    evb_err e = EVB_OK;
    sqlite3_stmt *st = store_wstmt(s, WS_DISPATCH_COMPLETE_FIND,
                                   "SELECT rowid, ordering_key, strict, connection_id "
                                   "FROM deliveries WHERE id = ?1 AND state = 2 AND attempts = ?2",
                                   &e);
    if (st == NULL)
        return e;
    store_bind_text(st, 1, x->id);
    sqlite3_bind_int(st, 2, a->attempt);
    int64_t rowid = 0;
    char *conn = NULL, *key = NULL;
    int ok = 1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rowid = sqlite3_column_int64(st, 0);
        const char *k = (const char *)sqlite3_column_text(st, 1);
        if (k != NULL && k[0] != '\0' &&
            store_complete_unblocks(x->state, sqlite3_column_int(st, 2))) {
            key = store_col_text(st, 1, &ok);
            conn = store_col_text(st, 3, &ok);
        }
    }
    if (rc == SQLITE_ROW || rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    e = !ok ? EVB_ERR_NOMEM : store_map_rc(rc);
    if (e == EVB_OK && rowid == 0)
        e = EVB_ERR_PRECONDITION; /* not this lease any more: nothing written */
    if (e == EVB_OK && (st = store_wstmt(s, WS_DISPATCH_COMPLETE,
                                         "UPDATE deliveries SET state = ?2, next_ms = CASE WHEN "
                                         "?2 = 0 THEN ?3 ELSE next_ms END, lease_ms = 0, "
                                         "last_status = ?4, last_error = ?5, update_ms = ?6 "
                                         "WHERE rowid = ?1",
                                         &e)) != NULL) {
        sqlite3_bind_int64(st, 1, rowid);
        sqlite3_bind_int(st, 2, x->state);
        sqlite3_bind_int64(st, 3, x->next_ms);
        sqlite3_bind_int64(st, 4, store_attempt_status(a));
        store_bind_text(st, 5, a->error != NULL ? a->error : "");
        sqlite3_bind_int64(st, 6, store_attempt_end_ms(a));
        e = store_map_rc(store_step_done(st));
    }
    if (e == EVB_OK)
        e = record_attempt(s, x);
    if (e == EVB_OK && key != NULL)
        e = unpark_head(s, conn, key);
    free(conn);
    free(key);
    return e;
}

static const store_job_ops complete_ops = {complete_run, NULL, store_sync_complete};

evb_err sq_delivery_complete(evb_store *s, const char *delivery_id, const evb_attempt *a,
                             int new_state, int64_t next_ms)
{
    if (s == NULL || !store_complete_args_ok(delivery_id, a, new_state))
        return EVB_ERR_INVALID;
    complete_job x = {.sync = {.job = {.ops = &complete_ops}},
                      .id = delivery_id,
                      .a = a,
                      .state = new_state,
                      .next_ms = next_ms};
    return store_run_sync(s, &x.sync);
}

/* The asynchronous form: the job owns copies of everything it records, rides the writer's
 * group commit with other jobs, and reports through cb on the writer thread. */
typedef struct complete_async_job {
    complete_job inner; /* first: the writer sees a store_job */
    store_attempt_copy copy;
    evb_store_complete_cb cb;
    void *arg;
} complete_async_job;

static void complete_async_done(evb_store *s, store_job *j, evb_err err)
{
    (void)s;
    complete_async_job *x = (complete_async_job *)j;
    if (x->cb != NULL)
        x->cb(x->arg, err);
    store_attempt_copy_fini(&x->copy);
    free(x);
}

static const store_job_ops complete_async_ops = {complete_run, NULL, complete_async_done};

evb_err sq_delivery_complete_async(evb_store *s, const char *delivery_id, const evb_attempt *a,
                                   int new_state, int64_t next_ms, evb_store_complete_cb cb,
                                   void *arg)
{
    if (s == NULL || !store_complete_args_ok(delivery_id, a, new_state))
        return EVB_ERR_INVALID;
    complete_async_job *x = calloc(1, sizeof *x);
    if (x == NULL)
        return EVB_ERR_NOMEM;
    if (store_attempt_copy_init(&x->copy, delivery_id, a) != EVB_OK) {
        free(x);
        return EVB_ERR_NOMEM;
    }
    x->inner.sync.job.ops = &complete_async_ops;
    x->inner.id = x->copy.id;
    x->inner.a = &x->copy.a;
    x->inner.state = new_state;
    x->inner.next_ms = next_ms;
    x->cb = cb;
    x->arg = arg;
    evb_err e = store_submit(s, &x->inner.sync.job);
    if (e != EVB_OK) {
        x->cb = NULL;
        complete_async_done(s, &x->inner.sync.job, e);
    }
    return e;
}

/* ---- reads ---- */

evb_err sq_delivery_next_due(evb_store *s, int64_t *next_ms_out)
{
    if (s == NULL || next_ms_out == NULL)
        return EVB_ERR_INVALID;
    *next_ms_out = INT64_MAX;
    store_reader *r = NULL;
    evb_err e = store_reader_get(s, &r);
    if (e != EVB_OK)
        return e;
    sqlite3_stmt *st = store_rstmt(r, RS_DISPATCH_NEXT_DUE,
                                   "SELECT min(m) FROM ("
                                   "SELECT min(next_ms) AS m FROM deliveries WHERE state = 0 "
                                   "UNION ALL SELECT min(lease_ms) FROM deliveries "
                                   "INDEXED BY dispatch_leases WHERE state = 2)",
                                   &e);
    if (st != NULL) {
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            if (sqlite3_column_type(st, 0) != SQLITE_NULL)
                *next_ms_out = sqlite3_column_int64(st, 0);
        } else {
            e = store_map_rc(rc == SQLITE_DONE ? SQLITE_INTERNAL : rc);
        }
        sqlite3_reset(st);
    }
    store_reader_put(s, r);
    return e;
}

void evb_attempt_rec_array_free(evb_attempt_rec *as, size_t n)
{
    if (as == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(as[i].outcome);
        free(as[i].error);
    }
    free(as);
}

static evb_err attempts_collect(sqlite3_stmt *st, evb_attempt_rec **out, size_t *n_out)
{
    evb_attempt_rec *as = NULL;
    size_t n = 0, cap = 0;
    evb_err e = EVB_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            evb_attempt_rec *g = realloc(as, ncap * sizeof(evb_attempt_rec));
            if (g == NULL) {
                e = EVB_ERR_NOMEM;
                break;
            }
            as = g;
            cap = ncap;
        }
        evb_attempt_rec *a = &as[n++];
        int ok = 1;
        a->attempt = sqlite3_column_int(st, 0);
        a->time_ms = sqlite3_column_int64(st, 1);
        a->outcome = store_col_text(st, 2, &ok);
        a->http_status = sqlite3_column_int(st, 3);
        a->errcode = sqlite3_column_int64(st, 4);
        a->latency_ms = sqlite3_column_int64(st, 5);
        a->error = store_col_text(st, 6, &ok);
        if (!ok) {
            e = EVB_ERR_NOMEM;
            break;
        }
    }
    if (e == EVB_OK && rc != SQLITE_DONE)
        e = store_map_rc(rc);
    if (e != EVB_OK) {
        evb_attempt_rec_array_free(as, n);
        return e;
    }
    *out = as;
    *n_out = n;
    return EVB_OK;
}

evb_err sq_delivery_attempts(evb_store *s, const char *delivery_id, evb_attempt_rec **out,
                             size_t *n_out)
{
    if (s == NULL || delivery_id == NULL || out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    store_reader *r = NULL;
    evb_err e = store_reader_get(s, &r);
    if (e != EVB_OK)
        return e;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(r->db,
                                "SELECT attempt, time_ms, outcome, http_status, errcode, "
                                "latency_ms, error FROM delivery_attempts WHERE delivery_id = ?1 "
                                "ORDER BY rowid",
                                -1, &st, NULL);
    if (rc != SQLITE_OK) {
        e = store_map_rc(rc);
    } else {
        store_bind_text(st, 1, delivery_id);
        e = attempts_collect(st, out, n_out);
    }
    sqlite3_finalize(st);
    store_reader_put(s, r);
    return e;
}
