/* evbridge — PostgreSQL backend: the write queue and the writer threads (group commit).
 *
 * Event puts and asynchronous delivery completions are jobs on one FIFO, bounded in jobs
 * and in the bytes event puts hold, as SQLite's (writer.c). Each of
 * PG_WRITERS threads owns a connection, takes every waiting job up to max_batch and runs
 * them in ONE transaction: one commit (one WAL flush) for the batch, as SQLite's writer.
 * Consecutive jobs whose kind can run several at once (pg_job_ops.run_many: delivery
 * completions) do so, in fewer statements.
 * Several writers keep the server busy while one waits for its commit. When a job fails
 * on its own (a delivery id taken, a bad value), the batch is rolled back and its jobs
 * rerun one transaction each, so only that job fails. A serialization failure or deadlock
 * (another node touched the same keys) reruns the batch. A lost connection or a failed
 * COMMIT completes the batch's jobs with EVB_ERR_UNAVAILABLE: nothing is reported done
 * before COMMIT returned OK. (When the connection drops during COMMIT the outcome is
 * unknown to us; a publisher's retry is then answered DEDUPLICATED — at least once.)
 * A transaction whose jobs created due deliveries sends NOTIFY evb_deliveries, so the
 * other nodes' dispatchers wake. Once a second the writers also purge expired dedup keys
 * and events past the retention (retention.h), or, while not ready, probe with one tiny
 * write so readiness returns by itself when the fault clears.
 */
#include "server/store/pg_int.h"

#include "common/log.h"
#include "common/timeutil.h"
#include "server/store/retention.h"

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define PURGE_INTERVAL_MS 1000
#define IDLE_WAIT_MS 1000
#define BATCH_ATTEMPTS 5

static _Thread_local int on_writer;

int pg_on_writer_thread(void)
{
    return on_writer;
}

/* ---- queue ---- */

evb_err pg_submit(pg_store *ps, pg_job *j)
{
    evb_err e = EVB_OK;
    j->next = NULL;
    j->wakes = 0;
    pthread_mutex_lock(&ps->mu);
    if (ps->closing) {
        e = EVB_ERR_UNAVAILABLE;
    } else if (ps->n_queued >= ps->queue_cap ||
               (j->bytes > 0 && ps->queued_bytes > 0 &&
                ps->queued_bytes + j->bytes > ps->queue_max_bytes)) {
        e = EVB_ERR_LIMIT;
    } else {
        ps->queued_bytes += j->bytes;
        if (ps->tail != NULL)
            ps->tail->next = j;
        else
            ps->head = j;
        ps->tail = j;
        ps->n_queued++;
        pthread_cond_signal(&ps->cv_work);
    }
    pthread_mutex_unlock(&ps->mu);
    return e;
}

/* Takes up to max jobs (waiting for one at most IDLE_WAIT_MS); *purge is set when it is
 * this writer's turn to purge dedup keys. Returns the number taken; -1 when closing and
 * the queue is empty. */
static int take(pg_store *ps, pg_job **batch, int max, int *purge)
{
    pthread_mutex_lock(&ps->mu);
    if (ps->head == NULL && !ps->closing) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += IDLE_WAIT_MS / 1000;
        pthread_cond_timedwait(&ps->cv_work, &ps->mu, &ts);
    }
    if (ps->head == NULL && ps->closing) {
        pthread_mutex_unlock(&ps->mu);
        return -1;
    }
    int n = 0;
    while (ps->head != NULL && n < max) {
        pg_job *j = ps->head;
        ps->head = j->next;
        if (ps->head == NULL)
            ps->tail = NULL;
        ps->n_queued--;
        j->next = NULL;
        batch[n++] = j;
    }
    int64_t now = evb_now_ms();
    *purge = 0;
    if (!ps->closing && now >= ps->next_purge_ms) {
        ps->next_purge_ms = now + PURGE_INTERVAL_MS;
        *purge = 1;
    }
    pthread_mutex_unlock(&ps->mu);
    return n;
}

/* ---- one writer ---- */

typedef struct writer {
    pg_store *ps;
    PGconn *conn;
    pg_job **batch;
    evb_err *results;
} writer;

