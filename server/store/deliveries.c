/* evbridge — deliveries (SQLite): created with their event, listed for traces and tests;
 * the Filter step's trace of each event. Contract in store_routing.h (and evb_put_item in
 * store.h).
 *
 * Creation is part of the event put job (events.c calls store_put_item_routing for each
 * PUBLISHED item right after inserting the event), so an event and its deliveries commit
 * or fail together, and a DEDUPLICATED item never gets any. Both inserts are cached
 * statements of the writer: a put with many matching connections costs one bind-and-step
 * per delivery. A delivery starts PENDING and due at the event's receipt time, or HELD:
 * the caller's held flag reflects its routing snapshot, but the connection's state in the
 * store wins when the row exists (see deliveries_state below), so a pause or resume that
 * committed between routing and this commit is never missed.
 * Reads are rare (traces, tests): statements are prepared per call.
 */
#include "server/store/store_int.h"
#include "server/store/store_routing.h"

#include <stdlib.h>
#include <string.h>

#define DELIVERY_COLS STORE_DELIVERY_COLS

/* ---- records ---- */

void evb_delivery_rec_free(evb_delivery_rec *d)
{
    if (d == NULL)
        return;
    free(d->id);
    free(d->event_id);
    free(d->connection_id);
    free(d->org);
    free(d->ordering_key);
    free(d->last_error);
    free(d);
}

