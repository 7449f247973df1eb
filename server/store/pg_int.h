/* evbridge — private header of the PostgreSQL backend (pg_*.c in server/store/). Never
 * included outside server/store/.
 *
 * Pieces and who owns what:
 *  - pg_store.c    open/close/ready, generations, the backend table;
 *  - pg_conn.c     the connection pool, statements with parameters, result decoding,
 *                  SQLSTATE -> evb_err, transactions with retry (pg_tx);
 *  - pg_writer.c   the write queue and W writer threads (group commit per thread) for
 *                  event puts and asynchronous delivery completions;
 *  - pg_listen.c   one LISTEN connection: remote configuration changes and new deliveries;
 *  - pg_migrate.c  numbered migrations under an advisory lock (nodes may start together);
 *  - pg_events.c   put (dedup, deliveries, filter trace), get, list, count, dedup purge;
 *  - pg_meta.c     connectors and API keys; pg_routing.c actions and connections;
 *  - pg_schemas.c  schema registry and subject configuration;
 *  - pg_deliveries.c  delivery reads, filter traces, attempts, stats;
 *  - pg_dispatch.c claim (FOR UPDATE SKIP LOCKED + lease), complete, give back, next due,
 *                  replay; pg_dead.c dead letters and redrive.
 * Every entry pg_<name> has the contract of evb_store_<name> (store_backend.h). Functions
 * shared between the pg files are prefixed pg_.
 *
 * Multi-node rules every pg file keeps:
 *  - nothing is cached in process that another node may change, except through the
 *    generations (config_gen, routing_gen), which pg_listen bumps on remote changes;
 *  - a transaction that changes configuration runs pg_notify_config() before it commits;
 *    one that creates due deliveries (or makes held ones pending) runs
 *    pg_notify_deliveries() (PostgreSQL delivers NOTIFY only on commit and folds
 *    duplicates within a transaction);
 *  - a serialization failure or deadlock (SQLSTATE 40001 / 40P01) is EVB_ERR_CONFLICT from
 *    pg_exec and is retried whole by pg_tx / the writer; never half-applied.
 */
#ifndef EVB_SERVER_STORE_PG_INT_H
#define EVB_SERVER_STORE_PG_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "server/store/store_backend.h"

typedef struct pg_store pg_store;

/* The PostgreSQL backend's entries (pg_<entry>, store_backend.h). */
#define PG_DECL_(ret, name, params) ret pg_##name params;
STORE_ENTRIES(PG_DECL_)
#undef PG_DECL_

/* The store behind an evb_store handle of this backend. */
#define PG_STORE(s) ((pg_store *)(void *)(s))

/* An internal "retry the whole transaction" outcome (serialization failure, deadlock).
 * Never leaves the backend: pg_tx and the writer retry, then report EVB_ERR_UNAVAILABLE. */
#define EVB_ERR_CONFLICT ((evb_err)(EVB_ERR__COUNT + 100))

/* ---- write jobs (pg_writer.c) ---- */

typedef struct pg_job pg_job;
/* run executes inside a writer transaction on conn and returns the job's outcome (a job
 * error other than EVB_ERR_CONFLICT / EVB_ERR_UNAVAILABLE makes the writer roll back and
 * rerun the batch's jobs one transaction each, so this job alone fails). reset (may be
 * NULL) undoes run's in-memory effects before a rerun. complete runs exactly once, after
 * the commit (EVB_OK or the job's own error) or the failure (EVB_ERR_UNAVAILABLE: nothing
 * of the job was committed); it may free the job; it must not block. */
typedef struct pg_job_ops {
    evb_err (*run)(pg_store *ps, PGconn *conn, pg_job *j);
    void (*reset)(pg_job *j);
    void (*complete)(pg_store *ps, pg_job *j, evb_err err);
    /* Optional: runs n (> 1) consecutive jobs of these ops as run would one after the
     * other, in fewer statements. Returns EVB_OK, a transaction-level error (EVB_ERR_
     * CONFLICT, EVB_ERR_UNAVAILABLE), or the own error of one job with *failed its index
     * (the writer then reruns the batch's jobs one transaction each, with run). */
    evb_err (*run_many)(pg_store *ps, PGconn *conn, pg_job **jobs, int n, int *failed);
} pg_job_ops;