static evb_err ensure_conn(writer *w)
{
    if (w->conn != NULL && PQstatus(w->conn) == CONNECTION_OK)
        return EVB_OK;
    if (w->conn != NULL)
        PQfinish(w->conn);
    w->conn = NULL;
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = pg_connect(w->ps, &w->conn, &e);
    if (rc != EVB_OK)
        evb_log_warn("store", "writer: %s", e.message);
    return rc;
}

static void rollback(writer *w)
{
    if (w->conn != NULL && PQstatus(w->conn) == CONNECTION_OK &&
        PQtransactionStatus(w->conn) != PQTRANS_IDLE)
        pg_cmd(w->conn, "ROLLBACK", NULL, NULL);
}

/* Runs jobs [from, to) in one transaction. Returns EVB_OK when it committed (results[]
 * hold EVB_OK), the first job's own error (results[i] set for that job: the caller
 * reruns alone), or a transaction-level error (EVB_ERR_CONFLICT, EVB_ERR_UNAVAILABLE). */
static evb_err run_tx(writer *w, int from, int to, int *failed_job)
{
    *failed_job = -1;
    evb_err e = ensure_conn(w);
    if (e != EVB_OK)
        return e;
    e = pg_cmd(w->conn, "BEGIN", NULL, NULL);
    int wakes = 0;
    for (int i = from; i < to && e == EVB_OK;) {
        pg_job *j = w->batch[i];
        int k = i + 1; /* consecutive jobs of the same kind run together when they can */
        while (j->ops->run_many != NULL && k < to && w->batch[k]->ops == j->ops)
            k++;
        if (k - i > 1) {
            int failed = -1;
            for (int m = i; m < k; m++)
                w->batch[m]->wakes = 0;
            e = j->ops->run_many(w->ps, w->conn, &w->batch[i], k - i, &failed);
            for (int m = i; m < k; m++)
                wakes |= w->batch[m]->wakes;
            if (e != EVB_OK && e != EVB_ERR_CONFLICT && e != EVB_ERR_UNAVAILABLE)
                *failed_job = failed >= 0 ? i + failed : i;
            i = k;
            continue;
        }
        j->wakes = 0;
        e = j->ops->run(w->ps, w->conn, j);
        wakes |= j->wakes;
        if (e != EVB_OK && e != EVB_ERR_CONFLICT && e != EVB_ERR_UNAVAILABLE)
            *failed_job = i;
        i++;
    }
    if (e == EVB_OK && wakes)
        e = pg_notify_deliveries(w->ps, w->conn);
    if (e == EVB_OK)
        e = pg_cmd(w->conn, "COMMIT", NULL, NULL);
    if (e != EVB_OK)
        rollback(w);
    return e;
}

static void reset_jobs(writer *w, int from, int to)
{
    for (int i = from; i < to; i++)
        if (w->batch[i]->ops->reset != NULL)
            w->batch[i]->ops->reset(w->batch[i]);
}

/* Runs [from, to) with retries on conflicts; fills results. */
static void run_range(writer *w, int from, int to)
{
    evb_err e = EVB_ERR_UNAVAILABLE;
    int failed = -1;
    for (int attempt = 0; attempt < BATCH_ATTEMPTS; attempt++) {
        if (attempt > 0)
            reset_jobs(w, from, to);
        e = run_tx(w, from, to, &failed);
        if (e != EVB_ERR_CONFLICT)
            break;
        struct timespec ts = {0, (long)(attempt + 1) * 3000000L};
        nanosleep(&ts, NULL);
    }
    if (e == EVB_ERR_CONFLICT)
        e = EVB_ERR_UNAVAILABLE;
    if (failed >= 0 && to - from > 1) {
        /* One job failed on its own: each alone, so the others still commit. */
        reset_jobs(w, from, to);
        for (int i = from; i < to; i++)
            run_range(w, i, i + 1);
        return;
    }
    for (int i = from; i < to; i++)
        w->results[i] = e;
    atomic_store(&w->ps->ready, e == EVB_OK || failed >= 0);
}

/* One batch of old events (retention.h); nodes prune concurrently, so rows another node
 * is deleting are skipped rather than waited for. */
