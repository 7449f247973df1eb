/* evbridge — PostgreSQL backend: the dispatcher's outbox. Claim due deliveries with a
 * lease, complete them with an attempt record, give claims back, the next due time, replay.
 * Contract in store_dispatch.h; the SQLite reference is dispatch.c, lease_release.c and
 * replay.c, whose parking scheme this follows.
 *
 * Several nodes claim from one table. A claim is one transaction (READ COMMITTED, so each
 * statement sees what has committed when it starts):
 *  1. the due candidates — at most 4 x limit, in (next_ms, rid) order, PENDING ones from
 *     deliveries_due and expired leases from dispatch_leases, skipped connections filtered
 *     in SQL — are read FOR UPDATE SKIP LOCKED: rows another node is claiming are passed
 *     over, and a row whose latest version is no longer due is dropped, so two nodes never
 *     hold the same candidate and only a due row can be leased;
 *  2. for the ordering keys among them, the key lock (pg_dispatch_int.h) is TRIED
 *     exclusively — a key some writer is inserting into or unblocking right now is skipped
 *     this time — then, in the next statement (a snapshot taken after the locks), each
 *     key's head: the oldest (rid) of its blocking rows (PENDING, HELD, LEASED, strict
 *     DEAD; the partial index dispatch_heads). Leasing or parking does not change a head,
 *     so the heads hold for the whole claim;
 *  3. taken in order up to `limit`: a keyless candidate, or one that is its key's head, is
 *     leased; a PENDING one behind another head is parked (next_ms PARK_MS ahead, its due
 *     time kept in park_ms) exactly as SQLite does; one whose key was busy is left alone;
 *  4. one UPDATE ... RETURNING leases them all, one UPDATE parks the others.
 * The events are read after the commit (a claim whose event was purged meanwhile is left
 * out). A completion runs as one transaction (delivery_complete, pg_tx) or inside a writer
 * batch (delivery_complete_async, a pg_job): one statement checks the lease (attempts = the
 * claim's, state LEASED), moves the row, records the attempt and, when this unblocks the
 * key, takes the key lock shared; the next statement unparks the key's new head (after any
 * claim that held the key has committed) and new due work is announced
 * (pg_notify_deliveries / j->wakes) when that put one back. Consecutive asynchronous
 * completions of one writer batch share that first statement (run_many: the values as a
 * JSON recordset); a lease lost among them makes the writer rerun them one by one.
 * delivery_release_leases does nothing here: the database is shared, and a LEASED row may
 * belong to a live node; a dead node's leases simply expire.
 */
#include "server/store/pg_dispatch_int.h"
#include "server/store/pg_events_int.h"
#include "server/store/store_common_dispatch.h"

#include "common/timeutil.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

/* The rows that block an ordering key: dispatch_heads' WHERE (pg_migrate.c), so the head
 * seek can use it. */
#define HEAD_SET "ordering_key <> '' AND (state IN (0, 1, 2) OR (state = 4 AND strict = 1))"

/* ---- helpers ---- */

/* A bigint[] literal "{1,2,3}" of v (malloc'd; NULL when out of memory). */
static char *bigint_array(const int64_t *v, size_t n)
{
    size_t cap = n * 21 + 3, k = 0;
    char *s = malloc(cap);
    if (s == NULL)
        return NULL;
    s[k++] = '{';
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(s + k, cap - k, "%s%" PRId64, i > 0 ? "," : "", v[i]);
    snprintf(s + k, cap - k, "}");
    return s;
}

/* Rows of a result by the integer in one column, for lookups. */
typedef struct row_ix {
    int64_t key;
    int row;
} row_ix;

static int row_ix_cmp(const void *a, const void *b)
{
    int64_t x = ((const row_ix *)a)->key, y = ((const row_ix *)b)->key;
    return x < y ? -1 : x > y;
}

/* The rows of r sorted by column col (malloc'd; NULL when r has none or out of memory:
 * *ok cleared then). */
static row_ix *index_rows(const PGresult *r, int col, int *ok)
{
    int n = PQntuples(r);
    if (n == 0)
        return NULL;
    row_ix *ix = malloc((size_t)n * sizeof *ix);
    if (ix == NULL) {
        *ok = 0;
        return NULL;
    }
    for (int i = 0; i < n; i++)
        ix[i] = (row_ix){pg_i64(r, i, col), i};
    qsort(ix, (size_t)n, sizeof *ix, row_ix_cmp);
    return ix;
}

