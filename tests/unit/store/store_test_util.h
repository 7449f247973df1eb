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
/* Opens a store on dir with the options o (data_dir and url are filled in here). */
evb_store *open_store_with(const char *dir, evb_store_options *o);
/* The same with a dedup window and a queue capacity (0: the defaults). */
evb_store *open_store_opts(const char *dir, int64_t window_ms, size_t queue_cap);

/* Runs an integer query directly on <dir>/evbridge.db (read-only): the first column of the
 * first row, -1 when it fails or returns no row. */
int64_t db_int(const char *dir, const char *sql);
/* Runs SQL statements directly on <dir>/evbridge.db; returns the SQLite code. */
int db_exec(const char *dir, const char *sql);

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
 * queue (and run as one batch once the gate opens). */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int entered, open;
    evb_event *ev;
    evb_put_item item;
} gate;
/* Puts ev (taking it) and returns once the writer sits in its completion. */
void gate_close(evb_store *s, gate *g, evb_event *ev);
void gate_open(gate *g);
/* After the writer has left the gate (i.e. after a later job completed). */
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