struct pg_job {
    pg_job *next;
    const pg_job_ops *ops;
    int wakes; /* set by run: the job created due deliveries (the writer notifies and calls
                  the local wake hook after the commit) */
    /* memory the job holds, counted against queue_max_bytes until its completion starts
     * (event puts: store_put_bytes); 0 = not counted */
    size_t bytes;
};

/* Queues j: EVB_ERR_LIMIT when the queue is full (queue_cap jobs, or j's bytes would pass
 * queue_max_bytes while other counted jobs are queued or being written), EVB_ERR_UNAVAILABLE
 * when closing. */
evb_err pg_submit(pg_store *ps, pg_job *j);
evb_err pg_writer_start(pg_store *ps);
/* 1 on a writer thread (inside a job's run or completion). Synchronous writes (pg_tx)
 * refuse to run there with EVB_ERR_INTERNAL, as the SQLite store does: the contracts
 * forbid them in put completions. */
int pg_on_writer_thread(void);
void pg_writer_stop(pg_store *ps); /* completes what is queued, joins */

/* ---- connections (pg_conn.c) ---- */

/* Borrows a connection (opens one when the pool has none idle and fewer than the cap are
 * open; waits otherwise). EVB_ERR_UNAVAILABLE when the server cannot be reached. */
evb_err pg_conn_get(pg_store *ps, PGconn **out);
/* Returns c to the pool (closed instead when it is broken or in a transaction). */
void pg_conn_put(pg_store *ps, PGconn *c);
/* Opens a new connection (not pooled) with the store's settings. */
evb_err pg_connect(pg_store *ps, PGconn **out, evb_error *err);
void pg_pool_close(pg_store *ps);

/* Parameters of one statement, in text format (bytes: binary). Up to PG_MAX_PARAMS. */
#define PG_MAX_PARAMS 24
typedef struct pg_params {
    int n;
    const char *v[PG_MAX_PARAMS];
    int len[PG_MAX_PARAMS];
    int fmt[PG_MAX_PARAMS];
    char num[PG_MAX_PARAMS][24];
} pg_params;
void pg_params_init(pg_params *p);
void pg_p_text(pg_params *p, const char *v); /* NULL = SQL NULL */
void pg_p_i64(pg_params *p, int64_t v);
void pg_p_bytes(pg_params *p, const void *v, size_t len); /* bytea; v NULL = SQL NULL */

/* Runs sql ($1..$n = p; p may be NULL). On EVB_OK *res (may be NULL: then freed here)
 * holds the result (PQclear it). Errors, mapped from SQLSTATE: unique violation ->
 * EVB_ERR_EXISTS; other integrity violations and bad values -> EVB_ERR_INVALID; 40001,
 * 40P01 -> EVB_ERR_CONFLICT; connection loss, disk full, read-only, shutdown, too many
 * connections -> EVB_ERR_UNAVAILABLE; out of memory -> EVB_ERR_NOMEM; the rest
 * EVB_ERR_INTERNAL (logged with the server's message). */
evb_err pg_exec(PGconn *c, const char *sql, const pg_params *p, PGresult **res);
/* pg_exec expecting a command: *changes (may be NULL) = rows affected. */
evb_err pg_cmd(PGconn *c, const char *sql, const pg_params *p, int64_t *changes);

/* A malloc'd copy of a text column (NULL for SQL NULL); *ok cleared on allocation failure. */
char *pg_text(const PGresult *r, int row, int col, int *ok);
/* An integer column (0 for NULL). */
int64_t pg_i64(const PGresult *r, int row, int col);
/* A bytea column (text format) as malloc'd bytes (NULL for SQL NULL; *len its length). */
void *pg_bytes(const PGresult *r, int row, int col, size_t *len, int *ok);
int pg_isnull(const PGresult *r, int row, int col);