/* The row whose key is v, -1 when none. */
static int find_row(const row_ix *ix, int n, int64_t v)
{
    row_ix k = {v, 0};
    const row_ix *f = n > 0 ? bsearch(&k, ix, (size_t)n, sizeof *ix, row_ix_cmp) : NULL;
    return f != NULL ? f->row : -1;
}

evb_err pg_claims_load_events(pg_store *ps, evb_claim *cs, size_t *n)
{
    if (*n == 0)
        return EVB_OK;
    int64_t *seqs = malloc(*n * sizeof *seqs);
    if (seqs == NULL)
        return EVB_ERR_NOMEM;
    for (size_t i = 0; i < *n; i++)
        seqs[i] = cs[i].delivery->event_seq;
    char *arr = bigint_array(seqs, *n);
    free(seqs);
    if (arr == NULL)
        return EVB_ERR_NOMEM;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, arr);
    PGresult *r = NULL;
    evb_err e = pg_query(
        ps, "SELECT " STORE_EVENT_COLS " FROM events WHERE seq = ANY($1::bigint[])", &p, &r);
    free(arr);
    if (e != EVB_OK)
        return e;
    int ok = 1;
    row_ix *ix = index_rows(r, 0, &ok);
    e = ok ? EVB_OK : EVB_ERR_NOMEM;
    size_t kept = 0;
    for (size_t i = 0; i < *n && e == EVB_OK; i++) {
        int row = find_row(ix, PQntuples(r), cs[i].delivery->event_seq);
        if (row < 0) { /* gone with its event: drop it */
            evb_delivery_rec_free(cs[i].delivery);
            cs[i].delivery = NULL;
            continue;
        }
        e = pg_event_from_row(r, row, 0, &cs[i].event);
        if (e != EVB_OK)
            break;
        if (kept != i) {
            cs[kept] = cs[i];
            cs[i] = (evb_claim){0};
        }
        kept++;
    }
    free(ix);
    PQclear(r);
    if (e == EVB_OK)
        *n = kept;
    return e;
}

/* ---- claim (one transaction) ---- */

/* $1 now, $2 skipped connections (JSON array), $3 the number of candidates. */
static const char CANDIDATES_SQL[] =
    "WITH p AS MATERIALIZED (SELECT rid, state, connection_id, ordering_key, next_ms "
    "FROM deliveries WHERE state = 0 AND next_ms <= $1::bigint "
    "AND connection_id NOT IN (SELECT json_array_elements_text($2::json)) "
    "ORDER BY next_ms, rid LIMIT $3::bigint FOR UPDATE SKIP LOCKED), "
    "l AS MATERIALIZED (SELECT rid, state, connection_id, ordering_key, next_ms "
    "FROM deliveries WHERE state = 2 AND lease_ms <= $1::bigint "
    "AND connection_id NOT IN (SELECT json_array_elements_text($2::json)) "
    "ORDER BY lease_ms LIMIT $3::bigint FOR UPDATE SKIP LOCKED) "
    "SELECT rid, state, connection_id, ordering_key FROM "
    "(SELECT * FROM p UNION ALL SELECT * FROM l) c ORDER BY next_ms, rid LIMIT $3::bigint";

/* $1 the keyed candidates as [{"i": index, "c": connection, "k": key}]. */
#define KEYS_FROM "FROM json_to_recordset($1::json) AS q(i int, c text, k text)"
static const char KEY_LOCKS_SQL[] =
    "SELECT q.i " KEYS_FROM " WHERE pg_try_advisory_xact_lock(" PG_KEY_LOCK_ID("q.c", "q.k") ")";
static const char KEY_HEADS_SQL[] =
    "SELECT q.i, (SELECT rid FROM deliveries WHERE connection_id = q.c AND ordering_key = q.k "
    "AND " HEAD_SET " ORDER BY rid LIMIT 1) " KEYS_FROM;

typedef struct claim_tx {
    int64_t now, lease_ms;
    int limit;
    const char *skip_json;
    /* per candidate (reset each run) */
    int *locked;
    int64_t *head;
    int64_t *lease, *park;
    size_t n_lease, n_park;
    /* out: limit slots; delivery set, event NULL */
    evb_claim *claims;
    size_t n_claims;
} claim_tx;

static void claim_clear(claim_tx *x)
{
    for (size_t i = 0; i < x->n_claims; i++) {
        evb_delivery_rec_free(x->claims[i].delivery);
        x->claims[i].delivery = NULL;
    }
    x->n_claims = 0;
    x->n_lease = x->n_park = 0;
}

