/* evbridge — small SQLite helpers shared by the store's files: result-code mapping,
 * column and binding helpers, the wall clock, per-call statements (prepare, execute), and
 * reading rows: one, or all of them into a growing array through a decoder callback (the
 * array is untyped bytes, so each file keeps its typed decoder and free function), and the
 * store_row view of a statement's row for the decoders both backends share
 * (store_common_meta.h).
 *
 * SQLite codes stop here: store_map_rc turns them into evb_err so no caller outside
 * server/store/ ever sees one. Faults of the database as a whole (I/O, full disk, read-only
 * file, lock contention, corruption) become EVB_ERR_UNAVAILABLE: the request may succeed
 * later, and the writer treats them as a failed transaction rather than a bad job.
 */
#include "server/store/store_int.h"
#include "server/store/store_common_meta.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

evb_err store_map_rc(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW:
        return EVB_OK;
    case SQLITE_NOMEM:
        return EVB_ERR_NOMEM;
    case SQLITE_TOOBIG:
        return EVB_ERR_TOO_LARGE;
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
        return EVB_ERR_INVALID;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_PERM:
    case SQLITE_NOLFS:
    case SQLITE_AUTH:
    case SQLITE_ABORT:
        return EVB_ERR_UNAVAILABLE;
    default:
        return EVB_ERR_INTERNAL;
    }
}

int64_t store_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *store_strdup(const char *src, int *ok)
{
    if (src == NULL)
        return NULL;
    size_t n = strlen(src) + 1;
    char *d = malloc(n);
    if (d == NULL) {
        *ok = 0;
        return NULL;
    }
    memcpy(d, src, n);
    return d;
}

char *store_col_text(sqlite3_stmt *st, int col, int *ok)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return NULL;
    const unsigned char *t = sqlite3_column_text(st, col);
    if (t == NULL) { /* out of memory converting the value */
        *ok = 0;
        return NULL;
    }
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    char *d = malloc(n + 1);
    if (d == NULL) {
        *ok = 0;
        return NULL;
    }
    memcpy(d, t, n);
    d[n] = '\0';
    return d;
}

int store_bind_text(sqlite3_stmt *st, int idx, const char *v)
{
    if (v == NULL)
        return sqlite3_bind_null(st, idx);
    return sqlite3_bind_text(st, idx, v, -1, SQLITE_STATIC);
}

int store_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

const char *store_or_empty(const char *v)
{
    return v != NULL ? v : "";
}

evb_err store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        return store_map_rc(rc);
    }
    return EVB_OK;
}

evb_err store_exec_finalize(evb_store *s, sqlite3_stmt *st, int *changes)
{
    int rc = store_step_done(st);
    sqlite3_finalize(st);
    *changes = rc == SQLITE_OK ? sqlite3_changes(s->wdb) : 0;
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return EVB_ERR_EXISTS;
    return store_map_rc(rc);
}

evb_err store_one_row(sqlite3_stmt *st, store_row_fn row, void *arg, void *slot)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return row(st, slot, arg);
    return rc == SQLITE_DONE ? EVB_ERR_NOT_FOUND : store_map_rc(rc);
}

evb_err store_text_from_row(sqlite3_stmt *st, void *slot, void *arg)
{
    (void)arg;
    int ok = 1;
    char *text = store_col_text(st, 0, &ok);
    if (!ok || text == NULL)
        return ok ? EVB_ERR_INTERNAL : EVB_ERR_NOMEM;
    *(char **)slot = text;
    return EVB_OK;
}

evb_err store_collect(sqlite3_stmt *st, size_t elem_size, size_t first_cap, store_row_fn row,
                      void *arg, void **arr, size_t *n)
{
    unsigned char *v = NULL;
    size_t len = 0, cap = 0;
    evb_err e = EVB_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : first_cap;
            unsigned char *g = realloc(v, ncap * elem_size);
            if (g == NULL) {
                e = EVB_ERR_NOMEM;
                break;
            }
            v = g;
            cap = ncap;
        }
        e = row(st, v + len * elem_size, arg);
        if (e != EVB_OK)
            break;
        len++;
    }
    if (e == EVB_OK && rc != SQLITE_DONE)
        e = store_map_rc(rc);
    *arr = v;
    *n = len;
    return e;
}

/* ---- store_row over a statement (store_common_meta.h) ---- */

static char *row_text(const store_row *r, int col, int *ok)
{
    return store_col_text(r->src, col, ok);
}

static int64_t row_i64(const store_row *r, int col)
{
    return sqlite3_column_int64(r->src, col);
}

void store_row_sqlite(store_row *r, sqlite3_stmt *st)
{
    *r = (store_row){.text = row_text, .i64 = row_i64, .src = st};
}