void evb_delivery_rec_array_free(evb_delivery_rec **ds, size_t n)
{
    if (ds == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        evb_delivery_rec_free(ds[i]);
    free(ds);
}

/* ---- creation with the event (writer thread) ---- */

/* The state column: the stored connection's state decides when the connection exists
 * (PAUSED -> HELD, anything else -> PENDING); otherwise the caller's flag (?6). */
#define DELIVERIES_STATE "coalesce((SELECT state = 2 FROM connections WHERE id = ?4), ?6)"

evb_err store_put_item_routing(evb_store *s, const evb_put_item *it, int64_t now_ms)
{
    const evb_event *ev = it->ev;
    evb_err e = EVB_OK;
    if (it->n_deliveries > 0) {
        sqlite3_stmt *st = store_wstmt(
            s, WS_DELIVERY_INSERT,
            "INSERT INTO deliveries(id, event_seq, event_id, connection_id, org, state, "
            "attempts, next_ms, lease_ms, ordering_key, last_status, last_error, create_ms, "
            "update_ms, strict) VALUES(?1, ?2, ?3, ?4, ?5, " DELIVERIES_STATE ", 0, ?7, 0, ?8, 0, "
            "'', ?9, ?9, ?10)",
            &e);
        if (st == NULL)
            return e;
        int64_t due = ev->recv_ms > 0 ? ev->recv_ms : now_ms;
        for (size_t i = 0; i < it->n_deliveries; i++) {
            const evb_delivery_new *d = &it->deliveries[i];
            store_bind_text(st, 1, d->id);
            sqlite3_bind_int64(st, 2, ev->seq);
            store_bind_text(st, 3, ev->id);
            store_bind_text(st, 4, d->connection_id);
            store_bind_text(st, 5, ev->org != NULL ? ev->org : "");
            sqlite3_bind_int(st, 6, d->held ? EVB_DELIVERY_HELD : EVB_DELIVERY_PENDING);
            sqlite3_bind_int64(st, 7, due);
            store_bind_text(st, 8, d->ordering_key != NULL ? d->ordering_key : "");
            sqlite3_bind_int64(st, 9, now_ms);
            sqlite3_bind_int(st, 10, d->strict ? 1 : 0);
            int rc = store_step_done(st);
            if (rc != SQLITE_OK) /* a taken delivery id is the caller's bug: INVALID */
                return store_map_rc(rc);
        }
    }
    if (it->filter_trace != NULL) {
        sqlite3_stmt *st = store_wstmt(
            s, WS_FILTER_INSERT, "INSERT INTO event_filter(event_seq, trace) VALUES(?1, ?2)", &e);
        if (st == NULL)
            return e;
        sqlite3_bind_int64(st, 1, ev->seq);
        store_bind_text(st, 2, it->filter_trace);
        int rc = store_step_done(st);
        if (rc != SQLITE_OK)
            return store_map_rc(rc);
    }
    return EVB_OK;
}

/* ---- reads ---- */

/* store_row_fn: a delivery row into *(evb_delivery_rec **)slot. */
static evb_err rec_from_row(sqlite3_stmt *st, void *slot, void *arg)
{
    (void)arg;
    evb_delivery_rec *d = calloc(1, sizeof *d);
    if (d == NULL)
        return EVB_ERR_NOMEM;
    int ok = 1;
    d->id = store_col_text(st, 0, &ok);
    d->event_seq = sqlite3_column_int64(st, 1);
    d->event_id = store_col_text(st, 2, &ok);
    d->connection_id = store_col_text(st, 3, &ok);
    d->org = store_col_text(st, 4, &ok);
    d->state = sqlite3_column_int(st, 5);
    d->attempts = sqlite3_column_int(st, 6);
    d->next_ms = sqlite3_column_int64(st, 7);
    d->lease_ms = sqlite3_column_int64(st, 8);
    d->ordering_key = store_col_text(st, 9, &ok);
    d->last_status = sqlite3_column_int(st, 10);
    d->last_error = store_col_text(st, 11, &ok);
    d->create_ms = sqlite3_column_int64(st, 12);
    d->update_ms = sqlite3_column_int64(st, 13);
    if (!ok) {
        evb_delivery_rec_free(d);
        return EVB_ERR_NOMEM;
    }
    *(evb_delivery_rec **)slot = d;
    return EVB_OK;
}

/* Steps st (parameters bound) into a malloc'd array. */
static evb_err collect(sqlite3_stmt *st, evb_delivery_rec ***out, size_t *n_out)
{
    void *ds = NULL;
    size_t n = 0;
    evb_err e = store_collect(st, sizeof(evb_delivery_rec *), 8, rec_from_row, NULL, &ds, &n);
    if (e != EVB_OK) {
        evb_delivery_rec_array_free(ds, n);
        return e;
    }
    *out = ds;
    *n_out = n;
    return EVB_OK;
}

evb_err sq_delivery_list_for_event(evb_store *s, int64_t event_seq, evb_delivery_rec ***out,
                                   size_t *n_out)
{
    if (s == NULL || out == NULL || n_out == NULL)
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    /* rowid: the order in which the put gave them. */
    evb_err e = store_read_begin(
        s, "SELECT " DELIVERY_COLS " FROM deliveries WHERE event_seq = ?1 ORDER BY rowid", &r, &st);
    if (e != EVB_OK)
        return e;
    sqlite3_bind_int64(st, 1, event_seq);
    e = collect(st, out, n_out);
    store_read_end(s, r, st);
    return e;
}

evb_err sq_delivery_list(evb_store *s, const char *connection_id, int state, int limit,
                         evb_delivery_rec ***out, size_t *n_out)
{
    if (s == NULL || connection_id == NULL || out == NULL || n_out == NULL ||
        !store_delivery_list_ok(state, limit))
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    /* With a state, (connection_id, state, event_seq) yields the rows already in order. */
    evb_err e = store_read_begin(
        s,
        state >= 0 ? "SELECT " DELIVERY_COLS " FROM deliveries WHERE connection_id = ?1 "
                     "AND state = ?2 ORDER BY event_seq, rowid LIMIT ?3"
                   : "SELECT " DELIVERY_COLS " FROM deliveries WHERE connection_id = ?1 "
                     "ORDER BY event_seq, rowid LIMIT ?3",
        &r, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, connection_id);
    if (state >= 0)
        sqlite3_bind_int(st, 2, state);
    sqlite3_bind_int(st, 3, limit);
    e = collect(st, out, n_out);
    store_read_end(s, r, st);
    return e;
}

evb_err sq_event_filter_trace(evb_store *s, int64_t event_seq, char **json_out)
{
    if (s == NULL || json_out == NULL)
        return EVB_ERR_INVALID;
    *json_out = NULL;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = store_read_begin(s, "SELECT trace FROM event_filter WHERE event_seq = ?1", &r, &st);
    if (e != EVB_OK)
        return e;
    sqlite3_bind_int64(st, 1, event_seq);
    e = store_one_row(st, store_text_from_row, NULL, json_out);
    store_read_end(s, r, st);
    return e;
}

/* ---- shared with the dispatcher's reads (store_int.h) ---- */

evb_err store_delivery_from_row(sqlite3_stmt *st, evb_delivery_rec **out)
{
    return rec_from_row(st, out, NULL);
}