/* The keyed candidates of r as KEYS_FROM's JSON (*out NULL when there are none). */
static evb_err keys_json(const PGresult *r, char **out)
{
    *out = NULL;
    json_t *a = json_array();
    if (a == NULL)
        return EVB_ERR_NOMEM;
    evb_err e = EVB_OK;
    for (int i = 0; i < PQntuples(r) && e == EVB_OK; i++) {
        const char *key = PQgetvalue(r, i, 3);
        if (key[0] == '\0')
            continue;
        json_t *o = json_pack("{s:i, s:s, s:s}", "i", i, "c", PQgetvalue(r, i, 2), "k", key);
        if (o == NULL || json_array_append_new(a, o) != 0)
            e = EVB_ERR_NOMEM;
    }
    if (e == EVB_OK && json_array_size(a) > 0) {
        *out = json_dumps(a, JSON_COMPACT);
        if (*out == NULL)
            e = EVB_ERR_NOMEM;
    }
    json_decref(a);
    return e;
}

/* Fills x->locked and x->head for the keyed candidates of cands (step 2). */
static evb_err key_heads(PGconn *c, claim_tx *x, const PGresult *cands)
{
    char *keys = NULL;
    evb_err e = keys_json(cands, &keys);
    if (e != EVB_OK || keys == NULL)
        return e;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, keys);
    PGresult *r = NULL;
    e = pg_exec(c, KEY_LOCKS_SQL, &p, &r);
    for (int i = 0; e == EVB_OK && i < PQntuples(r); i++)
        x->locked[pg_i64(r, i, 0)] = 1;
    PQclear(r);
    r = NULL;
    if (e == EVB_OK) /* a statement of its own: its snapshot follows the locks */
        e = pg_exec(c, KEY_HEADS_SQL, &p, &r);
    for (int i = 0; e == EVB_OK && i < PQntuples(r); i++)
        x->head[pg_i64(r, i, 0)] = pg_i64(r, i, 1); /* 0 (NULL): no blocking row */
    PQclear(r);
    free(keys);
    return e;
}

/* Runs an UPDATE of the rids ($1) with $2.. the n_vals values; *res as pg_exec. */
static evb_err update_rids(PGconn *c, const char *sql, const int64_t *rids, size_t n,
                           const int64_t *vals, int n_vals, PGresult **res)
{
    char *arr = bigint_array(rids, n);
    if (arr == NULL)
        return EVB_ERR_NOMEM;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, arr);
    for (int i = 0; i < n_vals; i++)
        pg_p_i64(&p, vals[i]);
    evb_err e = pg_exec(c, sql, &p, res);
    free(arr);
    return e;
}

/* Step 4: leases x->lease (records into x->claims, in candidate order), parks x->park. */
static evb_err lease_and_park(PGconn *c, claim_tx *x)
{
    evb_err e = EVB_OK;
    const int64_t park_vals[] = {x->now + STORE_PARK_MS};
    if (x->n_park > 0)
        e = update_rids(c,
                        "UPDATE deliveries SET park_ms = CASE WHEN park_ms <> 0 THEN park_ms "
                        "ELSE greatest(next_ms, 1) END, next_ms = $2::bigint "
                        "WHERE rid = ANY($1::bigint[]) AND state = 0",
                        x->park, x->n_park, park_vals, 1, NULL);
    if (e != EVB_OK || x->n_lease == 0)
        return e;
    const int64_t lease_vals[] = {x->now + x->lease_ms, x->now};
    PGresult *r = NULL;
    e = update_rids(c,
                    "UPDATE deliveries SET state = 2, lease_ms = $2::bigint, "
                    "attempts = attempts + 1, update_ms = $3::bigint, park_ms = 0 "
                    "WHERE rid = ANY($1::bigint[]) AND state IN (0, 2) "
                    "RETURNING rid, " STORE_DELIVERY_COLS,
                    x->lease, x->n_lease, lease_vals, 2, &r);
    if (e != EVB_OK)
        return e;
    int ok = 1;
    row_ix *ix = index_rows(r, 0, &ok);
    e = ok ? EVB_OK : EVB_ERR_NOMEM;
    for (size_t i = 0; i < x->n_lease && e == EVB_OK; i++) {
        int row = find_row(ix, PQntuples(r), x->lease[i]);
        if (row >= 0 &&
            (e = pg_delivery_from_row(r, row, 1, &x->claims[x->n_claims].delivery)) == EVB_OK)
            x->n_claims++;
    }
    free(ix);
    PQclear(r);
    return e;
}

