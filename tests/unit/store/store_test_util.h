/* evbridge — helpers shared by the store's unit tests (tests/unit/store): a temporary data
 * directory per test, opening a store, integer queries and statements run directly on the
 * database file, waiting for a put's completion, a gate that holds the writer so later
 * jobs pile up, and the CUnit main. Assertion failures inside a helper count against the
 * calling test (CUnit records them where they happen).
 */
#ifndef EVB_TESTS_UNIT_STORE_TEST_UTIL_H
#define EVB_TESTS_UNIT_STORE_TEST_UTIL_H

#include <CUnit/Basic.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "server/store/store.h"

/* A new mkdtemp directory /tmp/evb-<tag>-XXXXXX (malloc'd; FATAL assertion on failure). */
char *tmpdir_new(const char *tag);
/* Makes d writable again (0700), removes it recursively and frees the string. */
void tmpdir_free(char *d);

/* The PostgreSQL URL the suite runs on (EVB_TEST_PG_URL), NULL for SQLite (store_test_util.c
 * explains how each test gets a schema of its own). */
const char *test_pg_url(void);

/* Opens a store on dir with the default options (FATAL assertion on failure). */
evb_store *open_store(const char *dir);
/* Opens a store on dir with the options o (data_dir and url are filled in here; a
 * retention_ms of 0 becomes -1, keep forever: the tests' events were received in 1970). */
evb_store *open_store_with(const char *dir, evb_store_options *o);
/* The same without the assertion: evb_store_open's outcome (*out NULL on error). */
evb_err open_store_try(const char *dir, evb_store_options *o, evb_store **out, evb_error *err);
/* The same with a dedup window and a queue capacity (0: the defaults). */
evb_store *open_store_opts(const char *dir, int64_t window_ms, size_t queue_cap);

/* Runs an integer query directly on <dir>/evbridge.db (read-only): the first column of the
 * first row, -1 when it fails or returns no row. */
int64_t db_int(const char *dir, const char *sql);
/* Runs SQL statements directly on <dir>/evbridge.db; returns the SQLite code. */
int db_exec(const char *dir, const char *sql);

/* ---- backend differences ---- */

/* On PostgreSQL prints "SKIPPED on PostgreSQL: <reason>" (the suite counts them) and
 * returns 1; on SQLite returns 0. For a test, or part of one, that only SQLite has:
 * if (skip_on_pg("why")) return;  or  if (!skip_on_pg("why")) { SQLite-only part } */
int skip_on_pg(const char *reason);
/* The migration step of the running backend that holds SQLite's step sqlite_step: the
 * same on SQLite; on PostgreSQL (pg_migrate.c) 1 for 1 and 2 for every later step. */
int test_step(int sqlite_step);
/* How many of the named indexes (a SQL list, e.g. "'a', 'b'") the database has. */
int64_t db_index_count(const char *dir, const char *names);
/* Takes the database back to what an older evbridged left, before (SQLite) step
 * sqlite_step: SQLite runs sqlite_sql (the test's DROP/DELETE statements); PostgreSQL drops
 * every table of its step 2 and later and their schema_version rows (step 1 is the oldest
 * PostgreSQL schema). Returns db_exec's code. */
int db_rewind(const char *dir, int sqlite_step, const char *sqlite_sql);
/* Runs SQL on the database of the open store s (in dir): SQLite on the writer's connection
 * (store_test_exec), PostgreSQL on a connection of its own. */
evb_err store_sql(evb_store *s, const char *dir, const char *sql);
/* While on, every commit that changed something fails as a failing disk would (the store
 * answers EVB_ERR_UNAVAILABLE). SQLite: store_test_fail_commits (every commit of the
 * writer); PostgreSQL: a deferred trigger on every table raising disk_full at COMMIT. */
void fail_commits(evb_store *s, const char *dir, int on);
/* The SQLite writer's commit count (store_test_commits); PostgreSQL has none: prints a skip
 * note and returns 0, and CU_ASSERT_COMMITS checks nothing there. */
uint64_t commits_mark(evb_store *s);
uint64_t commits_since(evb_store *s, uint64_t mark); /* SQLite only */
#define CU_ASSERT_COMMITS(s, mark, n)                                                              \
    do {                                                                                           \
        if (test_pg_url() == NULL)                                                                 \
            CU_ASSERT_EQUAL(commits_since((s), (mark)), (uint64_t)(n));                            \
    } while (0)

/* Waits for one completion: waiter_init, pass waiter_cb with the waiter as its argument,
 * then waiter_wait (returns the completion's err and destroys the waiter). */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    evb_err err;
} waiter;
void waiter_init(waiter *w);
void waiter_cb(void *arg, evb_err err);
evb_err waiter_wait(waiter *w);

/* Submits items and waits for their completion; returns the completion's err (or the
 * submission error). */
evb_err put_wait(evb_store *s, evb_put_item *items, size_t n);

/* A gate that holds the writer inside a put's completion, so later jobs pile up in the
 * queue (and run as one batch once the gate opens). PostgreSQL has several writer threads:
 * the gate holds each of them (putting the same event once per writer; it is stored once). */
#define GATE_MAX_WRITERS 8
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, left, open, n;
    evb_event *ev;
    evb_put_item items[GATE_MAX_WRITERS];
} gate;
/* Puts ev (taking it) and returns once every writer sits in a completion. */
void gate_close(evb_store *s, gate *g, evb_event *ev);
void gate_open(gate *g);
/* Waits until every writer has left the gate, then frees it. */
void gate_fini(gate *g);

/* One test of a suite; a table ends with {NULL, NULL}. */
typedef struct store_test {
    const char *name;
    CU_TestFunc fn;
} store_test;
/* Runs the tests as one verbose CUnit suite: the exit code of main (0, 1 when any assertion
 * failed, 2 when CUnit cannot start). */
int run_suite(const char *suite, const store_test *tests);

#endif
