/* evbridge — store lifetime: options, the data directory, the writer connection, migrations,
 * the writer thread; close; readiness.
 *
 * Open does everything that can fail up front and reports it with the path in the message:
 * the data directory is created 0700 (with missing parents) and must be a writable
 * directory; an advisory lock file (<dir>/evbridge.lock, flock) keeps a second evbridged off
 * the same database; the writer connection is opened read-write (SQLite silently falls back
 * to read-only for a read-only file, which is caught), switched to WAL with a busy timeout
 * and the configured synchronous level, and migrated. Only then does the writer thread start.
 */
#include "server/store/store_int.h"

#include "server/store/retention.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_WINDOW_MS (24LL * 3600 * 1000)
#define DEFAULT_QUEUE_CAP 4096
#define DEFAULT_QUEUE_MAX_BYTES ((size_t)32 << 20)
#define DEFAULT_MAX_BATCH 256

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p != NULL)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* mkdir -p with mode 0700 for every directory created. */
static int mkdir_p(const char *path)
{
    char *tmp = strdup(path);
    if (tmp == NULL)
        return ENOMEM;
    int rc = 0;
    for (char *p = tmp + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char c = *p;
        *p = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
            rc = errno;
            break;
        }
        *p = c;
        if (c == '\0')
            break;
    }
    free(tmp);
    return rc;
}

static evb_err prepare_dir(const char *dir, evb_error *err)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT)
            return evb_error_set(err, EVB_ERR_IO, NULL, "data directory %s: %s", dir,
                                 strerror(errno));
        int rc = mkdir_p(dir);
        if (rc != 0)
            return evb_error_set(err, EVB_ERR_IO, NULL, "cannot create data directory %s: %s", dir,
                                 strerror(rc));
        if (stat(dir, &st) != 0)
            return evb_error_set(err, EVB_ERR_IO, NULL, "data directory %s: %s", dir,
                                 strerror(errno));
    }
    if (!S_ISDIR(st.st_mode))
        return evb_error_set(err, EVB_ERR_IO, NULL, "data directory %s is not a directory", dir);
    if (access(dir, R_OK | W_OK | X_OK) != 0)
        return evb_error_set(err, EVB_ERR_IO, NULL, "data directory %s is not writable: %s", dir,
                             strerror(errno));
    return EVB_OK;
}

static evb_err take_lock(evb_store *s, evb_error *err)
{
    char *lp = path_join(s->dir, "evbridge.lock");
    if (lp == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    evb_err e = EVB_OK;
    s->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        e = evb_error_set(err, EVB_ERR_IO, NULL, "cannot open lock file %s: %s", lp,
                          strerror(errno));
    } else if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int en = errno;
        e = evb_error_set(err, en == EWOULDBLOCK ? EVB_ERR_UNAVAILABLE : EVB_ERR_IO, NULL,
                          en == EWOULDBLOCK
                              ? "data directory %s is in use by another evbridged (lock %s)"
                              : "cannot lock data directory %s (lock %s): %s",
                          s->dir, lp, strerror(en));
        close(s->lock_fd);
        s->lock_fd = -1;
    }
    free(lp);
    return e;
}

static int commit_hook(void *arg)
{
    evb_store *s = arg;
    return atomic_load(&s->test_fail_commits) != 0;
}

static evb_err exec_pragma(evb_store *s, const char *sql, evb_error *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->wdb, sql, NULL, NULL, &msg);
    evb_err e = EVB_OK;
    if (rc != SQLITE_OK)
        e = evb_error_set(err, store_map_rc(rc), NULL, "database %s: %s: %s", s->db_path, sql,
                          msg != NULL ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return e;
}

