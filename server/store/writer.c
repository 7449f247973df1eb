/* evbridge — the write queue and the writer thread (group commit).
 *
 * Every write is a job on one bounded FIFO (mutex + condvars), bounded in jobs (queue_cap)
 * and in the bytes event puts hold (queue_max_bytes, counted until their completion starts:
 * a job count alone let 4096 puts of 100 events hold over 1 GB under overload,
 * docs/benchmarks.md "Memory"). The single writer thread
 * takes all waiting jobs up to max_batch and runs them in ONE transaction (BEGIN IMMEDIATE
 * ... COMMIT), each job inside a savepoint of its own: a job that fails on its own (a
 * duplicate name, a bad value) is rolled back to its savepoint and gets its own outcome
 * while the others still commit. If the transaction as a whole fails — a database fault in
 * a statement (full disk, I/O error, read-only file) or the COMMIT itself — everything is
 * rolled back and the jobs are retried one transaction each, so each gets its own outcome;
 * what still cannot commit completes with EVB_ERR_UNAVAILABLE. Nothing is ever reported as
 * done before its COMMIT returned OK. Completions run after the transaction, in queue order.
 *
 * Readiness (evb_store_ready) follows the last transaction that proved something: a failed
 * BEGIN, statement or COMMIT clears it; a commit that changed rows sets it. A commit that
 * wrote nothing (the dispatcher's idle claim, once a second) proves nothing — on a full
 * disk it still succeeds — and leaves the flag alone. While not ready the writer probes
 * about once a second with a one-page write that does not wait for locks (PRAGMA
 * user_version rewritten with its own value), so readiness comes back when the fault
 * clears even if no publisher writes (a load balancer gating on /readyz sends none).
 *
 * A BEGIN that fails (typically: another process holds the database's write lock for the
 * whole busy timeout) also fails the jobs that queued up meanwhile, at once: they would
 * otherwise wait out another busy timeout each, so that a publish during a lock answered
 * only after two or three timeouts (15 s seen). Jobs submitted after that try again.
 *
 * When idle (or at most once per second under load) and ready, the writer also purges
 * expired dedup keys and events past the retention (retention.h) in small batches, in a
 * transaction of their own.
 */
#include "server/store/store_int.h"

#include "common/log.h"
#include "common/timeutil.h"
#include "server/metrics/catalog.h"
#include "server/store/retention.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PURGE_INTERVAL_MS 1000
#define IDLE_WAIT_MS 1000
#define PROBE_INTERVAL_MS 1000

/* ---- queue ---- */

static void enqueue_locked(evb_store *s, store_job *j)
{
    j->next = NULL;
    if (s->tail != NULL)
        s->tail->next = j;
    else
        s->head = j;
    s->tail = j;
    s->n_queued++;
    pthread_cond_signal(&s->cv_work);
}

/* Bytes bound: a job that would take queued_bytes past queue_max_bytes waits outside
 * (EVB_ERR_LIMIT) unless nothing counted is in the queue or being written, so a single job
 * of any size still passes. */
evb_err store_submit(evb_store *s, store_job *j)
{
    evb_err e = EVB_OK;
    pthread_mutex_lock(&s->mu);
    if (s->closing) {
        e = EVB_ERR_UNAVAILABLE;
    } else if (s->n_queued >= s->queue_cap || (j->bytes > 0 && s->queued_bytes > 0 &&
                                               s->queued_bytes + j->bytes > s->queue_max_bytes)) {
        e = EVB_ERR_LIMIT;
    } else {
        s->queued_bytes += j->bytes;
        enqueue_locked(s, j);
    }
    pthread_mutex_unlock(&s->mu);
    return e;
}

