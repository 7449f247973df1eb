/* evbridge — private header of server/store/ (SQLite backend). Never included outside it,
 * except by the store's own unit tests (the store_test_* hooks at the end).
 *
 * Pieces and who owns what:
 *  - store.c    open/close/ready, data directory, database connection set-up;
 *  - writer.c   the job queue and the writer thread (group commit, retries); no SQL but
 *               the transaction-control statements;
 *  - migrate.c  numbered schema migrations;
 *  - events.c   event put (with dedup), get, list, count; dedup purge;
 *  - connectors.c, keys.c  metadata records;
 *  - actions.c, connections.c  routing records (store_routing.h);
 *  - deliveries.c  deliveries and filter traces created with their event; delivery reads;
 *  - dispatch.c  the dispatcher's outbox (store_dispatch.h): claim with lease, complete with
 *               attempts, next due time; dead_letters.c  dead-letter list and redrive;
 *  - readers.c  the pool of read-only connections;
 *  - records.c  free functions of records.h.
 * Internal functions shared between files are prefixed store_ (file-local ones are static).
 * A PostgreSQL backend would replace the SQL-bearing files; writer.c's queue and job model
 * carry over unchanged.
 */
#ifndef EVB_SERVER_STORE_INT_H
#define EVB_SERVER_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>

#include "server/store/store_backend.h"
#include "server/store/store_common_events.h"
#include "server/store/store_common_dispatch.h"

/* ---- write jobs ---- */

typedef struct store_job store_job;

/* What a job does. run executes inside the writer's transaction (within a savepoint of its
 * own) and returns the job's outcome; on a non-OK result its writes are rolled back. reset
 * (may be NULL) undoes in-memory effects of run (out-parameters) before a retry or after a
 * failure. complete runs exactly once, after the commit (err EVB_OK or the job's own
 * outcome) or after the failure; it may free the job. */
typedef struct store_job_ops {
    evb_err (*run)(evb_store *s, store_job *j);
    void (*reset)(store_job *j);
    void (*complete)(evb_store *s, store_job *j, evb_err err);
} store_job_ops;

struct store_job {
    store_job *next;
    const store_job_ops *ops;
    size_t bytes; /* what the job holds in memory, counted against queue_max_bytes from its
                     submission until its completion starts (event puts: store_put_bytes);
                     0 = not counted */
};

/* A job whose submitter waits for the outcome (metadata writes). Lives on the waiter's
 * stack: embed as the first member and pass to store_run_sync. */
typedef struct store_sync_job {
    store_job job;
    pthread_cond_t cv;
    int done;
    evb_err err;
} store_sync_job;

/* Queues j without waiting: EVB_ERR_LIMIT when the queue is full, EVB_ERR_UNAVAILABLE when
 * closing. Ownership of j passes to the queue only on EVB_OK. */
evb_err store_submit(evb_store *s, store_job *j);
/* Queues sj (waiting for room if the queue is full) and waits for its completion; returns
 * the job's outcome. sj->job.ops->complete must be store_sync_complete. */
evb_err store_run_sync(evb_store *s, store_sync_job *sj);
void store_sync_complete(evb_store *s, store_job *j, evb_err err);

/* Writer thread lifecycle (store.c calls these). */
evb_err store_writer_start(evb_store *s);
void store_writer_stop(evb_store *s); /* drains the queue, joins */

/* ---- writer connection: cached statements (writer thread only, or open/close) ---- */

enum store_wstmt_slot {
    WS_BEGIN,
    WS_COMMIT,
    WS_ROLLBACK,
    WS_SAVEPOINT,
    WS_RELEASE,
    WS_ROLLBACK_TO,
    WS_DEDUP_UPSERT,
    WS_DEDUP_GET,
    WS_DEDUP_PURGE,
    WS_EVENT_INSERT,
    WS_CONN_INSERT,
    WS_CONN_UPDATE,
    WS_CONN_DELETE,
    WS_KEY_INSERT,
    WS_KEY_REVOKE,
    WS_KEY_REVOKED_AT,
    WS_DELIVERY_INSERT,
    WS_FILTER_INSERT,
    WS_DISPATCH_CANDIDATES,
    WS_DISPATCH_HEAD,
    WS_DISPATCH_LEASE,
    WS_DISPATCH_PARK,
    WS_DISPATCH_COMPLETE,
    WS_DISPATCH_COMPLETE_FIND,
    WS_DISPATCH_ATTEMPT,
    WS_DISPATCH_UNPARK,
    WS_RETENTION_PURGE,
    WS__COUNT
};

/* The cached statement for slot, prepared from sql on first use. NULL on failure (*err set). */
sqlite3_stmt *store_wstmt(evb_store *s, int slot, const char *sql, evb_err *err);

/* ---- read-only connections ---- */

