/* evbridge — WAL checkpoints off the writer thread (SQLite).
 *
 * SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past 1,000 pages:
 * the writer thread — the one serial stage of ingest — then copies ~4 MB of pages into the
 * database file and syncs it while every queued publish waits (~13 % of the writer's time
 * under PutEvents load and its longest stalls, docs/benchmarks.md). Here the writer
 * connection's WAL hook (which replaces the automatic checkpoint) only compares the WAL's
 * size after each commit with what has been copied, and a thread with a connection of its
 * own runs a PASSIVE checkpoint — it never waits for the writer or for readers — each time
 * CKPT_SOFT_PAGES more frames are waiting: the same amount of copying and syncing as
 * before, on another thread.
 *
 * The WAL file restarts from its beginning only when a writer begins a transaction after a
 * checkpoint that copied every frame; with commits arriving all the time the background
 * checkpoints rarely get there. So once the WAL holds CKPT_HARD_PAGES, the writer runs the
 * (by then short: < CKPT_SOFT_PAGES frames left) checkpoint itself after its commit, as
 * SQLite would, and its next transaction restarts the WAL: the file stays under ~32 MB.
 * A failed checkpoint (full disk, read-only file) changes nothing that was committed; it is
 * retried later. Durability is unchanged: a commit is durable once its WAL frames are
 * synced, before any checkpoint.
 */
#include "server/store/store_int.h"

#include "common/log.h"

#include <stdlib.h>
#include <time.h>

#define CKPT_SOFT_PAGES 1000   /* SQLite's default auto-checkpoint size (~4 MB) */
#define CKPT_HARD_PAGES 8000   /* the writer checkpoints itself beyond this (~32 MB) */
#define CKPT_RETRY_MS 500      /* pause after a failed checkpoint */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The writer connection's WAL hook: runs on the writer thread after each commit. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    evb_store *s = arg;
    if (pages >= CKPT_HARD_PAGES) {
        /* checkpoints fell behind: do what SQLite's auto-checkpoint does */
        sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        return SQLITE_OK;
    }
    /* frames the last background checkpoint copied; more than the WAL holds = restarted */
    int copied = atomic_load(&s->ckpt_copied);
    if (copied > pages)
        copied = 0;
    if (pages - copied >= CKPT_SOFT_PAGES) {
        pthread_mutex_lock(&s->ckpt_mu);
        if (!s->ckpt_wanted && !s->ckpt_busy) { /* a running one has not set copied yet */
            s->ckpt_wanted = 1;
            pthread_cond_signal(&s->ckpt_cv);
        }
        pthread_mutex_unlock(&s->ckpt_mu);
    }
    return SQLITE_OK;
}

/* One PASSIVE checkpoint of whatever the WAL holds that readers no longer need. */
static void checkpoint(evb_store *s)
{
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(s->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    atomic_fetch_add(&s->n_checkpoints, 1);
    if (rc == SQLITE_OK) {
        atomic_store(&s->ckpt_copied, done);
    } else if (rc != SQLITE_BUSY) { /* BUSY: the writer's own checkpoint ran meanwhile */
        evb_log_debug("store", "checkpoint of %s failed: %s (retried later)", s->db_path,
                      sqlite3_errmsg(s->ckpt_db));
        sleep_ms(CKPT_RETRY_MS);
    }
}

static void *checkpointer_main(void *arg)
{
    evb_store *s = arg;
    pthread_mutex_lock(&s->ckpt_mu);
    for (;;) {
        while (!s->ckpt_wanted && !s->ckpt_stop)
            pthread_cond_wait(&s->ckpt_cv, &s->ckpt_mu);
        if (s->ckpt_stop)
            break;
        s->ckpt_wanted = 0;
        s->ckpt_busy = 1;
        pthread_mutex_unlock(&s->ckpt_mu);
        checkpoint(s);
        pthread_mutex_lock(&s->ckpt_mu);
        s->ckpt_busy = 0;
    }
    pthread_mutex_unlock(&s->ckpt_mu);
    return NULL;
}

evb_err store_checkpointer_start(evb_store *s)
{
    int rc = sqlite3_open_v2(s->db_path, &s->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(s->ckpt_db);
        s->ckpt_db = NULL;
        return store_map_rc(rc);
    }
    sqlite3_extended_result_codes(s->ckpt_db, 1);
    /* A connection opens the WAL when it first reads the database; until then a checkpoint
     * sees no WAL (log -1) and copies nothing. No busy wait: a checkpoint that meets
     * another one simply comes back later. */
    rc = sqlite3_exec(s->ckpt_db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_close(s->ckpt_db);
        s->ckpt_db = NULL;
        return store_map_rc(rc);
    }
    if (pthread_create(&s->ckpt_thread, NULL, checkpointer_main, s) != 0) {
        sqlite3_close(s->ckpt_db);
        s->ckpt_db = NULL;
        return EVB_ERR_NOMEM;
    }
    s->ckpt_started = 1;
    sqlite3_wal_hook(s->wdb, wal_hook, s); /* replaces the automatic checkpoint */
    return EVB_OK;
}

void store_checkpointer_stop(evb_store *s)
{
    if (!s->ckpt_started)
        return;
    pthread_mutex_lock(&s->ckpt_mu);
    s->ckpt_stop = 1;
    pthread_cond_signal(&s->ckpt_cv);
    pthread_mutex_unlock(&s->ckpt_mu);
    pthread_join(s->ckpt_thread, NULL);
    s->ckpt_started = 0;
    sqlite3_close(s->ckpt_db); /* not the last connection: the writer's close checkpoints */
    s->ckpt_db = NULL;
}
