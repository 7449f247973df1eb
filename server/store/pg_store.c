/* evbridge — PostgreSQL backend: open, close, readiness, generations and the backend
 * table. Contract: store.h; pieces: pg_int.h.
 *
 * Open connects once to migrate (under an advisory lock), then starts the writer threads
 * (each with its own connection, made lazily) and the listener. The pool opens reader
 * connections on demand. Ready follows the writers: a failed commit clears it, the next
 * successful one sets it again (as SQLite's writer does).
 */
#include "server/store/pg_int.h"

#include "server/store/retention.h"

#include "common/id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_WINDOW_MS (24LL * 3600 * 1000)
#define DEFAULT_QUEUE_CAP 4096
#define DEFAULT_QUEUE_MAX_BYTES ((size_t)32 << 20)
#define DEFAULT_MAX_BATCH 256

static void free_store(pg_store *ps)
{
    pg_pool_close(ps);
    pthread_mutex_destroy(&ps->pmu);
    pthread_cond_destroy(&ps->pcv);
    pthread_mutex_destroy(&ps->mu);
    pthread_cond_destroy(&ps->cv_work);
    pthread_mutex_destroy(&ps->wmu);
    pthread_cond_destroy(&ps->listen_cv);
    free(ps->url);
    free(ps);
}

/* The notification channels, after the session's schema (pg_int.h). */
static evb_err name_channels(pg_store *ps, PGconn *c, evb_error *err)
{
    PGresult *r = NULL;
    evb_err e = pg_exec(c, "SELECT current_schema()", NULL, &r);
    if (e != EVB_OK || PQntuples(r) != 1 || pg_isnull(r, 0, 0)) {
        PQclear(r);
        return evb_error_set(err, e != EVB_OK ? e : EVB_ERR_UNAVAILABLE, "store",
                             "PostgreSQL: no current schema (check search_path)");
    }
    const char *schema = PQgetvalue(r, 0, 0);
    static const char *const names[3] = {"evb_config", "evb_routing", "evb_deliveries"};
    for (int i = 0; i < 3; i++)
        snprintf(ps->chan[i], sizeof ps->chan[i], "%.62s.%s", schema, names[i]);
    PQclear(r);
    return EVB_OK;
}

evb_err store_pg_open(const evb_store_options *opt, evb_store **out, evb_error *err)
{
    if (opt->dedup_window_ms < 0 || opt->max_batch < 0)
        return evb_error_set(err, EVB_ERR_INVALID, NULL,
                             "dedup_window_ms and max_batch must not be negative");
    if (!PQisthreadsafe())
        return evb_error_set(err, EVB_ERR_INTERNAL, NULL, "libpq was built without thread support");
    pg_store *ps = calloc(1, sizeof *ps);
    if (ps == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    ps->be = &store_pg_backend;
    pthread_mutex_init(&ps->pmu, NULL);
    pthread_cond_init(&ps->pcv, NULL);
    pthread_mutex_init(&ps->mu, NULL);
    pthread_cond_init(&ps->cv_work, NULL);
    pthread_mutex_init(&ps->wmu, NULL);
    pthread_cond_init(&ps->listen_cv, NULL);
    atomic_init(&ps->ready, 0);
    atomic_init(&ps->routing_gen, 1);
    atomic_init(&ps->config_gen, 1);
    atomic_init(&ps->listen_stop, 0);
    ps->dedup_window_ms = opt->dedup_window_ms > 0 ? opt->dedup_window_ms : DEFAULT_WINDOW_MS;
    ps->retention_ms = store_retention_ms(opt->retention_ms);
    ps->queue_cap = opt->queue_cap > 0 ? opt->queue_cap : DEFAULT_QUEUE_CAP;
    ps->queue_max_bytes = opt->queue_max_bytes > 0 ? opt->queue_max_bytes : DEFAULT_QUEUE_MAX_BYTES;
    ps->max_batch = opt->max_batch > 0 ? opt->max_batch : DEFAULT_MAX_BATCH;
    ps->url = strdup(opt->url);
    if (ps->url == NULL || evb_random_hex(ps->node_id, sizeof ps->node_id, 16) != EVB_OK) {
        free_store(ps);
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    }

    PGconn *c = NULL;
    evb_err e = pg_connect(ps, &c, err);
    if (e == EVB_OK)
        e = pg_migrate(c, err);
    if (e == EVB_OK)
        e = name_channels(ps, c, err);
    PQfinish(c);
    if (e == EVB_OK) {
        atomic_store(&ps->ready, 1);
        e = pg_writer_start(ps);
        if (e != EVB_OK)
            evb_error_set(err, e, NULL, "cannot start the store writer threads");
    }
    if (e == EVB_OK) {
        e = pg_listen_start(ps);
        if (e != EVB_OK) {
            evb_error_set(err, e, NULL, "cannot start the store listener thread");
            pg_writer_stop(ps);
        }
    }
    if (e != EVB_OK) {
        free_store(ps);
        return e;
    }
    *out = (evb_store *)(void *)ps;
    return EVB_OK;
}

void pg_close(evb_store *s)
{
    pg_store *ps = PG_STORE(s);
    pg_writer_stop(ps); /* first: refuses new writes at once, commits what is queued */
    pg_listen_stop(ps);
    atomic_store(&ps->ready, 0);
    free_store(ps);
}

int pg_ready(const evb_store *s)
{
    return atomic_load(&((pg_store *)(void *)s)->ready) != 0;
}

uint64_t pg_routing_generation(evb_store *s)
{
    return (uint64_t)atomic_load(&PG_STORE(s)->routing_gen);
}

uint64_t pg_config_generation(evb_store *s)
{
    return (uint64_t)atomic_load(&PG_STORE(s)->config_gen);
}

void pg_set_remote_wake(evb_store *s, evb_store_wake_fn fn, void *arg)
{
    pg_store *ps = PG_STORE(s);
    pthread_mutex_lock(&ps->wmu);
    ps->wake_fn = fn;
    ps->wake_arg = arg;
    pthread_mutex_unlock(&ps->wmu);
}

void pg_wake_remote(pg_store *ps)
{
    /* Under the lock, so once set_remote_wake(NULL) returns the old hook never runs
     * again (it must not block, store.h). */
    pthread_mutex_lock(&ps->wmu);
    if (ps->wake_fn != NULL)
        ps->wake_fn(ps->wake_arg);
    pthread_mutex_unlock(&ps->wmu);
}

#define PG_ENTRY_(ret, name, params) .name = pg_##name,
const store_backend store_pg_backend = {.name = "postgres", STORE_ENTRIES(PG_ENTRY_)};