evb_err store_run_sync(evb_store *s, store_sync_job *sj)
{
    /* Waiting on the writer from the writer (a completion) would never return. */
    if (s->writer_started && pthread_equal(pthread_self(), s->writer))
        return EVB_ERR_INTERNAL;
    sj->done = 0;
    sj->err = EVB_OK;
    sj->job.bytes = 0; /* the waiter's own memory: bounded by the waiting threads */
    if (pthread_cond_init(&sj->cv, NULL) != 0)
        return EVB_ERR_NOMEM;
    evb_err e = EVB_OK;
    pthread_mutex_lock(&s->mu);
    while (!s->closing && s->n_queued >= s->queue_cap)
        pthread_cond_wait(&s->cv_space, &s->mu);
    if (s->closing) {
        e = EVB_ERR_UNAVAILABLE;
    } else {
        enqueue_locked(s, &sj->job);
        while (!sj->done)
            pthread_cond_wait(&sj->cv, &s->mu);
        e = sj->err;
    }
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&sj->cv);
    return e;
}

evb_err store_config_run_sync(evb_store *s, store_sync_job *sj)
{
    evb_err e = store_run_sync(s, sj);
    if (e == EVB_OK)
        atomic_fetch_add(&s->config_gen, 1);
    return e;
}

void store_sync_complete(evb_store *s, store_job *j, evb_err err)
{
    store_sync_job *sj = (store_sync_job *)j;
    pthread_mutex_lock(&s->mu);
    sj->err = err;
    sj->done = 1;
    pthread_cond_signal(&sj->cv);
    pthread_mutex_unlock(&s->mu); /* sj may be gone from here on */
}

/* ---- transactions ---- */

static int tx(evb_store *s, int slot, const char *sql)
{
    evb_err e = EVB_OK;
    sqlite3_stmt *st = store_wstmt(s, slot, sql, &e);
    if (st == NULL)
        return SQLITE_ERROR;
    return store_step_done(st);
}

static void rollback_if_open(evb_store *s)
{
    if (!sqlite3_get_autocommit(s->wdb))
        tx(s, WS_ROLLBACK, "ROLLBACK");
}

/* A transaction failed for want of storage: not ready; the first probe one interval on.
 * Call it before the ROLLBACK, which would replace the connection's error message. Logs
 * the change of state only, not every failure. */
static void set_unavailable(evb_store *s)
{
    if (atomic_exchange(&s->ready, 0)) {
        s->next_probe_ms = store_now_ms() + PROBE_INTERVAL_MS;
        evb_log_warn("store",
                     "database %s cannot take writes: %s; writes answer "
                     "unavailable until it can (not ready)",
                     s->db_path, sqlite3_errmsg(s->wdb));
    }
}

static void set_ready(evb_store *s)
{
    if (!atomic_exchange(&s->ready, 1))
        evb_log_info("store", "database %s takes writes again (ready)", s->db_path);
}

/* A transaction committed: ready again if it changed rows (see the top of the file). */
static void note_commit(evb_store *s, sqlite3_int64 changes_before)
{
    if (sqlite3_total_changes64(s->wdb) != changes_before)
        set_ready(s);
}

/* BEGIN IMMEDIATE; on failure the store is unavailable and the jobs queued meanwhile are
 * failed at once by the writer's next round (fail_queued). */
static int begin(evb_store *s)
{
    if (tx(s, WS_BEGIN, "BEGIN IMMEDIATE") == SQLITE_OK)
        return 1;
    set_unavailable(s);
    rollback_if_open(s);
    s->fail_queued = 1;
    return 0;
}

/* A job error that means the transaction itself is lost, not just this job. */
static int tx_lost(evb_store *s, evb_err e)
{
    return e == EVB_ERR_UNAVAILABLE || sqlite3_get_autocommit(s->wdb);
}

static void reset_job(store_job *j)
{
    if (j->ops->reset != NULL)
        j->ops->reset(j);
}

/* The job's bytes stop counting as its completion starts (which may free it): a
 * submitter that saw its completion finds them gone. */
static void finish(evb_store *s, store_job *j, evb_err e)
{
    if (e != EVB_OK)
        reset_job(j);
    if (j->bytes > 0) {
        pthread_mutex_lock(&s->mu);
        s->queued_bytes -= j->bytes;
        pthread_mutex_unlock(&s->mu);
    }
    j->ops->complete(s, j, e);
}

enum { TOGETHER_COMMITTED, TOGETHER_FAILED, TOGETHER_NO_TX };

