/* evbridge — PostgreSQL backend: events. Put (group commit, dedup across nodes, deliveries
 * and filter trace), get, list, count; dedup-key purge. Contracts: store.h; the SQLite
 * reference is events.c and deliveries.c.
 *
 * A put is one pg_job holding the caller's items, run by a writer thread inside its batch
 * transaction (pg_writer.c). Work that needs no database (checks, extension JSON, the
 * deliveries as one JSON array) is done on the caller's thread before queueing. Each item
 * is ONE statement, so a batch costs one round trip per item:
 *   1. upsert the dedup key (connector, org, id): ON CONFLICT ... DO UPDATE ... WHERE the
 *      existing key is older than the window. The key is a unique row, so the window holds
 *      across nodes: a node putting the same key while another's insert is uncommitted
 *      waits for that commit, then sees a live key (DEDUPLICATED) or none (it inserts);
 *   2. only when the upsert returned a row: insert the event (RETURNING seq), its
 *      deliveries (in the order given: deliveries.rid is the create order) and its filter
 *      trace. A delivery's state is decided in SQL as SQLite does — the stored
 *      connection's state wins (PAUSED -> HELD, else PENDING), else the caller's flag — and
 *      the connection row is read FOR SHARE, so a concurrent pause or resume (which updates
 *      that row before it touches deliveries) commits either before (and is seen) or after
 *      this commit (and then sees these deliveries). A delivery with an ordering key takes
 *      the key's lock shared before its rid is allocated, until the commit, so no claim
 *      decides on that key meanwhile (pg_dispatch_int.h: per-key order across nodes).
 * No row back means DEDUPLICATED: first_id is the event's id (the key's first_id always
 * is). A PENDING delivery sets j->wakes: the writer NOTIFYs the dispatchers of every node.
 * A delivery id already taken (23505) fails the submission with EVB_ERR_INVALID; the writer
 * then reruns the batch's jobs one transaction each, so other submissions still commit.
 * NULL org/connector take part in the dedup key as "".
 */
#include "server/store/pg_events_int.h"

#include "server/store/pg_dispatch_int.h"

#include "common/timeutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PURGE_BATCH 500

/* ---- put ---- */

typedef struct put_job {
    pg_job job;
    evb_put_item *items;
    size_t n;
    evb_store_put_cb cb;
    void *arg;
    char **ext_json; /* per item; NULL when the event has no extensions */
    char **dlv_json; /* per item; the deliveries as a JSON array, NULL when none */
} put_job;

static void put_reset(pg_job *j)
{
    put_job *p = (put_job *)j;
    store_put_items_reset(p->items, p->n);
}

static void put_job_free(put_job *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->ext_json[i]);
        free(p->dlv_json[i]);
    }
    free(p);
}

static void put_complete(pg_store *ps, pg_job *j, evb_err err)
{
    (void)ps;
    put_job *p = (put_job *)j;
    if (err != EVB_OK) /* nothing of the submission was stored */
        put_reset(j);
    evb_store_put_cb cb = p->cb;
    void *arg = p->arg;
    put_job_free(p);
    if (cb != NULL)
        cb(arg, err);
}

static const char *or_empty(const char *v)
{
    return v != NULL ? v : "";
}

/* The item's deliveries as [{"id":..,"c":connection,"h":held,"k":ordering key,"s":strict}]
 * (*out NULL when there are none). EVB_ERR_INVALID for text that is not UTF-8. */
static evb_err deliveries_json(const evb_put_item *it, char **out)
{
    *out = NULL;
    if (it->n_deliveries == 0)
        return EVB_OK;
    json_t *a = json_array();
    if (a == NULL)
        return EVB_ERR_NOMEM;
    evb_err e = EVB_OK;
    for (size_t i = 0; i < it->n_deliveries && e == EVB_OK; i++) {
        const evb_delivery_new *d = &it->deliveries[i];
        json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:i}", "id", d->id, "c", d->connection_id, "h",
                              d->held ? EVB_DELIVERY_HELD : EVB_DELIVERY_PENDING, "k",
                              or_empty(d->ordering_key), "s", d->strict ? 1 : 0);
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

/* The delivery's ordering key, locked shared (keyed deliveries only: see the WHERE). The
 * planner filters the JSON rows before joining them with e, so a DEDUPLICATED item may
 * lock its keys too: harmless, claims only skip those keys until the commit. */
#define DELIVERY_KEY_LOCKED PG_KEY_LOCKED_SHARED("x.j->>'c'", "x.j->>'k'")

/* One item: dedup key, event, then (when the item has them) deliveries and filter trace
 * (see the top of the file); the variant without what the item lacks is much cheaper to
 * plan. Parameters: $1..$13 the event's columns, $14 connector or "", $15 org or "", $16
 * now, $17 the window's start; with deliveries $18 their due time and $19 the deliveries
 * (JSON); then the filter trace ($18 or $20). Returns the event's seq and the number of
 * PENDING deliveries; no row when the key is live (DEDUPLICATED). */
