/* evbridge — PostgreSQL backend: dead letters. List an org's DEAD deliveries newest first
 * with their events, and redrive them. Contract in store_dispatch.h; the SQLite reference
 * is dead_letters.c, whose page token ("<update_ms>.<id>", store_common_dispatch.c) this
 * shares, so a token means the same on either backend.
 *
 * A page is a range below the token's (update_ms, id) on the partial indexes dead_by_org /
 * dead_by_connection (DEAD rows only). Ids compare and sort in byte order (COLLATE "C"),
 * as SQLite's do, whatever the database's collation. The list is one statement (one
 * snapshot); the events are read after it (a delivery whose event is gone is left out,
 * the token still moving past it). A redrive is one UPDATE in its own transaction, which
 * also announces the new due deliveries to every node's dispatcher (NOTIFY on commit).
 */
#include "server/store/pg_dispatch_int.h"
#include "server/store/pg_events_int.h"
#include "server/store/store_common_dispatch.h"

#include <stdlib.h>

/* ---- list ---- */

/* $1 org, $2 connection, $3 / $4 the token's update_ms / id, $5 the row limit. */
#define DEAD_PAGE(conn)                                                                            \
    "SELECT " STORE_DELIVERY_COLS " FROM deliveries WHERE org = $1::text AND state = 4 " conn      \
    "AND (update_ms, id COLLATE \"C\") < ($3::bigint, $4::text) "                                  \
    "ORDER BY update_ms DESC, id COLLATE \"C\" DESC LIMIT $5::int"

evb_err pg_dead_list(evb_store *s, const char *org, const char *connection_id, int limit,
                     const char *after_token, evb_claim **out, size_t *n_out, char **next_token_out)
{
    if (!store_dead_list_args_ok(org, limit, out, n_out, next_token_out))
        return EVB_ERR_INVALID;
    *out = NULL;
    *n_out = 0;
    *next_token_out = NULL;
    int64_t after_ms = 0;
    const char *after_id = NULL;
    evb_err e = store_dead_token_parse(after_token, &after_ms, &after_id);
    if (e != EVB_OK)
        return e;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, org);
    pg_p_text(&p, connection_id);
    pg_p_i64(&p, after_ms);
    pg_p_text(&p, after_id);
    pg_p_i64(&p, (int64_t)limit + 1);
    PGresult *r = NULL;
    e = pg_query(PG_STORE(s),
                 connection_id != NULL ? DEAD_PAGE("AND connection_id = $2::text ")
                                       : DEAD_PAGE("AND $2::text IS NULL "),
                 &p, &r);
    if (e != EVB_OK)
        return e;
    int rows = PQntuples(r);
    size_t n = 0;
    evb_claim *cs = rows > 0 ? calloc((size_t)rows, sizeof *cs) : NULL;
    if (rows > 0 && cs == NULL)
        e = EVB_ERR_NOMEM;
    for (int i = 0; cs != NULL && i < rows && i < limit && e == EVB_OK; i++) {
        e = pg_delivery_from_row(r, i, 0, &cs[n].delivery);
        if (e == EVB_OK)
            n++;
    }
    PQclear(r);
    /* The token comes from the last row read, even if its event turns out to be gone. */
    const evb_delivery_rec *last = cs != NULL && rows > limit && n > 0 ? cs[n - 1].delivery : NULL;
    if (e == EVB_OK)
        e = store_dead_token_next(last != NULL, last, next_token_out);
    size_t kept = n;
    if (e == EVB_OK)
        e = pg_claims_load_events(PG_STORE(s), cs, &kept);
    return store_dead_page_hand_out(e, cs, n, kept, out, n_out, next_token_out);
}

/* ---- redrive ---- */

typedef struct redrive_tx {
    const char *org;
    const char *connection_id;
    const char *ids_json; /* NULL = all of the connection */
    int64_t start_ms, end_ms, now_ms;
    int64_t count; /* out */
} redrive_tx;

#define REDRIVE_SET                                                                                \
    "UPDATE deliveries SET state = 0, next_ms = $6::bigint, attempts = 0, lease_ms = 0, "          \
    "park_ms = 0, update_ms = $6::bigint WHERE state = 4 AND org = $1::text "                      \
    "AND update_ms >= $4::bigint AND update_ms < $5::bigint AND "

static evb_err redrive_run(pg_store *ps, PGconn *c, void *arg)
{
    redrive_tx *x = arg;
    x->count = 0;
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, x->org);
    pg_p_text(&p, x->connection_id);
    pg_p_text(&p, x->ids_json);
    pg_p_i64(&p, x->start_ms);
    pg_p_i64(&p, x->end_ms);
    pg_p_i64(&p, x->now_ms);
    evb_err e = pg_cmd(c,
                       x->ids_json != NULL
                           ? REDRIVE_SET "id IN (SELECT json_array_elements_text($3::json)) "
                                         "AND ($2::text IS NULL OR connection_id = $2::text)"
                           : REDRIVE_SET "connection_id = $2::text AND $3::text IS NULL",
                       &p, &x->count);
    if (e == EVB_OK && x->count > 0)
        e = pg_notify_deliveries(ps, c);
    return e;
}

evb_err pg_dead_redrive(evb_store *s, const char *org, const char *connection_id,
                        const char *const *ids, size_t n_ids, int64_t start_ms, int64_t end_ms,
                        int64_t now_ms, int64_t *count_out)
{
    if (!store_redrive_args_ok(org, connection_id, ids, n_ids, count_out))
        return EVB_ERR_INVALID;
    *count_out = 0;
    char *ids_json = NULL;
    if (n_ids > 0) {
        evb_err e = store_json_str_array(ids, n_ids, &ids_json);
        if (e != EVB_OK)
            return e;
    }
    redrive_tx x = {.org = org,
                    .connection_id = connection_id,
                    .ids_json = ids_json,
                    .start_ms = start_ms,
                    .end_ms = end_ms,
                    .now_ms = now_ms};
    evb_err e = pg_tx(PG_STORE(s), redrive_run, &x);
    free(ids_json);
    if (e == EVB_OK)
        *count_out = x.count;
    return e;
}