/* Statement journals (the pages a SAVEPOINT may have to restore: the writer runs each job
 * of a group commit in a savepoint of its own) stay in memory. By default SQLite moves one
 * to a temporary file once it passes 64 KiB, and from then on every page a later job of the
 * same transaction first modifies is also written there: measured under publish + deliver,
 * ~44 write syscalls and ~94 KB written per event, against ~4.6 and ~11 KB (the WAL)
 * with this (docs/benchmarks.md, "Delivery path"). A journal holds the original pages one
 * job modifies, so it is bounded by the largest job (a claim, a put of 100 events).
 * Process-wide and only possible before SQLite initializes: done once, before the first
 * open; if something initialized SQLite earlier, the default stays (slower, as correct). */
static void configure_sqlite(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL, -1);
}

static evb_err open_writer_db(evb_store *s, evb_error *err)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, configure_sqlite);
    int rc =
        sqlite3_open_v2(s->db_path, &s->wdb,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return evb_error_set(err, store_map_rc(rc), NULL, "cannot open database %s: %s", s->db_path,
                             s->wdb ? sqlite3_errmsg(s->wdb) : sqlite3_errstr(rc));
    sqlite3_extended_result_codes(s->wdb, 1);
    if (sqlite3_db_readonly(s->wdb, "main") == 1)
        return evb_error_set(err, EVB_ERR_UNAVAILABLE, NULL,
                             "database %s is read-only (check the file's permissions)", s->db_path);
    sqlite3_busy_timeout(s->wdb, STORE_BUSY_TIMEOUT_MS);

    /* journal_mode returns the resulting mode: check it really is WAL. */
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(s->wdb, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    int wal =
        rc == SQLITE_ROW && sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        int code = sqlite3_extended_errcode(s->wdb);
        const char *what = (code & 0xff) == SQLITE_BUSY     ? "database is locked: "
                           : (code & 0xff) == SQLITE_NOTADB ? "not a database: "
                                                            : "";
        return evb_error_set(err, store_map_rc(code), NULL, "cannot open database %s: %s%s",
                             s->db_path, what, sqlite3_errmsg(s->wdb));
    }
    if (!wal)
        return evb_error_set(err, EVB_ERR_UNAVAILABLE, NULL,
                             "database %s: cannot switch to WAL mode (file system without "
                             "shared memory support?)",
                             s->db_path);
    evb_err e = exec_pragma(
        s, s->synchronous_normal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", err);
    if (e == EVB_OK)
        e = exec_pragma(s, "PRAGMA foreign_keys=ON", err);
    if (e == EVB_OK)
        e = store_migrate(s->wdb, s->db_path, err);
    if (e == EVB_OK)
        sqlite3_commit_hook(s->wdb, commit_hook, s);
    return e;
}

static void free_store(evb_store *s)
{
    for (int i = 0; i < WS__COUNT; i++)
        sqlite3_finalize(s->wst[i]);
    if (s->wdb != NULL)
        sqlite3_close(s->wdb);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv_work);
    pthread_cond_destroy(&s->cv_space);
    pthread_mutex_destroy(&s->rmu);
    pthread_cond_destroy(&s->rcv);
    free(s->batch);
    free(s->results);
    free(s->dir);
    free(s->db_path);
    free(s);
}

