/* evbridge — PostgreSQL backend: metadata records from query results. Contract in
 * pg_common_meta.h.
 *
 * A store_row over a PGresult row (text columns are copied, integers parsed; results are
 * in text format), and the one-row / every-row loops the metadata entries share. The
 * record decoders themselves are the SQLite backend's too (store_common_meta.c).
 */
#include "server/store/pg_common_meta.h"

#include <stdlib.h>

static char *row_text(const store_row *r, int col, int *ok)
{
    return pg_text(r->src, r->row, col, ok);
}

static int64_t row_i64(const store_row *r, int col)
{
    return pg_i64(r->src, r->row, col);
}

void store_row_pg(store_row *r, PGresult *res, int row)
{
    *r = (store_row){.text = row_text, .i64 = row_i64, .src = res, .row = row};
}

evb_err pg_rec_collect(PGresult *res, size_t elem_size, store_rec_fn fn, void **arr, size_t *n)
{
    *arr = NULL;
    *n = 0;
    int rows = PQntuples(res);
    if (rows <= 0)
        return EVB_OK;
    unsigned char *v = calloc((size_t)rows, elem_size);
    if (v == NULL)
        return EVB_ERR_NOMEM;
    *arr = v;
    for (int i = 0; i < rows; i++) {
        store_row r;
        store_row_pg(&r, res, i);
        evb_err e = fn(&r, v + (size_t)i * elem_size);
        if (e != EVB_OK)
            return e;
        (*n)++;
    }
    return EVB_OK;
}

static evb_err first_row(PGresult *res, store_rec_fn fn, void *slot)
{
    if (PQntuples(res) == 0)
        return EVB_ERR_NOT_FOUND;
    store_row r;
    store_row_pg(&r, res, 0);
    return fn(&r, slot);
}

evb_err pg_rec_one(PGconn *c, const char *sql, const pg_params *p, store_rec_fn fn, void *slot)
{
    PGresult *res = NULL;
    evb_err e = pg_exec(c, sql, p, &res);
    if (e == EVB_OK)
        e = first_row(res, fn, slot);
    PQclear(res);
    return e;
}

evb_err pg_rec_get(pg_store *ps, const char *sql, const pg_params *p, store_rec_fn fn, void *slot)
{
    PGresult *res = NULL;
    evb_err e = pg_query(ps, sql, p, &res);
    if (e == EVB_OK)
        e = first_row(res, fn, slot);
    PQclear(res);
    return e;
}

evb_err pg_rec_list(pg_store *ps, const char *sql, const pg_params *p, size_t elem_size,
                    store_rec_fn fn, void **arr, size_t *n)
{
    *arr = NULL;
    *n = 0;
    PGresult *res = NULL;
    evb_err e = pg_query(ps, sql, p, &res);
    if (e == EVB_OK)
        e = pg_rec_collect(res, elem_size, fn, arr, n);
    PQclear(res);
    return e;
}