static evb_err retention_purge(writer *w, int64_t now_ms, int *full)
{
    *full = 0;
    if (w->ps->retention_ms < 0)
        return EVB_OK;
    pg_params p;
    pg_params_init(&p);
    pg_p_i64(&p, now_ms - w->ps->retention_ms);
    pg_p_i64(&p, RETENTION_BATCH);
    int64_t n = 0;
    evb_err e =
        pg_cmd(w->conn,
               "DELETE FROM events WHERE seq IN (" RETENTION_SELECT " FOR UPDATE OF e SKIP LOCKED)",
               &p, &n);
    *full = e == EVB_OK && n >= RETENTION_BATCH;
    return e;
}

/* While not ready: one tiny real write (a new version of schema_version's first row), so
 * readiness comes back once the fault clears even without traffic (a load balancer gating
 * on /readyz sends none). */
static void probe(writer *w)
{
    if (ensure_conn(w) == EVB_OK &&
        pg_cmd(w->conn, "UPDATE schema_version SET name = name WHERE version = 1", NULL, NULL) ==
            EVB_OK) {
        atomic_store(&w->ps->ready, 1);
        evb_log_info("store", "PostgreSQL writes work again: ready");
    }
}

/* Expired dedup keys and old events, a few batches each (autocommit: one transaction per
 * batch); the readiness probe while not ready. */
static void purge(writer *w)
{
    if (!atomic_load(&w->ps->ready)) {
        probe(w);
        return;
    }
    if (ensure_conn(w) != EVB_OK)
        return;
    int full = 1;
    for (int rounds = 0; full && rounds < 10; rounds++) {
        full = 0;
        if (pg_dedup_purge(w->ps, w->conn, evb_now_ms(), &full) != EVB_OK) {
            rollback(w);
            return;
        }
    }
    full = 1;
    for (int rounds = 0; full && rounds < 10; rounds++)
        if (retention_purge(w, evb_now_ms(), &full) != EVB_OK)
            return;
}

static void *writer_main(void *arg)
{
    writer *w = arg;
    pg_store *ps = w->ps;
    on_writer = 1;
    for (;;) {
        int do_purge = 0;
        int n = take(ps, w->batch, ps->max_batch, &do_purge);
        if (n < 0)
            break;
        if (n > 0) {
            run_range(w, 0, n);
            for (int i = 0; i < n; i++) {
                pg_job *j = w->batch[i];
                w->batch[i] = NULL;
                if (j->bytes > 0) { /* uncounted as the completion (may free j) starts */
                    pthread_mutex_lock(&ps->mu);
                    ps->queued_bytes -= j->bytes;
                    pthread_mutex_unlock(&ps->mu);
                }
                j->ops->complete(ps, j, w->results[i]);
            }
        }
        if (do_purge)
            purge(w);
    }
    if (w->conn != NULL)
        PQfinish(w->conn);
    free(w->batch);
    free(w->results);
    free(w);
    return NULL;
}

evb_err pg_writer_start(pg_store *ps)
{
    for (int i = 0; i < PG_WRITERS; i++) {
        writer *w = calloc(1, sizeof *w);
        if (w != NULL) {
            w->ps = ps;
            w->batch = calloc((size_t)ps->max_batch, sizeof *w->batch);
            w->results = calloc((size_t)ps->max_batch, sizeof *w->results);
        }
        if (w == NULL || w->batch == NULL || w->results == NULL ||
            pthread_create(&ps->writers[i], NULL, writer_main, w) != 0) {
            if (w != NULL) {
                free(w->batch);
                free(w->results);
            }
            free(w);
            pg_writer_stop(ps);
            return EVB_ERR_NOMEM;
        }
        ps->n_writers++;
    }
    return EVB_OK;
}

void pg_writer_stop(pg_store *ps)
{
    pthread_mutex_lock(&ps->mu);
    ps->closing = 1;
    pthread_cond_broadcast(&ps->cv_work);
    pthread_mutex_unlock(&ps->mu);
    for (int i = 0; i < ps->n_writers; i++)
        pthread_join(ps->writers[i], NULL);
    ps->n_writers = 0;
}