static evb_err claim_run(pg_store *ps, PGconn *c, void *arg)
{
    (void)ps;
    claim_tx *x = arg;
    claim_clear(x);
    size_t cap = (size_t)x->limit * STORE_CLAIM_CANDIDATES;
    pg_params p;
    pg_params_init(&p);
    pg_p_i64(&p, x->now);
    pg_p_text(&p, x->skip_json);
    pg_p_i64(&p, (int64_t)cap);
    PGresult *r = NULL;
    evb_err e = pg_exec(c, CANDIDATES_SQL, &p, &r);
    if (e != EVB_OK)
        return e;
    int n = PQntuples(r);
    for (size_t i = 0; i < cap; i++) {
        x->locked[i] = 0;
        x->head[i] = 0;
    }
    e = key_heads(c, x, r);
    for (int i = 0; e == EVB_OK && i < n && x->n_lease < (size_t)x->limit; i++) {
        int64_t rid = pg_i64(r, i, 0);
        if (PQgetvalue(r, i, 3)[0] != '\0') {
            if (!x->locked[i]) /* a writer is changing this key: next time */
                continue;
            if (x->head[i] != rid) { /* an older one of its key is not done */
                if (pg_i64(r, i, 1) == EVB_DELIVERY_PENDING)
                    x->park[x->n_park++] = rid;
                continue;
            }
        }
        x->lease[x->n_lease++] = rid;
    }
    PQclear(r);
    if (e == EVB_OK)
        e = lease_and_park(c, x);
    return e;
}

evb_err pg_delivery_claim(evb_store *s, int64_t now_ms, int64_t lease_ms, int limit,
                          const char *const *skip_connections, size_t n_skip, evb_claim **out,
                          size_t *n_out)
{
    if (!store_claim_args_ok(lease_ms, limit, skip_connections, n_skip, out, n_out))
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    char *skip_json = NULL;
    evb_err e = store_json_str_array(skip_connections, n_skip, &skip_json);
    if (e != EVB_OK)
        return e;
    size_t cap = (size_t)limit * STORE_CLAIM_CANDIDATES;
    claim_tx x = {.now = now_ms, .lease_ms = lease_ms, .limit = limit, .skip_json = skip_json};
    x.locked = calloc(cap, sizeof *x.locked);
    x.head = calloc(cap, sizeof *x.head);
    x.lease = calloc(cap, sizeof *x.lease);
    x.park = calloc(cap, sizeof *x.park);
    x.claims = calloc((size_t)limit, sizeof *x.claims);
    if (x.locked == NULL || x.head == NULL || x.lease == NULL || x.park == NULL || x.claims == NULL)
        e = EVB_ERR_NOMEM;
    if (e == EVB_OK)
        e = pg_tx(PG_STORE(s), claim_run, &x);
    free(skip_json);
    free(x.locked);
    free(x.head);
    free(x.lease);
    free(x.park);
    size_t n = x.n_claims;
    if (e == EVB_OK)
        e = pg_claims_load_events(PG_STORE(s), x.claims, &n);
    if (e != EVB_OK || n == 0) {
        evb_claim_array_free(x.claims, e != EVB_OK ? x.n_claims : n);
        return e;
    }
    *out = x.claims;
    *n_out = n;
    return EVB_OK;
}

/* ---- complete ---- */

typedef struct complete_args {
    const char *id;
    const evb_attempt *a;
    int state;
    int64_t next_ms;
} complete_args;

/* $1 id, $2 new state, $3 next_ms, $4 last_status, $5 error, $6 end of the attempt,
 * $7 attempt, $8 time_ms, $9 outcome, $10 http_status, $11 errcode, $12 latency_ms. The
 * attempt row is inserted only when the lease matched; when the completion unblocks the
 * delivery's key (DELIVERED, or DEAD without strict), the key's lock is taken shared. */
static const char COMPLETE_SQL[] =
    "WITH u AS (UPDATE deliveries SET state = $2::int, "
    "next_ms = CASE WHEN $2::int = 0 THEN $3::bigint ELSE next_ms END, lease_ms = 0, "
    "last_status = $4::bigint, last_error = $5::text, update_ms = $6::bigint "
    "WHERE id = $1::text AND state = 2 AND attempts = $7::int "
    "RETURNING connection_id, ordering_key, strict), "
    "a AS (INSERT INTO delivery_attempts(delivery_id, attempt, time_ms, outcome, http_status, "
    "errcode, latency_ms, error) SELECT $1::text, $7::int, $8::bigint, $9::text, $10::int, "
    "$11::bigint, $12::bigint, $5::text FROM u) "
    "SELECT connection_id, ordering_key, strict, CASE WHEN ordering_key <> '' AND "
    "($2::int = 3 OR ($2::int = 4 AND strict = 0)) "
    "THEN " PG_KEY_LOCKED_SHARED("connection_id", "ordering_key") " END FROM u";