enum store_rstmt_slot {
    RS_EVENT_GET,
    RS_EVENT_COUNT,
    RS_CONN_GET,
    RS_CONN_LIST_ALL,
    RS_CONN_LIST_ISV,
    RS_KEY_GET,
    RS_KEY_LIST_ALL,
    RS_KEY_LIST_ACTIVE,
    RS_KEY_COUNT_ADMIN,
    RS_DISPATCH_EVENT,
    RS_DISPATCH_NEXT_DUE,
    RS_EVENT_LIST0, /* + a 5-bit mask of the filters present: 32 slots */
    RS__COUNT = RS_EVENT_LIST0 + 32
};

typedef struct store_reader {
    struct store_reader *next;
    sqlite3 *db;
    sqlite3_stmt *st[RS__COUNT];
} store_reader;

/* Borrows a reader (opened lazily up to the pool cap; waits when all are busy). */
evb_err store_reader_get(evb_store *s, store_reader **out);
void store_reader_put(evb_store *s, store_reader *r);
/* The reader's cached statement for slot (reset, bindings cleared). */
sqlite3_stmt *store_rstmt(store_reader *r, int slot, const char *sql, evb_err *err);
/* Borrows a reader and prepares sql on it (per call, not cached, for rare reads): on
 * EVB_OK the caller binds and steps *st, then calls store_read_end; on failure nothing is
 * held. */
evb_err store_read_begin(evb_store *s, const char *sql, store_reader **r, sqlite3_stmt **st);
/* Finalizes st and returns r to the pool. */
void store_read_end(evb_store *s, store_reader *r, sqlite3_stmt *st);
/* Borrows a reader and takes its cached statement for slot (store_rstmt): on EVB_OK the
 * caller binds and steps *st, then calls store_reader_put (which resets it); on failure
 * nothing is held. */
evb_err store_read_cached(evb_store *s, int slot, const char *sql, store_reader **r,
                          sqlite3_stmt **st);
/* Runs the cached one-row integer query sql (no parameters): *out = its first column; no
 * row is EVB_ERR_INTERNAL. */
evb_err store_read_int64(evb_store *s, int slot, const char *sql, int64_t *out);
void store_readers_close(evb_store *s);

/* ---- the store ---- */

#define STORE_READERS_MAX 16
#define STORE_BUSY_TIMEOUT_MS 5000

struct evb_store {
    const store_backend *be; /* first: store_head (store_backend.h) */
    char *dir;
    char *db_path;
    int64_t dedup_window_ms;
    int64_t retention_ms; /* < 0 = keep forever (retention.c) */
    size_t queue_cap;
    size_t queue_max_bytes;
    int max_batch;
    int synchronous_normal;
    int lock_fd; /* flock on <dir>/evbridge.lock: one process per data directory */

    /* writer connection and its statements */
    sqlite3 *wdb;
    sqlite3_stmt *wst[WS__COUNT];

    /* queue (guarded by mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv_work;  /* the writer waits for jobs or closing */
    pthread_cond_t cv_space; /* blocking submitters wait for room */
    store_job *head, *tail;
    size_t n_queued;
    size_t queued_bytes; /* store_job.bytes of the jobs submitted and not yet completed */
    int closing;

    /* writer thread */
    pthread_t writer;
    int writer_started;
    store_job **batch; /* max_batch slots, writer thread only */
    evb_err *results;  /* max_batch slots, writer thread only */
    int64_t next_purge_ms;
    int64_t next_probe_ms; /* readiness probe while not ready (writer.c) */
    int fail_queued;       /* a BEGIN failed: fail the jobs taken next at once (writer.c) */

    atomic_int ready;
    atomic_uint_fast64_t n_commits;   /* committed write transactions (group commits) */
    atomic_int test_fail_commits;     /* test hook: the commit hook vetoes commits */
    atomic_uint_fast64_t routing_gen; /* bumped after each committed action/connection change */
    atomic_uint_fast64_t config_gen;  /* bumped after each committed configuration change */

    /* read-only connection pool (guarded by rmu) */
    pthread_mutex_t rmu;
    pthread_cond_t rcv;
    store_reader *rfree;
    int r_open;
};

/* The SQLite backend's entries (sq_<entry>, store_backend.h), defined across the files. */
#define SQ_DECL_(ret, name, params) ret sq_##name params;
STORE_ENTRIES(SQ_DECL_)
#undef SQ_DECL_

/* ---- helpers shared by the SQLite files ---- */

/* Maps a SQLite result code to evb_err: I/O, full, read-only, busy, locked, corrupt ->
 * EVB_ERR_UNAVAILABLE; nomem -> EVB_ERR_NOMEM; toobig -> EVB_ERR_TOO_LARGE; constraint ->
 * EVB_ERR_INVALID; anything else -> EVB_ERR_INTERNAL. */