/* All jobs in one transaction, a savepoint each. res[i] gets each job's own outcome. */
static int run_together(evb_store *s, store_job **jobs, int n, evb_err *res)
{
    if (!begin(s))
        return TOGETHER_NO_TX;
    for (int i = 0; i < n; i++) {
        reset_job(jobs[i]);
        if (tx(s, WS_SAVEPOINT, "SAVEPOINT job") != SQLITE_OK)
            goto fail;
        evb_err e = jobs[i]->ops->run(s, jobs[i]);
        if (e == EVB_OK) {
            if (tx(s, WS_RELEASE, "RELEASE job") != SQLITE_OK)
                goto fail;
        } else {
            if (tx_lost(s, e))
                goto fail;
            if (tx(s, WS_ROLLBACK_TO, "ROLLBACK TO job") != SQLITE_OK ||
                tx(s, WS_RELEASE, "RELEASE job") != SQLITE_OK)
                goto fail;
        }
        res[i] = e;
    }
    if (tx(s, WS_COMMIT, "COMMIT") != SQLITE_OK)
        goto fail;
    return TOGETHER_COMMITTED;
fail:
    rollback_if_open(s);
    return TOGETHER_FAILED;
}

/* One transaction per job. When even BEGIN fails the database is unusable right now: the
 * remaining jobs fail at once instead of each waiting out the busy timeout. */
static void run_individually(evb_store *s, store_job **jobs, int n, int no_tx)
{
    for (int i = 0; i < n; i++) {
        store_job *j = jobs[i];
        if (no_tx) {
            finish(s, j, EVB_ERR_UNAVAILABLE);
            continue;
        }
        reset_job(j);
        sqlite3_int64 changes = sqlite3_total_changes64(s->wdb);
        if (!begin(s)) {
            no_tx = 1;
            finish(s, j, EVB_ERR_UNAVAILABLE);
            continue;
        }
        int64_t t0 = evb_mono_ns();
        evb_err e = j->ops->run(s, j);
        if (e != EVB_OK) {
            if (e == EVB_ERR_UNAVAILABLE)
                set_unavailable(s);
            rollback_if_open(s);
            finish(s, j, e);
            continue;
        }
        if (tx(s, WS_COMMIT, "COMMIT") != SQLITE_OK) {
            set_unavailable(s);
            rollback_if_open(s);
            evb_mx_store_commit(0, 1, 0);
            finish(s, j, EVB_ERR_UNAVAILABLE);
            continue;
        }
        evb_mx_store_commit((double)(evb_mono_ns() - t0) / 1e9, 1, 1);
        atomic_fetch_add(&s->n_commits, 1);
        note_commit(s, changes);
        finish(s, j, EVB_OK);
    }
}

static void run_batch(evb_store *s, store_job **jobs, int n)
{
    int64_t t0 = evb_mono_ns();
    sqlite3_int64 changes = sqlite3_total_changes64(s->wdb);
    int r = n > 1 ? run_together(s, jobs, n, s->results) : TOGETHER_FAILED;
    if (n > 1)
        evb_mx_store_commit((double)(evb_mono_ns() - t0) / 1e9, n, r == TOGETHER_COMMITTED);
    if (r != TOGETHER_COMMITTED) {
        run_individually(s, jobs, n, r == TOGETHER_NO_TX);
        return;
    }
    atomic_fetch_add(&s->n_commits, 1);
    note_commit(s, changes);
    for (int i = 0; i < n; i++)
        finish(s, jobs[i], s->results[i]);
}

/* The jobs taken right after a failed BEGIN: they queued while it waited out the busy
 * timeout; they fail now instead of waiting it out again (see the top of the file). */
static void fail_batch(evb_store *s, store_job **jobs, int n)
{
    for (int i = 0; i < n; i++)
        finish(s, jobs[i], EVB_ERR_UNAVAILABLE);
}

/* ---- readiness probe ---- */

/* While not ready: one small write transaction per PROBE_INTERVAL_MS that does not wait
 * for locks; readiness follows its outcome. */
