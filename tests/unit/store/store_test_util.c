/* evbridge — helpers shared by the store's unit tests; see store_test_util.h.
 *
 * Temporary directories are removed with nftw (depth first, not following links); a test
 * may have made one read-only (bad data directory cases), so removal restores 0700 first.
 * Direct database access opens its own SQLite connection, beside the store's.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "tests/unit/store/store_test_util.h"

#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

char *tmpdir_new(const char *tag)
{
    char tmpl[64];
    snprintf(tmpl, sizeof tmpl, "/tmp/evb-%s-XXXXXX", tag);
    char *d = mkdtemp(tmpl);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    if (d == NULL) /* for the analyzer: the FATAL assertion does not return */
        abort();
    return strdup(d);
}

void tmpdir_free(char *d)
{
    chmod(d, 0700);
    nftw(d, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(d);
}

evb_store *open_store_opts(const char *dir, int64_t window_ms, size_t queue_cap)
{
    evb_store_options o = {.data_dir = dir, .dedup_window_ms = window_ms, .queue_cap = queue_cap};
    evb_store *s = NULL;
    evb_error err;
    evb_err e = evb_store_open(&o, &s, &err);
    if (e != EVB_OK)
        fprintf(stderr, "open: %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(e, EVB_OK);
    return s;
}

evb_store *open_store(const char *dir)
{
    return open_store_opts(dir, 0, 0);
}

int64_t db_int(const char *dir, const char *sql)
{
    char path[512];
    snprintf(path, sizeof path, "%s/evbridge.db", dir);
    sqlite3 *db = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

int db_exec(const char *dir, const char *sql)
{
    char path[512];
    snprintf(path, sizeof path, "%s/evbridge.db", dir);
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

/* ---- waiting for a put ---- */

void waiter_init(waiter *w)
{
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->done = 0;
    w->err = EVB_ERR_INTERNAL;
}

void waiter_cb(void *arg, evb_err err)
{
    waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->err = err;
    w->done = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

evb_err waiter_wait(waiter *w)
{
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    evb_err e = w->err;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    return e;
}

evb_err put_wait(evb_store *s, evb_put_item *items, size_t n)
{
    waiter w;
    waiter_init(&w);
    evb_err e = evb_store_put_events(s, items, n, waiter_cb, &w);
    if (e != EVB_OK) {
        pthread_mutex_destroy(&w.mu);
        pthread_cond_destroy(&w.cv);
        return e;
    }
    return waiter_wait(&w);
}

/* ---- the gate ---- */

static void gate_cb(void *arg, evb_err err)
{
    (void)err;
    gate *g = arg;
    pthread_mutex_lock(&g->mu);
    g->entered = 1;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

void gate_close(evb_store *s, gate *g, evb_event *ev)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->entered = g->open = 0;
    g->ev = ev;
    g->item = (evb_put_item){.ev = g->ev};
    CU_ASSERT_EQUAL_FATAL(evb_store_put_events(s, &g->item, 1, gate_cb, g), EVB_OK);
    pthread_mutex_lock(&g->mu);
    while (!g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

void gate_open(gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void gate_fini(gate *g)
{
    evb_event_free(g->ev);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
}

/* ---- main ---- */

int run_suite(const char *suite, const store_test *tests)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite su = CU_add_suite(suite, NULL, NULL);
    for (const store_test *t = tests; t->name != NULL; t++)
        CU_add_test(su, t->name, t->fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures > 0 ? 1 : 0;
}
