/* evbridge — events: put (group commit, with dedup), get, list, count; dedup-key purge.
 *
 * A put is one job holding the caller's items. Work that needs no database is done on the
 * caller's thread before queueing (checks, extension JSON), so the single writer only
 * binds and steps cached statements. In the transaction, for each item in order:
 *   1. upsert its dedup key (connector, org, id) — a new key, or an existing one older than
 *      the window (which counts as absent and is replaced), changes one row;
 *   2. no row changed: DEDUPLICATED (first_id read back from the key); else insert the
 *      event and set ev->seq, then its deliveries and filter trace (deliveries.c):
 *      PUBLISHED. A duplicate gets no deliveries and no trace.
 * Because keys are written in queue order, a repeated id later in the same submission or
 * batch is deduplicated against the earlier one. Expired keys are also deleted in bounded
 * batches by the writer (store_dedup_purge), so the table stays about one window big.
 * NULL org/connector take part in the dedup key as "".
 */
#include "server/store/store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVENT_COLS STORE_EVENT_COLS
#define PURGE_BATCH 500

/* ---- put ---- */

typedef struct put_job {
    store_job job;
    evb_put_item *items;
    size_t n;
    evb_store_put_cb cb;
    void *arg;
    char **ext_json; /* per item; NULL when the event has no extensions */
} put_job;

static void put_reset(store_job *j)
{
    put_job *p = (put_job *)j;
    store_put_items_reset(p->items, p->n);
}

static void put_job_free(put_job *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->ext_json[i]);
    free(p);
}