/* The key's new head, when it is parked, goes back to its due time. *changes: 1 if so. */
static evb_err unpark_head(PGconn *c, const char *connection_id, const char *key, int64_t *changes)
{
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, connection_id);
    pg_p_text(&p, key);
    return pg_cmd(c,
                  "UPDATE deliveries SET next_ms = park_ms, park_ms = 0 WHERE rid = "
                  "(SELECT rid FROM deliveries WHERE connection_id = $1::text "
                  "AND ordering_key = $2::text AND " HEAD_SET " ORDER BY rid LIMIT 1) "
                  "AND state = 0 AND park_ms <> 0",
                  &p, changes);
}

/* The completion inside the caller's transaction; *wakes set when a parked delivery was
 * put back (due work to announce). */
static evb_err complete_run(PGconn *c, const complete_args *x, int *wakes)
{
    const evb_attempt *a = x->a;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, x->id);
    pg_p_i64(&p, x->state);
    pg_p_i64(&p, x->next_ms);
    pg_p_i64(&p, store_attempt_status(a));
    pg_p_text(&p, a->error != NULL ? a->error : "");
    pg_p_i64(&p, store_attempt_end_ms(a));
    pg_p_i64(&p, a->attempt);
    pg_p_i64(&p, a->time_ms);
    pg_p_text(&p, a->outcome);
    pg_p_i64(&p, a->http_status);
    pg_p_i64(&p, a->errcode);
    pg_p_i64(&p, a->latency_ms);
    PGresult *r = NULL;
    evb_err e = pg_exec(c, COMPLETE_SQL, &p, &r);
    if (e != EVB_OK)
        return e;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return EVB_ERR_PRECONDITION; /* not this lease any more: nothing written */
    }
    const char *key = PQgetvalue(r, 0, 1);
    if (key[0] != '\0' && store_complete_unblocks(x->state, (int)pg_i64(r, 0, 2))) {
        /* A statement of its own: it sees what a claim that held the key committed. */
        int64_t n = 0;
        e = unpark_head(c, PQgetvalue(r, 0, 0), key, &n);
        if (n > 0)
            *wakes = 1;
    }
    PQclear(r);
    return e;
}

static evb_err complete_tx_run(pg_store *ps, PGconn *c, void *arg)
{
    int wakes = 0;
    evb_err e = complete_run(c, arg, &wakes);
    if (e == EVB_OK && wakes)
        e = pg_notify_deliveries(ps, c);
    return e;
}

evb_err pg_delivery_complete(evb_store *s, const char *delivery_id, const evb_attempt *a,
                             int new_state, int64_t next_ms)
{
    if (!store_complete_args_ok(delivery_id, a, new_state))
        return EVB_ERR_INVALID;
    complete_args x = {delivery_id, a, new_state, next_ms};
    return pg_tx(PG_STORE(s), complete_tx_run, &x);
}

/* The asynchronous form: a writer job owning copies of what it records; it rides the
 * writer's batch transaction and reports through cb on the writer thread. */
typedef struct complete_job {
    pg_job job; /* first: the writer sees a pg_job */
    store_attempt_copy copy;
    int state;
    int64_t next_ms;
    evb_store_complete_cb cb;
    void *arg;
} complete_job;

static evb_err complete_job_run(pg_store *ps, PGconn *c, pg_job *j)
{
    (void)ps;
    complete_job *x = (complete_job *)j;
    complete_args args = {x->copy.id, &x->copy.a, x->state, x->next_ms};
    return complete_run(c, &args, &j->wakes);
}

static void complete_job_free(complete_job *x)
{
    store_attempt_copy_fini(&x->copy);
    free(x);
}

static void complete_job_done(pg_store *ps, pg_job *j, evb_err err)
{
    (void)ps;
    complete_job *x = (complete_job *)j;
    if (x->cb != NULL)
        x->cb(x->arg, err);
    complete_job_free(x);
}

