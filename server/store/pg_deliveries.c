/* evbridge — PostgreSQL backend: delivery reads (per event, per connection), the Filter
 * step's trace of an event, a delivery's attempts, and the outbox figures for monitoring.
 * Contracts: store_routing.h, store_dispatch.h, store_stats.h; the SQLite reference is
 * deliveries.c, dispatch.c (attempts) and stats.c.
 *
 * Deliveries are created with their event (pg_events.c). SQLite orders them by rowid; here
 * deliveries.rid and delivery_attempts.aid (identity columns) are that create order and
 * attempt order. Each read is one statement on a pooled connection, outside any
 * transaction (one statement sees one snapshot: what had committed when it started, on
 * any node). The stats take one pass over the undelivered rows through the
 * deliveries_due index, counting per state with FILTER.
 */
#include "server/store/pg_events_int.h"

#include <stdlib.h>
#include <string.h>

evb_err pg_delivery_from_row(const PGresult *r, int row, int col, evb_delivery_rec **out)
{
    evb_delivery_rec *d = calloc(1, sizeof *d);
    if (d == NULL)
        return EVB_ERR_NOMEM;
    int ok = 1;
    d->id = pg_text(r, row, col + 0, &ok);
    d->event_seq = pg_i64(r, row, col + 1);
    d->event_id = pg_text(r, row, col + 2, &ok);
    d->connection_id = pg_text(r, row, col + 3, &ok);
    d->org = pg_text(r, row, col + 4, &ok);
    d->state = (int)pg_i64(r, row, col + 5);
    d->attempts = (int)pg_i64(r, row, col + 6);
    d->next_ms = pg_i64(r, row, col + 7);
    d->lease_ms = pg_i64(r, row, col + 8);
    d->ordering_key = pg_text(r, row, col + 9, &ok);
    d->last_status = (int)pg_i64(r, row, col + 10);
    d->last_error = pg_text(r, row, col + 11, &ok);
    d->create_ms = pg_i64(r, row, col + 12);
    d->update_ms = pg_i64(r, row, col + 13);
    if (!ok) {
        evb_delivery_rec_free(d);
        return EVB_ERR_NOMEM;
    }
    *out = d;
    return EVB_OK;
}

/* Runs a delivery query into a malloc'd array (NULL when no row). */
static evb_err list_query(pg_store *ps, const char *sql, const pg_params *p,
                          evb_delivery_rec ***out, size_t *n_out)
{
    PGresult *r = NULL;
    evb_err e = pg_query(ps, sql, p, &r);
    if (e != EVB_OK)
        return e;
    size_t rows = (size_t)PQntuples(r), n = 0;
    evb_delivery_rec **ds = NULL;
    if (rows > 0) {
        ds = calloc(rows, sizeof *ds);
        if (ds == NULL)
            e = EVB_ERR_NOMEM;
    }
    while (e == EVB_OK && n < rows) {
        e = pg_delivery_from_row(r, (int)n, 0, &ds[n]);
        if (e == EVB_OK)
            n++;
    }
    PQclear(r);
    if (e != EVB_OK) {
        evb_delivery_rec_array_free(ds, n);
        return e;
    }
    *out = ds;
    *n_out = n;
    return EVB_OK;
}

evb_err pg_delivery_list_for_event(evb_store *s, int64_t event_seq, evb_delivery_rec ***out,
                                   size_t *n_out)
{
    if (out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    pg_params p;
    pg_params_init(&p);
    pg_p_i64(&p, event_seq);
    /* rid: the order in which the put gave them. */
    return list_query(PG_STORE(s),
                      "SELECT " STORE_DELIVERY_COLS " FROM deliveries WHERE event_seq = $1::bigint "
                      "ORDER BY rid",
                      &p, out, n_out);
}

evb_err pg_delivery_list(evb_store *s, const char *connection_id, int state, int limit,
                         evb_delivery_rec ***out, size_t *n_out)
{
    if (connection_id == NULL || out == NULL || n_out == NULL ||
        !store_delivery_list_ok(state, limit))
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, connection_id);
    pg_p_i64(&p, limit);
    if (state >= 0)
        pg_p_i64(&p, state);
    /* With a state, (connection_id, state, event_seq) yields the rows nearly in order. */
    return list_query(PG_STORE(s),
                      state >= 0 ? "SELECT " STORE_DELIVERY_COLS " FROM deliveries "
                                   "WHERE connection_id = $1::text AND state = $3::int "
                                   "ORDER BY event_seq, rid LIMIT $2::bigint"
                                 : "SELECT " STORE_DELIVERY_COLS " FROM deliveries "
                                   "WHERE connection_id = $1::text "
                                   "ORDER BY event_seq, rid LIMIT $2::bigint",
                      &p, out, n_out);
}