evb_err store_sqlite_open(const evb_store_options *opt, evb_store **out, evb_error *err)
{
    if (opt == NULL || out == NULL || opt->data_dir == NULL || opt->data_dir[0] == '\0')
        return evb_error_set(err, EVB_ERR_INVALID, "data_dir", "data_dir is required");
    if (opt->dedup_window_ms < 0 || opt->max_batch < 0)
        return evb_error_set(err, EVB_ERR_INVALID, NULL,
                             "dedup_window_ms and max_batch must not be negative");
    if (!sqlite3_threadsafe())
        return evb_error_set(err, EVB_ERR_INTERNAL, NULL,
                             "libsqlite3 was built without thread support");

    evb_store *s = calloc(1, sizeof *s);
    if (s == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    s->be = &store_sqlite_backend;
    s->lock_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv_work, NULL);
    pthread_cond_init(&s->cv_space, NULL);
    pthread_mutex_init(&s->rmu, NULL);
    pthread_cond_init(&s->rcv, NULL);
    atomic_init(&s->ready, 0);
    atomic_init(&s->n_commits, 0);
    atomic_init(&s->test_fail_commits, 0);
    atomic_init(&s->routing_gen, 1);
    atomic_init(&s->config_gen, 1);
    s->dedup_window_ms = opt->dedup_window_ms > 0 ? opt->dedup_window_ms : DEFAULT_WINDOW_MS;
    s->retention_ms = store_retention_ms(opt->retention_ms);
    s->queue_cap = opt->queue_cap > 0 ? opt->queue_cap : DEFAULT_QUEUE_CAP;
    s->queue_max_bytes = opt->queue_max_bytes > 0 ? opt->queue_max_bytes : DEFAULT_QUEUE_MAX_BYTES;
    s->max_batch = opt->max_batch > 0 ? opt->max_batch : DEFAULT_MAX_BATCH;
    s->synchronous_normal = opt->synchronous_normal != 0;

    /* Strip trailing slashes so messages and paths read well ("/" stays "/"). */
    s->dir = strdup(opt->data_dir);
    if (s->dir != NULL) {
        size_t n = strlen(s->dir);
        while (n > 1 && s->dir[n - 1] == '/')
            s->dir[--n] = '\0';
        s->db_path = path_join(s->dir, "evbridge.db");
    }
    s->batch = calloc((size_t)s->max_batch, sizeof *s->batch);
    s->results = calloc((size_t)s->max_batch, sizeof *s->results);
    evb_err e = EVB_OK;
    if (s->dir == NULL || s->db_path == NULL || s->batch == NULL || s->results == NULL) {
        evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
        e = EVB_ERR_NOMEM;
    }
    if (e == EVB_OK)
        e = prepare_dir(s->dir, err);
    if (e == EVB_OK)
        e = take_lock(s, err);
    if (e == EVB_OK)
        e = open_writer_db(s, err);
    if (e == EVB_OK) {
        atomic_store(&s->ready, 1);
        e = store_writer_start(s);
        if (e != EVB_OK)
            evb_error_set(err, e, NULL, "cannot start the store writer thread");
    }
    if (e != EVB_OK) {
        free_store(s);
        return e;
    }
    *out = s;
    return EVB_OK;
}

void sq_close(evb_store *s)
{
    if (s == NULL)
        return;
    store_writer_stop(s);
    atomic_store(&s->ready, 0);
    store_readers_close(s);
    free_store(s);
}

int sq_ready(const evb_store *s)
{
    return atomic_load(&((evb_store *)s)->ready) != 0;
}

uint64_t sq_config_generation(evb_store *s)
{
    return (uint64_t)atomic_load(&s->config_gen);
}

/* One process per database: every change is made here, so there is nothing to wake for. */
void sq_set_remote_wake(evb_store *s, evb_store_wake_fn fn, void *arg)
{
    (void)s;
    (void)fn;
    (void)arg;
}

#define SQ_ENTRY_(ret, name, params) .name = sq_##name,
const store_backend store_sqlite_backend = {.name = "sqlite", STORE_ENTRIES(SQ_ENTRY_)};

sqlite3_stmt *store_wstmt(evb_store *s, int slot, const char *sql, evb_err *err)
{
    if (s->wst[slot] == NULL) {
        int rc =
            sqlite3_prepare_v3(s->wdb, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->wst[slot], NULL);
        if (rc != SQLITE_OK) {
            *err = store_map_rc(rc);
            s->wst[slot] = NULL;
            return NULL;
        }
    }
    return s->wst[slot];
}

uint64_t store_test_commits(const evb_store *s)
{
    return (uint64_t)atomic_load(&((evb_store *)s)->n_commits);
}

void store_test_fail_commits(evb_store *s, int on)
{
    atomic_store(&s->test_fail_commits, on != 0);
}