/* Consecutive completions of a writer batch in one statement: the same transition and
 * attempt as COMPLETE_SQL for each, the values as a JSON recordset (one round trip and one
 * plan instead of one per completion: the statement per completion bounded delivery on
 * PostgreSQL). $1: [{i, id, s, n, st, er, e, a, t, o, h, ec, l}], i = the job's index. */
static const char COMPLETE_MANY_SQL[] =
    "WITH v AS (SELECT * FROM json_to_recordset($1::json) AS v(i int, id text, s int, "
    "n bigint, st bigint, er text, e bigint, a int, t bigint, o text, h int, ec bigint, "
    "l bigint)), "
    "u AS (UPDATE deliveries d SET state = v.s, "
    "next_ms = CASE WHEN v.s = 0 THEN v.n ELSE d.next_ms END, lease_ms = 0, "
    "last_status = v.st, last_error = v.er, update_ms = v.e "
    "FROM v WHERE d.id = v.id AND d.state = 2 AND d.attempts = v.a "
    "RETURNING v.i, d.connection_id, d.ordering_key, d.strict, v.s), "
    "a AS (INSERT INTO delivery_attempts(delivery_id, attempt, time_ms, outcome, http_status, "
    "errcode, latency_ms, error) SELECT v.id, v.a, v.t, v.o, v.h, v.ec, v.l, v.er "
    "FROM v JOIN u ON u.i = v.i ORDER BY v.i) "
    "SELECT i, connection_id, ordering_key, strict, CASE WHEN ordering_key <> '' AND "
    "(s = 3 OR (s = 4 AND strict = 0)) "
    "THEN " PG_KEY_LOCKED_SHARED("connection_id", "ordering_key") " END FROM u ORDER BY i";

static evb_err complete_many_json(pg_job **jobs, int n, char **out)
{
    json_t *arr = json_array();
    evb_err e = arr != NULL ? EVB_OK : EVB_ERR_NOMEM;
    for (int i = 0; i < n && e == EVB_OK; i++) {
        const complete_job *x = (const complete_job *)jobs[i];
        const evb_attempt *a = &x->copy.a;
        json_t *o =
            json_pack("{s:i, s:s, s:i, s:I, s:I, s:s, s:I, s:i, s:I, s:s, s:i, s:I, "
                      "s:I}",
                      "i", i, "id", x->copy.id, "s", x->state, "n", (json_int_t)x->next_ms, "st",
                      (json_int_t)store_attempt_status(a), "er", a->error != NULL ? a->error : "",
                      "e", (json_int_t)store_attempt_end_ms(a), "a", a->attempt, "t",
                      (json_int_t)a->time_ms, "o", a->outcome, "h", a->http_status, "ec",
                      (json_int_t)a->errcode, "l", (json_int_t)a->latency_ms);
        if (o == NULL || json_array_append_new(arr, o) != 0)
            e = EVB_ERR_NOMEM;
    }
    *out = e == EVB_OK ? json_dumps(arr, JSON_COMPACT) : NULL;
    if (e == EVB_OK && *out == NULL)
        e = EVB_ERR_NOMEM;
    json_decref(arr);
    return e;
}

static evb_err complete_job_run_many(pg_store *ps, PGconn *c, pg_job **jobs, int n, int *failed)
{
    (void)ps;
    *failed = -1;
    char *json = NULL;
    evb_err e = complete_many_json(jobs, n, &json);
    if (e != EVB_OK)
        return e;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, json);
    PGresult *r = NULL;
    e = pg_exec(c, COMPLETE_MANY_SQL, &p, &r);
    free(json);
    if (e != EVB_OK)
        return e;
    int rows = PQntuples(r), row = 0;
    for (int i = 0; i < n && e == EVB_OK; i++) {
        const complete_job *x = (const complete_job *)jobs[i];
        if (row >= rows || pg_i64(r, row, 0) != i) { /* not this lease any more */
            *failed = i;
            e = EVB_ERR_PRECONDITION; /* the writer reruns each alone: this one fails */
            break;
        }
        const char *key = PQgetvalue(r, row, 2);
        if (key[0] != '\0' && store_complete_unblocks(x->state, (int)pg_i64(r, row, 3))) {
            int64_t changes = 0; /* a statement of its own, as in complete_run */
            e = unpark_head(c, PQgetvalue(r, row, 1), key, &changes);
            if (changes > 0)
                jobs[i]->wakes = 1;
        }
        row++;
    }
    PQclear(r);
    return e;
}

static const pg_job_ops complete_job_ops = {complete_job_run, NULL, complete_job_done,
                                            complete_job_run_many};