evb_err pg_event_filter_trace(evb_store *s, int64_t event_seq, char **json_out)
{
    if (json_out == NULL)
        return EVB_ERR_INVALID;
    *json_out = NULL;
    pg_params p;
    pg_params_init(&p);
    pg_p_i64(&p, event_seq);
    PGresult *r = NULL;
    evb_err e = pg_query(PG_STORE(s), "SELECT trace FROM event_filter WHERE event_seq = $1::bigint",
                         &p, &r);
    if (e == EVB_OK && PQntuples(r) == 0)
        e = EVB_ERR_NOT_FOUND;
    if (e == EVB_OK && pg_isnull(r, 0, 0))
        e = EVB_ERR_INTERNAL; /* NOT NULL column: a corrupt row */
    if (e == EVB_OK) {
        int ok = 1;
        *json_out = pg_text(r, 0, 0, &ok);
        if (!ok)
            e = EVB_ERR_NOMEM;
    }
    PQclear(r);
    return e;
}

evb_err pg_delivery_attempts(evb_store *s, const char *delivery_id, evb_attempt_rec **out,
                             size_t *n_out)
{
    if (delivery_id == NULL || out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, delivery_id);
    PGresult *r = NULL;
    evb_err e = pg_query(PG_STORE(s),
                         "SELECT attempt, time_ms, outcome, http_status, errcode, latency_ms, "
                         "error FROM delivery_attempts WHERE delivery_id = $1::text ORDER BY aid",
                         &p, &r);
    if (e != EVB_OK)
        return e;
    size_t rows = (size_t)PQntuples(r), n = 0;
    evb_attempt_rec *as = NULL;
    if (rows > 0) {
        as = calloc(rows, sizeof *as);
        if (as == NULL)
            e = EVB_ERR_NOMEM;
    }
    for (; e == EVB_OK && n < rows; n++) {
        int ok = 1, row = (int)n;
        evb_attempt_rec *a = &as[n];
        a->attempt = (int)pg_i64(r, row, 0);
        a->time_ms = pg_i64(r, row, 1);
        a->outcome = pg_text(r, row, 2, &ok);
        a->http_status = (int)pg_i64(r, row, 3);
        a->errcode = pg_i64(r, row, 4);
        a->latency_ms = pg_i64(r, row, 5);
        a->error = pg_text(r, row, 6, &ok);
        if (!ok)
            e = EVB_ERR_NOMEM; /* as[n] is freed with the others (n counts it) */
    }
    PQclear(r);
    if (e != EVB_OK) {
        evb_attempt_rec_array_free(as, n);
        return e;
    }
    *out = as;
    *n_out = n;
    return EVB_OK;
}

evb_err pg_delivery_stats(evb_store *s, int64_t now_ms, evb_delivery_stats *out)
{
    if (out == NULL)
        return EVB_ERR_INVALID;
    memset(out, 0, sizeof *out);
    pg_params p;
    pg_params_init(&p);
    pg_p_i64(&p, now_ms);
    PGresult *r = NULL;
    evb_err e = pg_query(PG_STORE(s),
                         "SELECT count(*) FILTER (WHERE state = 0), "
                         "count(*) FILTER (WHERE state = 1), "
                         "count(*) FILTER (WHERE state = 2), "
                         "count(*) FILTER (WHERE state = 4), "
                         "min(next_ms) FILTER (WHERE state = 0 AND next_ms <= $1::bigint) "
                         "FROM deliveries WHERE state IN (0, 1, 2, 4)",
                         &p, &r);
    if (e == EVB_OK) {
        out->pending = pg_i64(r, 0, 0);
        out->held = pg_i64(r, 0, 1);
        out->in_flight = pg_i64(r, 0, 2);
        out->dead = pg_i64(r, 0, 3);
        out->oldest_due_ms = pg_i64(r, 0, 4); /* NULL (none due) reads as 0 */
    }
    PQclear(r);
    return e;
}