#define PUT_EVENT                                                                                  \
    "WITH k AS ("                                                                                  \
    " INSERT INTO dedup_keys(connector, org, id, first_id, created_ms)"                            \
    " VALUES($14::text, $15::text, $1::text, $1::text, $16::bigint)"                               \
    " ON CONFLICT (connector, org, id) DO UPDATE SET first_id = excluded.first_id,"                \
    " created_ms = excluded.created_ms WHERE dedup_keys.created_ms < $17::bigint"                  \
    " RETURNING 1),"                                                                               \
    " e AS ("                                                                                      \
    " INSERT INTO events(id, org, connector, type, source, subject, time, time_ms,"                \
    " datacontenttype, dataschema, extensions, data, recv_ms)"                                     \
    " SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text,"                \
    " $8::bigint, $9::text, $10::text, $11::text, $12::bytea, $13::bigint FROM k"                  \
    " RETURNING seq)"
#define PUT_DELIVERIES                                                                             \
    ", d AS ("                                                                                     \
    " INSERT INTO deliveries(id, event_seq, event_id, connection_id, org, state, attempts,"        \
    " next_ms, lease_ms, ordering_key, last_status, last_error, create_ms, update_ms, strict)"     \
    " SELECT x.j->>'id', e.seq, $1::text, x.j->>'c', $15::text,"                                   \
    " coalesce((SELECT (c.state = 2)::int FROM connections c WHERE c.id = x.j->>'c'"               \
    " FOR SHARE), (x.j->>'h')::int),"                                                              \
    " 0, $18::bigint, 0, x.j->>'k', 0, '', $16::bigint, $16::bigint, (x.j->>'s')::int"             \
    " FROM e, json_array_elements($19::json) WITH ORDINALITY AS x(j, n)"                           \
    " WHERE (x.j->>'k' = '' OR " DELIVERY_KEY_LOCKED ")"                                           \
    " ORDER BY x.n RETURNING state)"
#define PUT_TRACE(param)                                                                           \
    ", f AS (INSERT INTO event_filter(event_seq, trace) SELECT e.seq, $" param "::text FROM e)"
#define PUT_RESULT " SELECT e.seq, 0 FROM e"
#define PUT_RESULT_D " SELECT e.seq, (SELECT count(*) FROM d WHERE d.state = 0) FROM e"

/* By (has deliveries) * 2 + (has a filter trace). */
static const char *const PUT_SQL[4] = {
    PUT_EVENT PUT_RESULT,
    PUT_EVENT PUT_TRACE("18") PUT_RESULT,
    PUT_EVENT PUT_DELIVERIES PUT_RESULT_D,
    PUT_EVENT PUT_DELIVERIES PUT_TRACE("20") PUT_RESULT_D,
};

static evb_err put_item(PGconn *c, const put_job *p, size_t i, int64_t now, int64_t window_ms,
                        int *wakes)
{
    evb_put_item *it = &p->items[i];
    evb_event *ev = it->ev;
    pg_params q;
    pg_params_init(&q);
    pg_p_text(&q, ev->id);
    pg_p_text(&q, ev->org);
    pg_p_text(&q, ev->connector);
    pg_p_text(&q, ev->type);
    pg_p_text(&q, ev->source);
    pg_p_text(&q, ev->subject);
    pg_p_text(&q, ev->time);
    pg_p_i64(&q, ev->time_ms);
    pg_p_text(&q, ev->datacontenttype);
    pg_p_text(&q, ev->dataschema);
    pg_p_text(&q, p->ext_json[i]);
    pg_p_bytes(&q, ev->data, ev->data_len); /* NULL stays NULL; empty stays empty */
    pg_p_i64(&q, ev->recv_ms);
    pg_p_text(&q, or_empty(ev->connector));
    pg_p_text(&q, or_empty(ev->org));
    pg_p_i64(&q, now);
    pg_p_i64(&q, now - window_ms);
    int variant = (p->dlv_json[i] != NULL) * 2 + (it->filter_trace != NULL);
    if (p->dlv_json[i] != NULL) {
        pg_p_i64(&q, ev->recv_ms > 0 ? ev->recv_ms : now);
        pg_p_text(&q, p->dlv_json[i]);
    }
    if (it->filter_trace != NULL)
        pg_p_text(&q, it->filter_trace);
    PGresult *r = NULL;
    evb_err e = pg_exec(c, PUT_SQL[variant], &q, &r);
    if (e == EVB_ERR_EXISTS)
        e = EVB_ERR_INVALID; /* a taken delivery id is the caller's bug */
    if (e != EVB_OK)
        return e;
    if (PQntuples(r) == 0) {
        /* The key is live: the first event had this very id (first_id = id). */
        snprintf(it->first_id, sizeof it->first_id, "%s", ev->id);
        it->status = EVB_PUT_DEDUPLICATED;
    } else {
        ev->seq = pg_i64(r, 0, 0);
        if (pg_i64(r, 0, 1) > 0)
            *wakes = 1;
        it->status = EVB_PUT_PUBLISHED;
    }
    PQclear(r);
    return EVB_OK;
}