static void put_complete(evb_store *s, store_job *j, evb_err err)
{
    (void)s;
    put_job *p = (put_job *)j;
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

/* Dedup step for one item: 1 when the key is new (or expired and replaced); 0 when the item
 * is a duplicate (status and first_id set) or on error (*e set). */
static int dedup_claim(evb_store *s, evb_put_item *it, int64_t now, evb_err *e)
{
    const evb_event *ev = it->ev;
    sqlite3_stmt *st =
        store_wstmt(s, WS_DEDUP_UPSERT,
                    "INSERT INTO dedup_keys(connector, org, id, first_id, created_ms) "
                    "VALUES(?1, ?2, ?3, ?3, ?4) ON CONFLICT(connector, org, id) DO UPDATE SET "
                    "first_id = excluded.first_id, created_ms = excluded.created_ms "
                    "WHERE dedup_keys.created_ms < ?5",
                    e);
    if (st == NULL)
        return 0;
    store_bind_text(st, 1, or_empty(ev->connector));
    store_bind_text(st, 2, or_empty(ev->org));
    store_bind_text(st, 3, ev->id);
    sqlite3_bind_int64(st, 4, now);
    sqlite3_bind_int64(st, 5, now - s->dedup_window_ms);
    int rc = store_step_done(st);
    if (rc != SQLITE_OK) {
        *e = store_map_rc(rc);
        return 0;
    }
    if (sqlite3_changes(s->wdb) > 0)
        return 1;

    st = store_wstmt(s, WS_DEDUP_GET,
                     "SELECT first_id FROM dedup_keys WHERE connector = ?1 AND org = ?2 "
                     "AND id = ?3",
                     e);
    if (st == NULL)
        return 0;
    store_bind_text(st, 1, or_empty(ev->connector));
    store_bind_text(st, 2, or_empty(ev->org));
    store_bind_text(st, 3, ev->id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *first = (const char *)sqlite3_column_text(st, 0);
        snprintf(it->first_id, sizeof it->first_id, "%s", first != NULL ? first : ev->id);
        it->status = EVB_PUT_DEDUPLICATED;
        rc = SQLITE_OK;
    } else {
        rc = rc == SQLITE_DONE ? SQLITE_INTERNAL : rc; /* the key vanished: impossible */
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_OK)
        *e = store_map_rc(rc);
    return 0;
}

static evb_err insert_event(evb_store *s, evb_event *ev, const char *ext_json)
{
    evb_err e = EVB_OK;
    sqlite3_stmt *st =
        store_wstmt(s, WS_EVENT_INSERT,
                    "INSERT INTO events(id, org, connector, type, source, subject, time, time_ms, "
                    "datacontenttype, dataschema, extensions, data, recv_ms) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                    &e);
    if (st == NULL)
        return e;
    store_bind_text(st, 1, ev->id);
    store_bind_text(st, 2, ev->org);
    store_bind_text(st, 3, ev->connector);
    store_bind_text(st, 4, ev->type);
    store_bind_text(st, 5, ev->source);
    store_bind_text(st, 6, ev->subject);
    store_bind_text(st, 7, ev->time);
    sqlite3_bind_int64(st, 8, ev->time_ms);
    store_bind_text(st, 9, ev->datacontenttype);
    store_bind_text(st, 10, ev->dataschema);
    store_bind_text(st, 11, ext_json);
    if (ev->data != NULL)
        sqlite3_bind_blob64(st, 12, ev->data, ev->data_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 13, ev->recv_ms);
    int rc = store_step_done(st);
    if (rc != SQLITE_OK)
        return store_map_rc(rc);
    ev->seq = sqlite3_last_insert_rowid(s->wdb);
    return EVB_OK;
}

static evb_err put_run(evb_store *s, store_job *j)
{
    put_job *p = (put_job *)j;
    int64_t now = store_now_ms();
    for (size_t i = 0; i < p->n; i++) {
        evb_put_item *it = &p->items[i];
        evb_err e = EVB_OK;
        if (!dedup_claim(s, it, now, &e)) {
            if (e != EVB_OK)
                return e;
            continue; /* DEDUPLICATED */
        }
        e = insert_event(s, it->ev, p->ext_json[i]);
        if (e == EVB_OK)
            e = store_put_item_routing(s, it, now);
        if (e != EVB_OK)
            return e;
        it->status = EVB_PUT_PUBLISHED;
    }
    return EVB_OK;
}

static const store_job_ops put_ops = {put_run, put_reset, put_complete};

evb_err sq_put_events(evb_store *s, evb_put_item *items, size_t n, evb_store_put_cb cb, void *arg)
{
    if (s == NULL || items == NULL || n == 0 || store_put_check(items, n) != EVB_OK)
        return EVB_ERR_INVALID;
    put_job *p = calloc(1, sizeof *p + n * sizeof(char *));
    if (p == NULL)
        return EVB_ERR_NOMEM;
    p->job.ops = &put_ops;
    p->items = items;
    p->cb = cb;
    p->arg = arg;
    p->ext_json = (char **)(p + 1);
    evb_err e = EVB_OK;
    for (size_t i = 0; i < n && e == EVB_OK; i++) {
        p->n = i + 1;
        e = store_ext_encode(items[i].ev, &p->ext_json[i]);
    }
    p->job.bytes = store_put_bytes(items, n) + sizeof *p + n * sizeof(char *);
    for (size_t i = 0; i < p->n; i++)
        p->job.bytes += p->ext_json[i] != NULL ? strlen(p->ext_json[i]) + 1 : 0;
    if (e == EVB_OK) /* items are untouched unless accepted: the writer resets them */
        e = store_submit(s, &p->job);
    if (e != EVB_OK)
        put_job_free(p);
    return e;
}

/* ---- dedup purge (writer, inside a transaction) ---- */

evb_err store_dedup_purge(evb_store *s, int64_t now_ms, int *full)
{
    evb_err e = EVB_OK;
    *full = 0;
    sqlite3_stmt *st = store_wstmt(s, WS_DEDUP_PURGE,
                                   "DELETE FROM dedup_keys WHERE (connector, org, id) IN "
                                   "(SELECT connector, org, id FROM dedup_keys "
                                   "WHERE created_ms < ?1 LIMIT ?2)",
                                   &e);
    if (st == NULL)
        return e;
    sqlite3_bind_int64(st, 1, now_ms - s->dedup_window_ms);
    sqlite3_bind_int(st, 2, PURGE_BATCH);
    int rc = store_step_done(st);
    if (rc != SQLITE_OK)
        return store_map_rc(rc);
    *full = sqlite3_changes(s->wdb) >= PURGE_BATCH;
    return EVB_OK;
}

/* ---- reads ---- */

/* Builds an event from a row of EVENT_COLS (store_int.h: the dispatcher reads events too). */
evb_err store_event_from_row(sqlite3_stmt *st, evb_event **out)
{
    evb_event *ev = calloc(1, sizeof *ev);
    if (ev == NULL)
        return EVB_ERR_NOMEM;
    int ok = 1;
    ev->seq = sqlite3_column_int64(st, 0);
    ev->id = store_col_text(st, 1, &ok);
    ev->org = store_col_text(st, 2, &ok);
    ev->connector = store_col_text(st, 3, &ok);
    ev->type = store_col_text(st, 4, &ok);
    ev->source = store_col_text(st, 5, &ok);
    ev->subject = store_col_text(st, 6, &ok);
    ev->time = store_col_text(st, 7, &ok);
    ev->time_ms = sqlite3_column_int64(st, 8);
    ev->datacontenttype = store_col_text(st, 9, &ok);
    ev->dataschema = store_col_text(st, 10, &ok);
    ev->recv_ms = sqlite3_column_int64(st, 13);
    evb_err e = ok ? EVB_OK : EVB_ERR_NOMEM;
    if (e == EVB_OK && sqlite3_column_type(st, 11) != SQLITE_NULL)
        e = store_ext_decode((const char *)sqlite3_column_text(st, 11), ev);
    if (e == EVB_OK && sqlite3_column_type(st, 12) != SQLITE_NULL) {
        const void *b = sqlite3_column_blob(st, 12);
        size_t n = (size_t)sqlite3_column_bytes(st, 12);
        /* An empty payload stays distinct from no payload: non-NULL data, data_len 0. */
        ev->data = malloc(n > 0 ? n : 1);
        if (ev->data == NULL) {
            e = EVB_ERR_NOMEM;
        } else {
            if (n > 0)
                memcpy(ev->data, b, n);
            ev->data_len = n;
        }
    }
    if (e != EVB_OK) {
        evb_event_free(ev);
        return e;
    }
    *out = ev;
    return EVB_OK;
}

evb_err sq_get_event(evb_store *s, const char *id, const char *org, const char *connector,
                     evb_event **out)
{
    if (s == NULL || id == NULL || out == NULL)
        return EVB_ERR_INVALID;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = store_read_cached(s, RS_EVENT_GET,
                                  "SELECT " EVENT_COLS " FROM events WHERE id = ?1 "
                                  "AND (?2 IS NULL OR org = ?2) "
                                  "AND (?3 IS NULL OR connector = ?3) "
                                  "ORDER BY seq DESC LIMIT 1",
                                  &r, &st);
    if (e != EVB_OK)
        return e;
    store_bind_text(st, 1, id);
    store_bind_text(st, 2, org);
    store_bind_text(st, 3, connector);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        e = store_event_from_row(st, out);
    else
        e = rc == SQLITE_DONE ? EVB_ERR_NOT_FOUND : store_map_rc(rc);
    store_reader_put(s, r);
    return e;
}

enum { Q_ORG = 1, Q_CONNECTOR = 2, Q_TYPE = 4, Q_START = 8, Q_END = 16 };

/* One SQL text per combination of filters, so each can use the (org, connector, type,
 * time_ms) index as far as its filters go. Parameters: ?1 after_seq, ?2 org, ?3 connector,
 * ?4 type, ?5 start, ?6 end, ?7 row limit. */
static void list_sql(int mask, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "SELECT " EVENT_COLS " FROM events WHERE seq > ?1%s%s%s%s%s "
             "ORDER BY seq LIMIT ?7",
             mask & Q_ORG ? " AND org = ?2" : "", mask & Q_CONNECTOR ? " AND connector = ?3" : "",
             mask & Q_TYPE ? " AND type = ?4" : "", mask & Q_START ? " AND time_ms >= ?5" : "",
             mask & Q_END ? " AND time_ms < ?6" : "");
}

evb_err sq_list_events(evb_store *s, const evb_event_query *q, evb_event ***out, size_t *n_out,
                       int64_t *next_after_seq)
{
    if (s == NULL || q == NULL || out == NULL || n_out == NULL || next_after_seq == NULL ||
        !store_event_query_ok(q))
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    *next_after_seq = 0;
    int mask = (q->org ? Q_ORG : 0) | (q->connector ? Q_CONNECTOR : 0) | (q->type ? Q_TYPE : 0) |
               (q->start_ms != INT64_MIN ? Q_START : 0) | (q->end_ms != INT64_MAX ? Q_END : 0);
    char sql[512];
    list_sql(mask, sql, sizeof sql);

    evb_event **evs = calloc((size_t)q->limit, sizeof *evs);
    if (evs == NULL)
        return EVB_ERR_NOMEM;
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = store_read_cached(s, RS_EVENT_LIST0 + mask, sql, &r, &st);
    if (e != EVB_OK) {
        free(evs);
        return e;
    }
    sqlite3_bind_int64(st, 1, q->after_seq);
    store_bind_text(st, 2, q->org);
    store_bind_text(st, 3, q->connector);
    store_bind_text(st, 4, q->type);
    sqlite3_bind_int64(st, 5, q->start_ms);
    sqlite3_bind_int64(st, 6, q->end_ms);
    sqlite3_bind_int(st, 7, q->limit + 1);
    size_t n = 0;
    int more = 0;
    int rc = SQLITE_DONE;
    while (e == EVB_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == (size_t)q->limit) {
            more = 1;
            break;
        }
        e = store_event_from_row(st, &evs[n]);
        if (e == EVB_OK)
            n++;
    }
    if (e == EVB_OK && !more && rc != SQLITE_DONE)
        e = store_map_rc(rc);
    store_reader_put(s, r);
    if (e != EVB_OK) {
        evb_event_array_free(evs, n);
        return e;
    }
    if (n == 0) {
        free(evs);
        evs = NULL;
    }
    *out = evs;
    *n_out = n;
    *next_after_seq = more ? evs[n - 1]->seq : 0;
    return EVB_OK;
}

evb_err sq_count_events(evb_store *s, int64_t *out)
{
    if (s == NULL || out == NULL)
        return EVB_ERR_INVALID;
    return store_read_int64(s, RS_EVENT_COUNT, "SELECT count(*) FROM events", out);
}
