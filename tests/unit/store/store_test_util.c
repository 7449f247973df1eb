/* evbridge — helpers shared by the store's unit tests; see store_test_util.h.
 *
 * Temporary directories are removed with nftw (depth first, not following links); a test
 * may have made one read-only (bad data directory cases), so removal restores 0700 first.
 * Direct database access opens its own SQLite connection, beside the store's.
 *
 * Backend: with EVB_TEST_PG_URL set (a postgres:// URI, e.g. from scripts/pg-cluster.sh)
 * every store opens on PostgreSQL instead, in a schema of its own named after the test's
 * temporary directory (so a reopen finds the same data and tests never see each other's);
 * db_int / db_exec then run on that schema, and tmpdir_free drops it.
 *
 * What only one backend has is behind the helpers of "backend differences" below: a test
 * calls skip_on_pg for what only SQLite has (printed, counted in the suite's summary),
 * and fail_commits, store_sql, commits_mark, test_step, db_index_count and db_rewind hide
 * how each backend does the same thing. PostgreSQL has PG_WRITERS writer threads, so the
 * gate holds each of them (see gate_close).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "tests/unit/store/store_test_util.h"

#include <ctype.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "server/store/pg_int.h"    /* PG_WRITERS */
#include "server/store/store_int.h" /* the SQLite writer's test hooks */

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

/* ---- PostgreSQL (EVB_TEST_PG_URL) ---- */

const char *test_pg_url(void)
{
    const char *u = getenv("EVB_TEST_PG_URL");
    return u != NULL && u[0] != '\0' ? u : NULL;
}

/* The schema of dir: "t_" + the name of the test's temporary directory (the path's
 * "evb-<tag>-XXXXXX" component, so a directory below it, with or without a trailing slash,
 * has the same schema and tmpdir_free drops it), lower-cased, [a-z0-9_] only. */
static void pg_schema_of(const char *dir, char *out, size_t cap)
{
    const char *b = strstr(dir, "/evb-");
    if (b == NULL)
        b = strrchr(dir, '/');
    b = b != NULL ? b + 1 : dir;
    size_t n = 0;
    n += (size_t)snprintf(out, cap, "t_");
    for (; *b != '\0' && *b != '/' && n + 1 < cap; b++)
        out[n++] = isalnum((unsigned char)*b) ? (char)tolower((unsigned char)*b) : '_';
    out[n] = '\0';
}

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Runs sql on a connection whose search_path is dir's schema (created when create is
 * set). Returns the result (NULL when the connection failed); *conn_out keeps the
 * connection for the caller to PQfinish. */
static PGresult *pg_run(const char *dir, const char *sql, int create, PGconn **conn_out)
{
    char schema[96], q[256];
    pg_schema_of(dir, schema, sizeof schema);
    PGconn *c = PQconnectdb(test_pg_url());
    *conn_out = c;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "EVB_TEST_PG_URL: %s", PQerrorMessage(c));
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL); /* "schema ... already exists, skipping" */
    if (create) {
        snprintf(q, sizeof q, "CREATE SCHEMA IF NOT EXISTS %s", schema);
        PQclear(PQexec(c, q));
    }
    snprintf(q, sizeof q, "SET search_path TO %s", schema);
    PQclear(PQexec(c, q));
    return PQexec(c, sql);
}

/* The store URL for dir: the test URL with options=-csearch_path=<schema>. */
static char *pg_store_url(const char *dir)
{
    char schema[96];
    pg_schema_of(dir, schema, sizeof schema);
    PGconn *c = NULL;
    PQclear(pg_run(dir, "SELECT 1", 1, &c)); /* creates the schema */
    PQfinish(c);
    const char *u = test_pg_url();
    size_t n = strlen(u) + 128;
    char *url = malloc(n);
    CU_ASSERT_PTR_NOT_NULL_FATAL(url);
    snprintf(url, n, "%s%soptions=-csearch_path%%3D%s", u, strchr(u, '?') != NULL ? "&" : "?",
             schema);
    return url;
}