static void maybe_probe(evb_store *s)
{
    int64_t now = store_now_ms();
    if (atomic_load(&s->ready) || now < s->next_probe_ms)
        return;
    s->next_probe_ms = now + PROBE_INTERVAL_MS;
    sqlite3_busy_timeout(s->wdb, 0);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->wdb, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    int ok = 0;
    if (rc == SQLITE_ROW && tx(s, WS_BEGIN, "BEGIN IMMEDIATE") == SQLITE_OK) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %lld", (long long)v);
        ok = sqlite3_exec(s->wdb, sql, NULL, NULL, NULL) == SQLITE_OK &&
             tx(s, WS_COMMIT, "COMMIT") == SQLITE_OK;
    }
    rollback_if_open(s);
    sqlite3_busy_timeout(s->wdb, STORE_BUSY_TIMEOUT_MS);
    if (ok)
        set_ready(s);
}

/* ---- dedup purge and retention (retention.h) ---- */

static void maybe_purge(evb_store *s)
{
    int64_t now = store_now_ms();
    if (now < s->next_purge_ms)
        return;
    int full = 0, full_events = 0;
    sqlite3_int64 changes = sqlite3_total_changes64(s->wdb);
    if (!begin(s)) {
        /* unavailable now: the probe takes over */
    } else if (store_dedup_purge(s, now, &full) != EVB_OK ||
               store_retention_purge(s, now, &full_events) != EVB_OK ||
               tx(s, WS_COMMIT, "COMMIT") != SQLITE_OK) {
        set_unavailable(s);
        rollback_if_open(s);
        full = full_events = 0;
    } else {
        note_commit(s, changes);
    }
    int64_t every = s->dedup_window_ms / 2;
    if (every > PURGE_INTERVAL_MS)
        every = PURGE_INTERVAL_MS;
    if (every < 10)
        every = 10;
    s->next_purge_ms = full || full_events ? now : now + every;
}

/* ---- the thread ---- */

static void *writer_main(void *arg)
{
    evb_store *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        if (s->head == NULL)
            s->fail_queued = 0; /* nothing queued up while a BEGIN waited */
        while (s->head == NULL && !s->closing) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += IDLE_WAIT_MS / 1000;
            if (pthread_cond_timedwait(&s->cv_work, &s->mu, &ts) == ETIMEDOUT)
                break;
        }
        if (s->head == NULL && s->closing) {
            pthread_mutex_unlock(&s->mu);
            break;
        }
        int n = 0;
        while (s->head != NULL && n < s->max_batch) {
            store_job *j = s->head;
            s->head = j->next;
            j->next = NULL;
            s->batch[n++] = j;
        }
        if (s->head == NULL)
            s->tail = NULL;
        s->n_queued -= (size_t)n;
        if (n > 0)
            pthread_cond_broadcast(&s->cv_space);
        pthread_mutex_unlock(&s->mu);

        int fail_now = s->fail_queued;
        s->fail_queued = 0;
        if (n > 0 && fail_now)
            fail_batch(s, s->batch, n);
        else if (n > 0)
            run_batch(s, s->batch, n);
        if (atomic_load(&s->ready))
            maybe_purge(s);
        else
            maybe_probe(s);
    }
    return NULL;
}

evb_err store_writer_start(evb_store *s)
{
    s->next_purge_ms = store_now_ms();
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
        return EVB_ERR_NOMEM;
    s->writer_started = 1;
    return EVB_OK;
}

void store_writer_stop(evb_store *s)
{
    pthread_mutex_lock(&s->mu);
    s->closing = 1;
    pthread_cond_broadcast(&s->cv_work);
    pthread_cond_broadcast(&s->cv_space);
    pthread_mutex_unlock(&s->mu);
    if (s->writer_started) {
        pthread_join(s->writer, NULL);
        s->writer_started = 0;
    }
}

/* ---- test hook: run one SQL statement in the writer ---- */

typedef struct exec_job {
    store_sync_job sync;
    const char *sql;
} exec_job;

static evb_err exec_run(evb_store *s, store_job *j)
{
    exec_job *x = (exec_job *)j;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->wdb, x->sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = store_step_done(st);
    sqlite3_finalize(st);
    return store_map_rc(rc);
}

static const store_job_ops exec_ops = {exec_run, NULL, store_sync_complete};

evb_err store_test_exec(evb_store *s, const char *sql)
{
    exec_job x = {.sync = {.job = {.ops = &exec_ops}}, .sql = sql};
    return store_run_sync(s, &x.sync);
}