static evb_err put_run(pg_store *ps, PGconn *c, pg_job *j)
{
    put_job *p = (put_job *)j;
    int64_t now = evb_now_ms();
    for (size_t i = 0; i < p->n; i++) {
        evb_err e = put_item(c, p, i, now, ps->dedup_window_ms, &j->wakes);
        if (e != EVB_OK)
            return e;
    }
    return EVB_OK;
}

static const pg_job_ops put_ops = {put_run, put_reset, put_complete, NULL};

evb_err pg_put_events(evb_store *s, evb_put_item *items, size_t n, evb_store_put_cb cb, void *arg)
{
    if (items == NULL || n == 0 || store_put_check(items, n) != EVB_OK)
        return EVB_ERR_INVALID;
    put_job *p = calloc(1, sizeof *p + 2 * n * sizeof(char *));
    if (p == NULL)
        return EVB_ERR_NOMEM;
    p->job.ops = &put_ops;
    p->items = items;
    p->cb = cb;
    p->arg = arg;
    p->ext_json = (char **)(p + 1);
    p->dlv_json = p->ext_json + n;
    evb_err e = EVB_OK;
    for (size_t i = 0; i < n && e == EVB_OK; i++) {
        p->n = i + 1;
        e = store_ext_encode(items[i].ev, &p->ext_json[i]);
        if (e == EVB_OK)
            e = deliveries_json(&items[i], &p->dlv_json[i]);
    }
    p->job.bytes = store_put_bytes(items, n) + sizeof *p + 2 * n * sizeof(char *);
    for (size_t i = 0; i < p->n; i++)
        p->job.bytes += (p->ext_json[i] != NULL ? strlen(p->ext_json[i]) + 1 : 0) +
                        (p->dlv_json[i] != NULL ? strlen(p->dlv_json[i]) + 1 : 0);
    if (e == EVB_OK) /* items are untouched unless accepted: the writer resets them */
        e = pg_submit(PG_STORE(s), &p->job);
    if (e != EVB_OK)
        put_job_free(p);
    return e;
}

/* ---- dedup purge (writer connection, outside a transaction) ---- */

evb_err pg_dedup_purge(pg_store *ps, PGconn *c, int64_t now_ms, int *full)
{
    *full = 0;
    /* SKIP LOCKED: every node's writers purge; none waits for another, nor for a put that
     * is just replacing an expired key. */
    pg_params q;
    pg_params_init(&q);
    pg_p_i64(&q, now_ms - ps->dedup_window_ms);
    pg_p_i64(&q, PURGE_BATCH);
    int64_t n = 0;
    evb_err e = pg_cmd(c,
                       "DELETE FROM dedup_keys WHERE (connector, org, id) IN "
                       "(SELECT connector, org, id FROM dedup_keys WHERE created_ms < $1::bigint "
                       "LIMIT $2::bigint FOR UPDATE SKIP LOCKED)",
                       &q, &n);
    if (e == EVB_OK)
        *full = n >= PURGE_BATCH;
    return e;
}

/* ---- reads ---- */

evb_err pg_event_from_row(const PGresult *r, int row, int col, evb_event **out)
{
    evb_event *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return EVB_ERR_NOMEM;
    int ok = 1;
    ev->seq = pg_i64(r, row, col + 0);
    ev->id = pg_text(r, row, col + 1, &ok);
    ev->org = pg_text(r, row, col + 2, &ok);
    ev->connector = pg_text(r, row, col + 3, &ok);
    ev->type = pg_text(r, row, col + 4, &ok);
    ev->source = pg_text(r, row, col + 5, &ok);
    ev->subject = pg_text(r, row, col + 6, &ok);
    ev->time = pg_text(r, row, col + 7, &ok);
    ev->time_ms = pg_i64(r, row, col + 8);
    ev->datacontenttype = pg_text(r, row, col + 9, &ok);
    ev->dataschema = pg_text(r, row, col + 10, &ok);
    /* An empty payload stays distinct from no payload: pg_bytes gives non-NULL, length 0. */
    ev->data = pg_bytes(r, row, col + 12, &ev->data_len, &ok);
    ev->recv_ms = pg_i64(r, row, col + 13);
    evb_err e = ok ? EVB_OK : EVB_ERR_NOMEM;
    if (e == EVB_OK && !pg_isnull(r, row, col + 11))
        e = store_ext_decode(PQgetvalue(r, row, col + 11), ev);
    if (e != EVB_OK) {
        evb_event_free(ev);
        return e;
    }
    *out = ev;
    return EVB_OK;
}

