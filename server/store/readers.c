/* evbridge — the pool of read-only connections.
 *
 * Reads never go through the writer: in WAL mode a reader sees the last committed state
 * and is not blocked by the writer's open transaction. A connection is used by one thread
 * at a time (SQLITE_OPEN_NOMUTEX), so the pool is a mutex-protected free list; connections
 * are opened lazily, one per concurrently reading thread, up to STORE_READERS_MAX, beyond
 * which readers wait for one to come back. Each connection caches its prepared statements
 * by slot (store_int.h), so a hot read costs a reset and a few binds (store_read_cached).
 * Rare reads prepare their statement per call instead (store_read_begin/_end).
 */
#include "server/store/store_int.h"

#include <stdlib.h>

static evb_err open_reader(evb_store *s, store_reader **out)
{
    store_reader *r = calloc(1, sizeof *r);
    if (r == NULL)
        return EVB_ERR_NOMEM;
    int rc = sqlite3_open_v2(s->db_path, &r->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(r->db);
        free(r);
        return store_map_rc(rc);
    }
    sqlite3_extended_result_codes(r->db, 1);
    sqlite3_busy_timeout(r->db, STORE_BUSY_TIMEOUT_MS);
    *out = r;
    return EVB_OK;
}

static void close_reader(store_reader *r)
{
    for (int i = 0; i < RS__COUNT; i++)
        sqlite3_finalize(r->st[i]);
    sqlite3_close(r->db);
    free(r);
}

evb_err store_reader_get(evb_store *s, store_reader **out)
{
    pthread_mutex_lock(&s->rmu);
    for (;;) {
        if (s->rfree != NULL) {
            store_reader *r = s->rfree;
            s->rfree = r->next;
            r->next = NULL;
            pthread_mutex_unlock(&s->rmu);
            *out = r;
            return EVB_OK;
        }
        if (s->r_open < STORE_READERS_MAX)
            break;
        pthread_cond_wait(&s->rcv, &s->rmu);
    }
    s->r_open++; /* reserve the slot, open outside the lock */
    pthread_mutex_unlock(&s->rmu);
    evb_err e = open_reader(s, out);
    if (e != EVB_OK) {
        pthread_mutex_lock(&s->rmu);
        s->r_open--;
        pthread_cond_signal(&s->rcv);
        pthread_mutex_unlock(&s->rmu);
    }
    return e;
}

void store_reader_put(evb_store *s, store_reader *r)
{
    if (r == NULL)
        return;
    /* A statement left mid-rows would pin an old WAL snapshot (stale reads, no checkpoint). */
    for (int i = 0; i < RS__COUNT; i++)
        if (r->st[i] != NULL)
            sqlite3_reset(r->st[i]);
    pthread_mutex_lock(&s->rmu);
    r->next = s->rfree;
    s->rfree = r;
    pthread_cond_signal(&s->rcv);
    pthread_mutex_unlock(&s->rmu);
}

sqlite3_stmt *store_rstmt(store_reader *r, int slot, const char *sql, evb_err *err)
{
    if (r->st[slot] == NULL) {
        int rc = sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &r->st[slot], NULL);
        if (rc != SQLITE_OK) {
            *err = store_map_rc(rc);
            r->st[slot] = NULL;
            return NULL;
        }
    }
    sqlite3_reset(r->st[slot]);
    sqlite3_clear_bindings(r->st[slot]);
    return r->st[slot];
}

evb_err store_read_begin(evb_store *s, const char *sql, store_reader **r, sqlite3_stmt **st)
{
    evb_err e = store_reader_get(s, r);
    if (e != EVB_OK)
        return e;
    e = store_prepare((*r)->db, sql, st);
    if (e != EVB_OK) {
        store_reader_put(s, *r);
        *r = NULL;
    }
    return e;
}

void store_read_end(evb_store *s, store_reader *r, sqlite3_stmt *st)
{
    sqlite3_finalize(st);
    store_reader_put(s, r);
}

evb_err store_read_cached(evb_store *s, int slot, const char *sql, store_reader **r,
                          sqlite3_stmt **st)
{
    evb_err e = store_reader_get(s, r);
    if (e != EVB_OK)
        return e;
    *st = store_rstmt(*r, slot, sql, &e);
    if (*st == NULL) {
        store_reader_put(s, *r);
        *r = NULL;
    }
    return e;
}

evb_err store_read_int64(evb_store *s, int slot, const char *sql, int64_t *out)
{
    store_reader *r = NULL;
    sqlite3_stmt *st = NULL;
    evb_err e = store_read_cached(s, slot, sql, &r, &st);
    if (e != EVB_OK)
        return e;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    else
        e = store_map_rc(rc == SQLITE_DONE ? SQLITE_INTERNAL : rc);
    store_reader_put(s, r);
    return e;
}

void store_readers_close(evb_store *s)
{
    pthread_mutex_lock(&s->rmu);
    store_reader *r = s->rfree;
    s->rfree = NULL;
    s->r_open = 0;
    pthread_mutex_unlock(&s->rmu);
    while (r != NULL) {
        store_reader *next = r->next;
        close_reader(r);
        r = next;
    }
}
