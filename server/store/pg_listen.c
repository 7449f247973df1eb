/* evbridge — PostgreSQL backend: the listener.
 *
 * One thread with its own connection LISTENs on three channels (named after the schema,
 * pg_int.h), sent by the writing node at commit: evb_config (connectors, keys, schemas, subject
 * config) bumps config_gen; evb_routing (actions, connections) bumps config_gen and routing_gen;
 * evb_deliveries calls the remote-wake hook, so dispatchers and stream subscribers of
 * this node look for new work at once instead of at their next poll. Notifications of this
 * node's own commits come back too; their payload (node_id) tells them apart and they are
 * skipped (the commit bumped the local generations already; the caller woke its own).
 * When the connection is lost, notifications may have been missed: after reconnecting it
 * bumps both generations and wakes once, so every cache reloads. It waits with poll() at
 * most LISTEN_TICK_MS, so stopping takes at most that long; reconnect attempts back off
 * up to a second. Changes therefore reach every node in well under the documented 2 s
 * (docs/operations.md), a lost connection adding at most its reconnect time.
 */
#include "server/store/pg_int.h"

#include "common/log.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LISTEN_TICK_MS 200

static void remote_changed(pg_store *ps, const char *channel)
{
    if (strcmp(channel, ps->chan[PG_CHAN_DELIVERIES]) == 0) {
        pg_wake_remote(ps);
        return;
    }
    atomic_fetch_add(&ps->config_gen, 1);
    if (strcmp(channel, ps->chan[PG_CHAN_ROUTING]) == 0)
        atomic_fetch_add(&ps->routing_gen, 1);
}

static int listen_on(PGconn *c, const char *channel)
{
    char *id = PQescapeIdentifier(c, channel, strlen(channel));
    if (id == NULL)
        return -1;
    char sql[256];
    snprintf(sql, sizeof sql, "LISTEN %s", id);
    PQfreemem(id);
    return pg_cmd(c, sql, NULL, NULL) == EVB_OK ? 0 : -1;
}

static PGconn *listen_connect(pg_store *ps)
{
    PGconn *c = NULL;
    evb_error e;
    evb_error_clear(&e);
    if (pg_connect(ps, &c, &e) != EVB_OK)
        return NULL;
    /* No statement timeout on a connection that only waits. */
    if (pg_cmd(c, "SET statement_timeout = 0", NULL, NULL) != EVB_OK ||
        listen_on(c, ps->chan[PG_CHAN_CONFIG]) != 0 ||
        listen_on(c, ps->chan[PG_CHAN_ROUTING]) != 0 ||
        listen_on(c, ps->chan[PG_CHAN_DELIVERIES]) != 0) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* Tells pg_listen_start the first attempt to listen is over (listening or not). */
static void first_attempt_done(pg_store *ps)
{
    pthread_mutex_lock(&ps->wmu);
    ps->listen_ready = 1;
    pthread_cond_broadcast(&ps->listen_cv);
    pthread_mutex_unlock(&ps->wmu);
}

static void *listen_main(void *arg)
{
    pg_store *ps = arg;
    PGconn *c = NULL;
    int backoff_ms = 50, lost = 0, first = 1;
    while (!atomic_load(&ps->listen_stop)) {
        if (c == NULL) {
            c = listen_connect(ps);
            if (first) {
                first = 0;
                first_attempt_done(ps);
            }
            if (c == NULL) {
                if (!lost)
                    evb_log_warn("store", "listener: cannot reach PostgreSQL; retrying");
                lost = 1;
                int ms = backoff_ms;
                backoff_ms = backoff_ms * 2 > 1000 ? 1000 : backoff_ms * 2;
                for (int t = 0; t < ms && !atomic_load(&ps->listen_stop); t += 50)
                    nanosleep(&(struct timespec){0, 50000000L}, NULL);
                continue;
            }
            backoff_ms = 50;
            if (lost) { /* notifications may have been missed meanwhile */
                evb_log_info("store", "listener: reconnected to PostgreSQL");
                remote_changed(ps, "evb_routing");
                pg_wake_remote(ps);
                lost = 0;
            }
        }
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        int rc = pfd.fd >= 0 ? poll(&pfd, 1, LISTEN_TICK_MS) : -1;
        if (rc < 0 || (rc > 0 && !PQconsumeInput(c)) || PQstatus(c) != CONNECTION_OK) {
            if (!atomic_load(&ps->listen_stop))
                evb_log_warn("store", "listener: connection to PostgreSQL lost; reconnecting");
            PQfinish(c);
            c = NULL;
            lost = 1;
            continue;
        }
        PGnotify *n;
        while ((n = PQnotifies(c)) != NULL) {
            if (strcmp(n->extra, ps->node_id) != 0) /* not this node's own */
                remote_changed(ps, n->relname);
            PQfreemem(n);
        }
    }
    if (c != NULL)
        PQfinish(c);
    return NULL;
}

evb_err pg_listen_start(pg_store *ps)
{
    atomic_store(&ps->listen_stop, 0);
    ps->listen_ready = 0;
    if (pthread_create(&ps->listener, NULL, listen_main, ps) != 0)
        return EVB_ERR_NOMEM;
    ps->listener_started = 1;
    /* Wait for the first LISTEN, so every change committed after open returns reaches this
     * node (a notification sent before LISTEN is lost for it). */
    pthread_mutex_lock(&ps->wmu);
    while (!ps->listen_ready)
        pthread_cond_wait(&ps->listen_cv, &ps->wmu);
    pthread_mutex_unlock(&ps->wmu);
    return EVB_OK;
}

void pg_listen_stop(pg_store *ps)
{
    if (!ps->listener_started)
        return;
    atomic_store(&ps->listen_stop, 1);
    pthread_join(ps->listener, NULL);
    ps->listener_started = 0;
}