/* Runs fn inside BEGIN ... COMMIT on a pooled connection, retrying the whole transaction
 * on EVB_ERR_CONFLICT (a few times, then EVB_ERR_UNAVAILABLE). fn returns the outcome; a
 * non-OK outcome rolls back. fn may run more than once: it must not keep effects of a
 * rolled-back run (reset its outputs first). */
typedef evb_err (*pg_tx_fn)(pg_store *ps, PGconn *c, void *arg);
evb_err pg_tx(pg_store *ps, pg_tx_fn fn, void *arg);
/* A configuration write: pg_tx whose transaction also runs pg_notify_config; after the
 * commit bumps config_gen (and routing_gen when routing is set). */
evb_err pg_config_tx(pg_store *ps, int routing, pg_tx_fn fn, void *arg);
/* Inside a transaction: announce a configuration change / new due deliveries to every
 * node (sent on commit). Channels are "<schema>.evb_config", "<schema>.evb_routing" and
 * "<schema>.evb_deliveries", <schema> the session's current schema, so deployments (and
 * test runs) in different schemas of one database do not wake each other. The payload is
 * the store's node_id: the listener skips its own node's notifications (the local
 * generations were bumped at commit already). */
evb_err pg_notify_config(pg_store *ps, PGconn *c, int routing);
evb_err pg_notify_deliveries(pg_store *ps, PGconn *c);

/* Reads (no transaction): borrow, pg_exec, return. *res as pg_exec. */
evb_err pg_query(pg_store *ps, const char *sql, const pg_params *p, PGresult **res);

/* ---- listener (pg_listen.c) ---- */

evb_err pg_listen_start(pg_store *ps);
void pg_listen_stop(pg_store *ps);

/* ---- migrations (pg_migrate.c) ---- */

/* Brings the schema up to date on c, under an advisory lock so nodes starting together
 * take turns. EVB_ERR_PRECONDITION when the database is newer than this binary. */
evb_err pg_migrate(PGconn *c, evb_error *err);

/* ---- the store ---- */

#define PG_POOL_MAX 16
#define PG_WRITERS 2
enum { PG_CHAN_CONFIG, PG_CHAN_ROUTING, PG_CHAN_DELIVERIES };

struct pg_store {
    const store_backend *be; /* first: store_head (store_backend.h) */
    char *url;
    char chan[3][96]; /* notification channels: config, routing, deliveries */
    char node_id[33]; /* random per open store: the payload of its notifications, so the
                         listener can tell (and skip) this node's own */
    int64_t dedup_window_ms;
    int64_t retention_ms; /* < 0 = keep forever (retention.h) */
    size_t queue_cap;
    size_t queue_max_bytes;
    int max_batch;

    /* connection pool (guarded by pmu) */
    pthread_mutex_t pmu;
    pthread_cond_t pcv;
    PGconn *idle[PG_POOL_MAX];
    int n_idle, n_open;

    /* write queue (guarded by mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv_work;
    pg_job *head, *tail;
    size_t n_queued;
    size_t queued_bytes; /* pg_job.bytes submitted and not yet completed */
    int closing;
    pthread_t writers[PG_WRITERS];
    int n_writers;
    int64_t next_purge_ms; /* guarded by mu */

    /* listener */
    pthread_t listener;
    int listener_started;
    atomic_int listen_stop;

    atomic_int ready;
    atomic_uint_fast64_t routing_gen;
    atomic_uint_fast64_t config_gen;

    pthread_mutex_t wmu; /* guards wake_fn / wake_arg, listen_ready */
    pthread_cond_t listen_cv;
    int listen_ready; /* the listener's first attempt to LISTEN is over */
    evb_store_wake_fn wake_fn;
    void *wake_arg;
};

/* Calls the remote-wake hook (pg_listen.c, after a NOTIFY from another node). */
void pg_wake_remote(pg_store *ps);

/* pg_events.c: one bounded batch of expired dedup keys; *full when the batch was full. */
evb_err pg_dedup_purge(pg_store *ps, PGconn *c, int64_t now_ms, int *full);

#endif