evb_err pg_delivery_complete_async(evb_store *s, const char *delivery_id, const evb_attempt *a,
                                   int new_state, int64_t next_ms, evb_store_complete_cb cb,
                                   void *arg)
{
    if (!store_complete_args_ok(delivery_id, a, new_state))
        return EVB_ERR_INVALID;
    complete_job *x = calloc(1, sizeof *x);
    if (x == NULL)
        return EVB_ERR_NOMEM;
    if (store_attempt_copy_init(&x->copy, delivery_id, a) != EVB_OK) {
        free(x);
        return EVB_ERR_NOMEM;
    }
    x->job.ops = &complete_job_ops;
    x->state = new_state;
    x->next_ms = next_ms;
    x->cb = cb;
    x->arg = arg;
    evb_err e = pg_submit(PG_STORE(s), &x->job);
    if (e != EVB_OK) /* not queued: cb does not run */
        complete_job_free(x);
    return e;
}

/* ---- give back, release, next due ---- */

typedef struct giveback_tx {
    const char *json; /* [{"id": id, "a": attempts}] */
    int64_t next_ms;
} giveback_tx;

static evb_err giveback_run(pg_store *ps, PGconn *c, void *arg)
{
    giveback_tx *x = arg;
    pg_params p;
    pg_params_init(&p);
    pg_p_i64(&p, x->next_ms);
    pg_p_text(&p, x->json);
    int64_t n = 0;
    evb_err e =
        pg_cmd(c,
               "UPDATE deliveries d SET state = 0, next_ms = $1::bigint, lease_ms = 0, "
               "attempts = d.attempts - 1 FROM json_to_recordset($2::json) "
               "AS g(id text, a int) WHERE d.id = g.id AND d.state = 2 AND d.attempts = g.a",
               &p, &n);
    if (e == EVB_OK && n > 0) /* due again: another node may have room for them */
        e = pg_notify_deliveries(ps, c);
    return e;
}

evb_err pg_delivery_give_back(evb_store *s, const char *const *ids, const int *attempts, size_t n,
                              int64_t next_ms)
{
    if (n > 0 && (ids == NULL || attempts == NULL))
        return EVB_ERR_INVALID;
    if (n == 0)
        return EVB_OK;
    json_t *a = json_array();
    evb_err e = a != NULL ? EVB_OK : EVB_ERR_NOMEM;
    for (size_t i = 0; i < n && e == EVB_OK; i++) {
        /* An id that is not UTF-8 (or NULL) names no stored delivery: nothing to give back. */
        json_t *o = ids[i] != NULL ? json_pack("{s:s, s:i}", "id", ids[i], "a", attempts[i]) : NULL;
        if (o != NULL && json_array_append_new(a, o) != 0)
            e = EVB_ERR_NOMEM;
    }
    char *json = e == EVB_OK ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    if (e == EVB_OK && json == NULL)
        e = EVB_ERR_NOMEM;
    if (e == EVB_OK) {
        giveback_tx x = {json, next_ms};
        e = pg_tx(PG_STORE(s), giveback_run, &x);
    }
    free(json);
    return e;
}

evb_err pg_delivery_release_leases(evb_store *s, int64_t now_ms, int64_t *count_out)
{
    /* Shared database: a LEASED delivery may be another node's live transfer. A dead
     * node's leases expire (claim takes them back then); nothing is released at start. */
    (void)s;
    (void)now_ms;
    if (count_out != NULL)
        *count_out = 0;
    return EVB_OK;
}

evb_err pg_delivery_next_due(evb_store *s, int64_t *next_ms_out)
{
    if (next_ms_out == NULL)
        return EVB_ERR_INVALID;
    *next_ms_out = INT64_MAX;
    PGresult *r = NULL;
    evb_err e = pg_query(PG_STORE(s),
                         "SELECT least((SELECT min(next_ms) FROM deliveries WHERE state = 0), "
                         "(SELECT min(lease_ms) FROM deliveries WHERE state = 2))",
                         NULL, &r);
    if (e == EVB_OK && PQntuples(r) == 1 && !pg_isnull(r, 0, 0))
        *next_ms_out = pg_i64(r, 0, 0);
    PQclear(r);
    return e;
}

/* ---- replay ---- */

typedef struct replay_tx {
    const char *json; /* the new deliveries (see REPLAY_SQL) */
} replay_tx;