evb_err pg_get_event(evb_store *s, const char *id, const char *org, const char *connector,
                     evb_event **out)
{
    if (id == NULL || out == NULL)
        return EVB_ERR_INVALID;
    pg_params q;
    pg_params_init(&q);
    pg_p_text(&q, id);
    pg_p_text(&q, org);
    pg_p_text(&q, connector);
    PGresult *r = NULL;
    evb_err e = pg_query(PG_STORE(s),
                         "SELECT " STORE_EVENT_COLS " FROM events WHERE id = $1::text "
                         "AND ($2::text IS NULL OR org = $2::text) "
                         "AND ($3::text IS NULL OR connector = $3::text) "
                         "ORDER BY seq DESC LIMIT 1",
                         &q, &r);
    if (e == EVB_OK)
        e = PQntuples(r) > 0 ? pg_event_from_row(r, 0, 0, out) : EVB_ERR_NOT_FOUND;
    PQclear(r);
    return e;
}

/* Appends " AND <lhs> $<param>::<type>" to buf (param: the parameter just added). */
static void and_cond(char *buf, size_t cap, size_t *len, const char *lhs, int param,
                     const char *type)
{
    *len += (size_t)snprintf(buf + *len, cap - *len, " AND %s $%d::%s", lhs, param, type);
}

/* The listing statement with only the filters present, each a parameter of its own (the
 * planner sees which columns of the (org, connector, type, time_ms) index are bound).
 * Fills q: after_seq, the filters present, the row limit (one more than the page, to tell
 * whether there are more). */
static void list_sql(const evb_event_query *eq, pg_params *q, char *buf, size_t cap)
{
    pg_params_init(q);
    pg_p_i64(q, eq->after_seq);
    size_t len = (size_t)snprintf(buf, cap,
                                  "SELECT " STORE_EVENT_COLS " FROM events WHERE seq > $1::bigint");
    if (eq->org != NULL) {
        pg_p_text(q, eq->org);
        and_cond(buf, cap, &len, "org =", q->n, "text");
    }
    if (eq->connector != NULL) {
        pg_p_text(q, eq->connector);
        and_cond(buf, cap, &len, "connector =", q->n, "text");
    }
    if (eq->type != NULL) {
        pg_p_text(q, eq->type);
        and_cond(buf, cap, &len, "type =", q->n, "text");
    }
    if (eq->start_ms != INT64_MIN) {
        pg_p_i64(q, eq->start_ms);
        and_cond(buf, cap, &len, "time_ms >=", q->n, "bigint");
    }
    if (eq->end_ms != INT64_MAX) {
        pg_p_i64(q, eq->end_ms);
        and_cond(buf, cap, &len, "time_ms <", q->n, "bigint");
    }
    pg_p_i64(q, (int64_t)eq->limit + 1);
    snprintf(buf + len, cap - len, " ORDER BY seq LIMIT $%d::bigint", q->n);
}

evb_err pg_list_events(evb_store *s, const evb_event_query *q, evb_event ***out, size_t *n_out,
                       int64_t *next_after_seq)
{
    if (q == NULL || out == NULL || n_out == NULL || next_after_seq == NULL ||
        !store_event_query_ok(q))
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    *next_after_seq = 0;
    char sql[512];
    pg_params p;
    list_sql(q, &p, sql, sizeof sql);
    PGresult *r = NULL;
    evb_err e = pg_query(PG_STORE(s), sql, &p, &r);
    if (e != EVB_OK)
        return e;
    int rows = PQntuples(r);
    int more = rows > q->limit;
    size_t want = more ? (size_t)q->limit : (size_t)rows;
    evb_event **evs = NULL;
    size_t n = 0;
    if (want > 0) {
        evs = calloc(want, sizeof *evs);
        if (evs == NULL)
            e = EVB_ERR_NOMEM;
    }
    while (e == EVB_OK && n < want) {
        e = pg_event_from_row(r, (int)n, 0, &evs[n]);
        if (e == EVB_OK)
            n++;
    }
    PQclear(r);
    if (e != EVB_OK) {
        evb_event_array_free(evs, n);
        return e;
    }
    *out = evs;
    *n_out = n;
    *next_after_seq = more ? evs[n - 1]->seq : 0;
    return EVB_OK;
}

evb_err pg_count_events(evb_store *s, int64_t *out)
{
    if (out == NULL)
        return EVB_ERR_INVALID;
    PGresult *r = NULL;
    evb_err e = pg_query(PG_STORE(s), "SELECT count(*) FROM events", NULL, &r);
    if (e == EVB_OK)
        *out = pg_i64(r, 0, 0);
    PQclear(r);
    return e;
}