evb_err store_map_rc(int rc);
int64_t store_now_ms(void);
/* strdup that accepts NULL (returns NULL); *ok cleared on allocation failure. */
char *store_strdup(const char *src, int *ok);
/* A malloc'd copy of column col (NULL for SQL NULL); *ok cleared on allocation failure. */
char *store_col_text(sqlite3_stmt *st, int col, int *ok);
/* Binds a string or NULL. */
int store_bind_text(sqlite3_stmt *st, int idx, const char *v);
/* Steps st to completion expecting no rows, then resets it. Returns the SQLite code. */
int store_step_done(sqlite3_stmt *st);
/* v, or "" for NULL (NOT NULL text columns whose value is optional). */
const char *store_or_empty(const char *v);
/* Prepares sql on db (per call, not cached): *st is NULL on failure. */
evb_err store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st);
/* Runs a per-call write statement of the writer (parameters bound) to completion and
 * finalizes it; *changes gets the number of rows changed (0 on failure). A UNIQUE or
 * PRIMARY KEY violation is EVB_ERR_EXISTS, other errors as store_map_rc. */
evb_err store_exec_finalize(evb_store *s, sqlite3_stmt *st, int *changes);
/* Decodes the current row of st into the array element at slot (of the caller's type);
 * arg is the caller's. On failure it leaves nothing allocated. */
typedef evb_err (*store_row_fn)(sqlite3_stmt *st, void *slot, void *arg);
/* Steps st (parameters bound) once: row decodes the row into slot; EVB_ERR_NOT_FOUND when
 * there is none, else the step's error. Neither resets nor finalizes st. */
evb_err store_one_row(sqlite3_stmt *st, store_row_fn row, void *arg, void *slot);
/* store_row_fn: column 0 as malloc'd text into *(char **)slot; SQL NULL is a corrupt row
 * (EVB_ERR_INTERNAL). */
evb_err store_text_from_row(sqlite3_stmt *st, void *slot, void *arg);
/* Steps st (parameters bound) to its end, decoding each row with row into a new element of
 * a malloc'd array of elem_size-byte elements (room for first_cap, then doubling). *arr and
 * *n get the array (NULL when there is no row) and its decoded elements, also on error:
 * the caller frees them. Returns the first error of row, EVB_ERR_NOMEM, or the step's
 * error. Neither resets nor finalizes st. */
evb_err store_collect(sqlite3_stmt *st, size_t elem_size, size_t first_cap, store_row_fn row,
                      void *arg, void **arr, size_t *n);

/* migrate.c: brings the schema up to date (open time, single-threaded). */
evb_err store_migrate(sqlite3 *db, const char *db_path, evb_error *err);
/* events.c: one bounded batch of expired dedup keys (writer, inside a transaction).
 * Sets *full when the batch was full (more may remain). */
evb_err store_dedup_purge(evb_store *s, int64_t now_ms, int *full);
/* deliveries.c: inserts the deliveries and filter trace of a PUBLISHED item (ev->seq set),
 * inside the writer's transaction. now_ms is the creation time. */
evb_err store_put_item_routing(evb_store *s, const evb_put_item *it, int64_t now_ms);
/* actions.c: runs an action/connection write job (store_run_sync with ops) and, once it
 * has committed, bumps routing_gen. */
evb_err store_routing_run_sync(evb_store *s, store_sync_job *sj, const store_job_ops *ops);
/* writer.c: store_run_sync for a configuration write (connectors, keys, schemas, subject
 * config; store_routing_run_sync calls it too): once it has committed, bumps config_gen. */
evb_err store_config_run_sync(evb_store *s, store_sync_job *sj);

/* Decoders of an event and a delivery row (events.c, deliveries.c): the row's first
 * columns must be STORE_EVENT_COLS / STORE_DELIVERY_COLS (store_common_events.h). */
evb_err store_event_from_row(sqlite3_stmt *st, evb_event **out);
struct evb_delivery_rec;
evb_err store_delivery_from_row(sqlite3_stmt *st, struct evb_delivery_rec **out);

/* store_json_str_array: store_common_dispatch.h. */
struct evb_claim;
/* dispatch.c: loads the event of each claim (cs[i].delivery set, cs[i].event NULL) on a
 * reader; claims whose event is gone (purged, the delivery with it) are dropped and
 * *n shrinks. On error the claims are left as they are (the caller frees them). */
evb_err store_claims_load_events(evb_store *s, struct evb_claim *cs, size_t *n);

/* ---- test hooks (unit tests only) ---- */

/* Number of committed write transactions since open. */
uint64_t store_test_commits(const evb_store *s);
/* While on, every commit of the writer fails (as a real commit failure would). */
void store_test_fail_commits(evb_store *s, int on);
/* Runs one SQL statement on the writer connection inside a write transaction (e.g.
 * "PRAGMA max_page_count=..." to simulate a full disk). */
evb_err store_test_exec(evb_store *s, const char *sql);

#endif