/* $1 [{"id","q": event seq,"e": event id,"c","o": org,"h": held state,"k","s","r": recv_ms}],
 * $2 now. Created as the put creates them (pg_events.c): the stored connection's state wins
 * (PAUSED -> HELD), due at the event's receipt time (now when it has none), the key locked
 * shared before each keyed row gets its rid. */
static const char REPLAY_SQL[] =
    "INSERT INTO deliveries(id, event_seq, event_id, connection_id, org, state, attempts, "
    "next_ms, lease_ms, ordering_key, last_status, last_error, create_ms, update_ms, strict) "
    "SELECT x.j->>'id', (x.j->>'q')::bigint, x.j->>'e', x.j->>'c', x.j->>'o', "
    "coalesce((SELECT (c.state = 2)::int FROM connections c WHERE c.id = x.j->>'c' FOR SHARE), "
    "(x.j->>'h')::int), 0, CASE WHEN (x.j->>'r')::bigint > 0 THEN (x.j->>'r')::bigint "
    "ELSE $2::bigint END, 0, x.j->>'k', 0, '', $2::bigint, $2::bigint, (x.j->>'s')::int "
    "FROM json_array_elements($1::json) WITH ORDINALITY AS x(j, n) "
    "WHERE (x.j->>'k' = '' OR " PG_KEY_LOCKED_SHARED("x.j->>'c'",
                                                     "x.j->>'k'") ") "
                                                                  "ORDER BY x.n RETURNING state";

static evb_err replay_run(pg_store *ps, PGconn *c, void *arg)
{
    replay_tx *x = arg;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, x->json);
    pg_p_i64(&p, evb_now_ms());
    PGresult *r = NULL;
    evb_err e = pg_exec(c, REPLAY_SQL, &p, &r);
    if (e == EVB_ERR_EXISTS)
        e = EVB_ERR_INVALID; /* a taken delivery id is the caller's bug */
    int pending = 0;
    for (int i = 0; e == EVB_OK && i < PQntuples(r); i++)
        pending |= pg_i64(r, i, 0) == EVB_DELIVERY_PENDING;
    PQclear(r);
    if (e == EVB_OK && pending)
        e = pg_notify_deliveries(ps, c);
    return e;
}

/* The replay's deliveries as REPLAY_SQL's JSON. EVB_ERR_INVALID for a delivery without id
 * or connection (store_put_item_check) or text that is not UTF-8. */
static evb_err replay_json(const evb_event *const *evs, const evb_delivery_new *ds, size_t n,
                           char **out)
{
    *out = NULL;
    json_t *a = json_array();
    if (a == NULL)
        return EVB_ERR_NOMEM;
    evb_err e = EVB_OK;
    for (size_t i = 0; i < n && e == EVB_OK; i++) {
        const evb_event *ev = evs[i];
        const evb_delivery_new *d = &ds[i];
        evb_put_item it = {.ev = (evb_event *)ev, .deliveries = d, .n_deliveries = 1};
        e = ev != NULL && ev->id != NULL ? store_put_item_check(&it) : EVB_ERR_INVALID;
        if (e != EVB_OK)
            break;
        json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:i, s:s, s:i, s:I}", "id", d->id, "q",
                              (json_int_t)ev->seq, "e", ev->id, "c", d->connection_id, "o",
                              ev->org != NULL ? ev->org : "", "h",
                              d->held ? EVB_DELIVERY_HELD : EVB_DELIVERY_PENDING, "k",
                              d->ordering_key != NULL ? d->ordering_key : "", "s",
                              d->strict ? 1 : 0, "r", (json_int_t)ev->recv_ms);
        if (o == NULL || json_array_append_new(a, o) != 0)
            e = EVB_ERR_INVALID; /* not UTF-8 (or out of memory) */
    }
    if (e == EVB_OK) {
        *out = json_dumps(a, JSON_COMPACT);
        if (*out == NULL)
            e = EVB_ERR_NOMEM;
    }
    json_decref(a);
    return e;
}

evb_err pg_delivery_replay(evb_store *s, const evb_event *const *evs, const evb_delivery_new *ds,
                           size_t n)
{
    if (n > 0 && (evs == NULL || ds == NULL))
        return EVB_ERR_INVALID;
    if (n == 0)
        return EVB_OK;
    replay_tx x = {NULL};
    char *json = NULL;
    evb_err e = replay_json(evs, ds, n, &json);
    if (e == EVB_OK) {
        x.json = json;
        e = pg_tx(PG_STORE(s), replay_run, &x);
    }
    free(json);
    return e;
}