void tmpdir_free(char *d)
{
    if (test_pg_url() != NULL) {
        char schema[96], q[160];
        pg_schema_of(d, schema, sizeof schema);
        snprintf(q, sizeof q, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
        PGconn *c = NULL;
        PQclear(pg_run(d, q, 0, &c));
        PQfinish(c);
    }
    chmod(d, 0700);
    nftw(d, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    free(d);
}

evb_err open_store_try(const char *dir, evb_store_options *o, evb_store **out, evb_error *err)
{
    o->data_dir = dir;
    if (o->retention_ms == 0)
        o->retention_ms = -1; /* tests put events received long ago (1970) */
    char *url = test_pg_url() != NULL ? pg_store_url(dir) : NULL;
    o->url = url;
    *out = NULL;
    evb_err e = evb_store_open(o, out, err);
    free(url);
    o->url = NULL;
    return e;
}

evb_store *open_store_with(const char *dir, evb_store_options *o)
{
    evb_store *s = NULL;
    evb_error err;
    evb_err e = open_store_try(dir, o, &s, &err);
    if (e != EVB_OK)
        fprintf(stderr, "open: %s\n", err.message);
    CU_ASSERT_EQUAL_FATAL(e, EVB_OK);
    return s;
}

evb_store *open_store_opts(const char *dir, int64_t window_ms, size_t queue_cap)
{
    evb_store_options o = {.dedup_window_ms = window_ms, .queue_cap = queue_cap};
    return open_store_with(dir, &o);
}

evb_store *open_store(const char *dir)
{
    return open_store_opts(dir, 0, 0);
}

int64_t db_int(const char *dir, const char *sql)
{
    if (test_pg_url() != NULL) {
        PGconn *c = NULL;
        PGresult *r = pg_run(dir, sql, 0, &c);
        int64_t v = -1;
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        PQfinish(c);
        return v;
    }
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
    if (test_pg_url() != NULL) { /* SQLITE_OK or SQLITE_ERROR, as callers expect */
        PGconn *c = NULL;
        PGresult *r = pg_run(dir, sql, 0, &c);
        ExecStatusType st = PQresultStatus(r);
        PQclear(r);
        PQfinish(c);
        return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? SQLITE_OK : SQLITE_ERROR;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/evbridge.db", dir);
    sqlite3 *db = NULL;
    int rc = sqlite3_open(path, &db);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_close(db);
    return rc;
}

/* ---- backend differences ---- */

static int n_skipped; /* skip_on_pg notes printed by this binary */

int skip_on_pg(const char *reason)
{
    if (test_pg_url() == NULL)
        return 0;
    printf("\n    SKIPPED on PostgreSQL: %s\n", reason);
    fflush(stdout);
    n_skipped++;
    return 1;
}

int test_step(int sqlite_step)
{
    if (test_pg_url() == NULL || sqlite_step <= 1)
        return sqlite_step;
    return 2; /* pg_migrate.c: step 2 holds SQLite's steps 2-5 */
}

int64_t db_index_count(const char *dir, const char *names)
{
    char sql[1024];
    if (test_pg_url() != NULL)
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND "
                 "indexname IN (%s)",
                 names);
    else
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN (%s)", names);
    return db_int(dir, sql);
}

/* PostgreSQL: every table but those of step 1 (pg_migrate.c) and schema_version. */
static const char PG_REWIND_TO_STEP1[] =
    "DO $$ DECLARE t text; BEGIN"
    " FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    "  AND tablename NOT IN ('events', 'dedup_keys', 'connectors', 'api_keys', 'schema_version')"
    " LOOP EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', t); END LOOP; END $$;"
    "DELETE FROM schema_version WHERE version >= 2;";

int db_rewind(const char *dir, int sqlite_step, const char *sqlite_sql)
{
    if (test_pg_url() == NULL)
        return db_exec(dir, sqlite_sql);
    CU_ASSERT_EQUAL_FATAL(test_step(sqlite_step), 2); /* the only earlier PostgreSQL step */
    return db_exec(dir, PG_REWIND_TO_STEP1);
}

evb_err store_sql(evb_store *s, const char *dir, const char *sql)
{
    if (test_pg_url() == NULL)
        return store_test_exec(s, sql);
    return db_exec(dir, sql) == SQLITE_OK ? EVB_OK : EVB_ERR_INTERNAL;
}

/* PostgreSQL: a deferred constraint trigger on every table raises disk_full (SQLSTATE
 * 53100, which the store maps to EVB_ERR_UNAVAILABLE) when a transaction that changed a
 * row commits. */
static const char PG_FAIL_ON[] =
    "CREATE OR REPLACE FUNCTION evb_test_fail() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN RAISE EXCEPTION 'evb unit test: commits fail' USING ERRCODE = 'disk_full'; END"
    " $f$;"
    "DO $$ DECLARE t text; BEGIN"
    " FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    " LOOP EXECUTE format('CREATE CONSTRAINT TRIGGER evb_test_fail AFTER INSERT OR UPDATE OR"
    " DELETE ON %I DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION"
    " evb_test_fail()', t); END LOOP; END $$;";
static const char PG_FAIL_OFF[] =
    "DO $$ DECLARE t text; BEGIN"
    " FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    " LOOP EXECUTE format('DROP TRIGGER IF EXISTS evb_test_fail ON %I', t); END LOOP; END $$;";

void fail_commits(evb_store *s, const char *dir, int on)
{
    if (test_pg_url() == NULL)
        store_test_fail_commits(s, on);
    else
        CU_ASSERT_EQUAL_FATAL(db_exec(dir, on ? PG_FAIL_ON : PG_FAIL_OFF), SQLITE_OK);
}

uint64_t commits_mark(evb_store *s)
{
    if (skip_on_pg("counting group commits (store_test_commits is a hook of the SQLite "
                   "writer)"))
        return 0;
    return store_test_commits(s);
}

uint64_t commits_since(evb_store *s, uint64_t mark)
{
    return store_test_commits(s) - mark;
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
    g->entered++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    g->left++;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

void gate_close(evb_store *s, gate *g, evb_event *ev)
{
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->entered = g->left = g->open = 0;
    g->ev = ev;
    /* One job per writer thread: once a writer sits in the gate the next job goes to
     * another one. The same event again is answered DEDUPLICATED (or fails with the first
     * while commits fail), so the store holds it once either way. */
    g->n = test_pg_url() != NULL ? PG_WRITERS : 1;
    CU_ASSERT_FATAL(g->n <= GATE_MAX_WRITERS);
    for (int i = 0; i < g->n; i++) {
        g->items[i] = (evb_put_item){.ev = g->ev};
        CU_ASSERT_EQUAL_FATAL(evb_store_put_events(s, &g->items[i], 1, gate_cb, g), EVB_OK);
        pthread_mutex_lock(&g->mu);
        while (g->entered <= i)
            pthread_cond_wait(&g->cv, &g->mu);
        pthread_mutex_unlock(&g->mu);
    }
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
    pthread_mutex_lock(&g->mu); /* every writer out of gate_cb before the mutex goes */
    while (g->left < g->entered)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
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
    if (n_skipped > 0)
        printf("%d test(s) or part(s) SKIPPED on PostgreSQL (see above)\n", n_skipped);
    unsigned failures = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failures > 0 ? 1 : 0;
}
