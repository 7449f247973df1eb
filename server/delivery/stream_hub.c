/* evbridge — the stream hub (see stream_hub.h): one feeder thread between the outbox and
 * the Subscribe streams.
 *
 * State under the hub's mutex: per connection with subscribers an `hconn` holding its
 * subscribers (round-robin cursor), per subscriber its deliveries in flight (id, attempt,
 * ack deadline), and a queue of store writes (`op`: ack, nack, timeout, disconnect,
 * return). Stream threads only touch that state; the feeder does every store call without
 * the mutex: it records the queued ops, then, for each connection whose subscribers have
 * free credit, claims at most that credit with every other connection skipped, and hands
 * the claims out under the mutex. The connection set (kind, state, retry policy) is cached
 * and rebuilt when the store's routing generation moves. The feeder waits on a condition
 * variable (monotonic clock) until woken (join, ack/nack/leave, new deliveries), the
 * earliest ack deadline, or the periodic re-check that picks up retries coming due.
 */
#include "server/delivery/stream_hub.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/text.h"
#include "common/timeutil.h"
#include "server/delivery/retry.h"
#include "server/metrics/catalog.h"
#include "server/store/store_dispatch.h"
#include "server/store/store_routing.h"

#define COMP "stream"
#define ACTION_STREAM 3
#define CONN_ENABLED 1
#define CLAIM_MAX 100

typedef struct inflight {
    char *id;
    int attempt;
    int64_t deadline; /* monotonic */
    int64_t recv_ms;  /* event receipt (wall clock): the retry policy's age */
    int64_t start_ms; /* handed out (wall clock) */
} inflight;

typedef struct hconn hconn;

struct evb_stream_sub {
    evb_stream_hub *hub;
    hconn *conn;
    evb_stream_sub *next; /* in conn->subs */
    int max_in_flight;
    int ack_deadline_ms;
    evb_stream_deliver_fn deliver;
    void *arg;
    inflight *fl; /* max_in_flight slots */
    size_t n_fl;
};

struct hconn {
    char *id;
    evb_stream_sub *subs;
    evb_stream_sub *rr; /* next subscriber to try */
    hconn *next;
};

enum { OP_ACK, OP_NACK, OP_TIMEOUT, OP_DISCONNECT, OP_RETURN };

typedef struct op {
    int kind;
    char *id;
    char *conn_id;
    int attempt;
    int64_t delay_ms; /* NACK */
    int64_t recv_ms;
    int64_t start_ms;
    int64_t deadline_ms; /* TIMEOUT: the ack deadline, for the message */
} op;

typedef struct conn_info {
    char *id;
    int usable; /* STREAM action, enabled connection, action not disabled */
    evb_retry_policy retry;
} conn_info;

struct evb_stream_hub {
    evb_store *store;
    evb_stream_hub_options opt;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    int stopping;
    int wake;
    hconn *conns;
    op *ops;
    size_t n_ops, cap_ops;
    /* feeder thread only */
    uint64_t gen;
    conn_info *info; /* sorted by id */
    size_t n_info;
    uint64_t rnd;
};

/* ---- helpers under the mutex ---- */

static void op_free(op *o)
{
    free(o->id);
    free(o->conn_id);
}

/* Queues a store write; takes `id` (malloc'd) in every case. */
static void push_op_locked(evb_stream_hub *h, int kind, char *id, const char *conn_id,
                           const inflight *f, int64_t delay_ms, int64_t deadline_ms)
{
    if (h->n_ops == h->cap_ops) {
        size_t cap = h->cap_ops ? h->cap_ops * 2 : 64;
        op *n = realloc(h->ops, cap * sizeof *n);
        if (n == NULL) {
            evb_log_warn(COMP, "out of memory: delivery %s stays leased until its lease ends",
                         id ? id : "?");
            free(id);
            return;
        }
        h->ops = n;
        h->cap_ops = cap;
    }
    op *o = &h->ops[h->n_ops];
    *o = (op){.kind = kind,
              .id = id,
              .conn_id = evb_strdup(conn_id),
              .attempt = f->attempt,
              .delay_ms = delay_ms,
              .recv_ms = f->recv_ms,
              .start_ms = f->start_ms,
              .deadline_ms = deadline_ms};
    if (o->id == NULL || o->conn_id == NULL) {
        op_free(o);
        return;
    }
    h->n_ops++;
}

static void signal_locked(evb_stream_hub *h)
{
    h->wake = 1;
    pthread_cond_signal(&h->cv);
}

static hconn *find_conn_locked(evb_stream_hub *h, const char *id)
{
    for (hconn *c = h->conns; c != NULL; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

/* Moves in-flight entries whose deadline passed into TIMEOUT ops; returns the earliest
 * remaining deadline (INT64_MAX when none). */
static int64_t collect_timeouts_locked(evb_stream_hub *h, int64_t now)
{
    int64_t earliest = INT64_MAX;
    for (hconn *c = h->conns; c != NULL; c = c->next) {
        for (evb_stream_sub *s = c->subs; s != NULL; s = s->next) {
            for (size_t i = 0; i < s->n_fl;) {
                inflight *f = &s->fl[i];
                if (f->deadline > now) {
                    if (f->deadline < earliest)
                        earliest = f->deadline;
                    i++;
                    continue;
                }
                push_op_locked(h, OP_TIMEOUT, f->id, c->id, f, 0, s->ack_deadline_ms);
                s->fl[i] = s->fl[--s->n_fl];
                evb_mx_stream_in_flight(-1);
            }
        }
    }
    return earliest;
}

/* The next subscriber of c with free credit, round-robin; NULL when none. */
static evb_stream_sub *pick_locked(hconn *c)
{
    evb_stream_sub *start = c->rr ? c->rr : c->subs;
    evb_stream_sub *s = start;
    do {
        if (s == NULL)
            s = c->subs;
        if (s == NULL)
            return NULL;
        if (s->n_fl < (size_t)s->max_in_flight) {
            c->rr = s->next;
            return s;
        }
        s = s->next ? s->next : c->subs;
    } while (s != start);
    return NULL;
}

/* Hands claimed deliveries to subscribers (or queues them back). */
static void distribute_locked(evb_stream_hub *h, evb_claim *cs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const evb_delivery_rec *d = cs[i].delivery;
        inflight f = {
            .attempt = d->attempts, .recv_ms = cs[i].event->recv_ms, .start_ms = evb_now_ms()};
        hconn *c = find_conn_locked(h, d->connection_id);
        evb_stream_sub *s = c ? pick_locked(c) : NULL;
        if (s == NULL || (f.id = evb_strdup(d->id)) == NULL) {
            push_op_locked(h, OP_RETURN, evb_strdup(d->id), d->connection_id, &f, 0, 0);
            continue;
        }
        if (!s->deliver(s->arg, d->id, d->attempts, cs[i].event)) {
            push_op_locked(h, OP_RETURN, f.id, d->connection_id, &f, 0, 0);
            continue;
        }
        f.deadline = evb_mono_ms() + s->ack_deadline_ms;
        s->fl[s->n_fl++] = f;
        evb_mx_stream_in_flight(1);
    }
}

/* ---- feeder: connection cache ---- */

static void info_free(conn_info *info, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(info[i].id);
    free(info);
}

static int cmp_info(const void *a, const void *b)
{
    return strcmp(((const conn_info *)a)->id, ((const conn_info *)b)->id);
}

static const conn_info *find_info(const evb_stream_hub *h, const char *id)
{
    conn_info key = {.id = (char *)id};
    return h->n_info ? bsearch(&key, h->info, h->n_info, sizeof key, cmp_info) : NULL;
}

static const evb_action_rec *find_action(evb_action_rec **as, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) /* few actions per refresh; refreshes are rare */
        if (strcmp(as[i]->name, name) == 0)
            return as[i];
    return NULL;
}

/* Rebuilds the cache when the routing generation moved; keeps the old one on errors. */
static void refresh_info(evb_stream_hub *h)
{
    uint64_t gen = evb_store_routing_generation(h->store);
    if (gen == h->gen && h->gen != 0)
        return;
    evb_action_rec **as = NULL;
    evb_connection_rec **cs = NULL;
    size_t na = 0, nc = 0;
    evb_err rc = evb_store_action_list(h->store, NULL, NULL, &as, &na);
    if (rc == EVB_ERR_NOT_FOUND)
        rc = EVB_OK, na = 0;
    if (rc == EVB_OK && (rc = evb_store_connection_all(h->store, &cs, &nc)) == EVB_ERR_NOT_FOUND)
        rc = EVB_OK, nc = 0;
    conn_info *info = rc == EVB_OK ? calloc(nc + 1, sizeof *info) : NULL;
    size_t n = 0;
    for (size_t i = 0; info != NULL && i < nc; i++) {
        const evb_connection_rec *c = cs[i];
        const evb_action_rec *a = find_action(as, na, c->action);
        conn_info *ci = &info[n];
        if ((ci->id = evb_strdup(c->id)) == NULL) {
            info_free(info, n);
            info = NULL;
            break;
        }
        ci->usable =
            a != NULL && a->kind == ACTION_STREAM && !a->disabled && c->state == CONN_ENABLED;
        json_t *cfg = json_loads(c->config ? c->config : "{}", 0, NULL);
        if (evb_retry_policy_from_json(json_object_get(cfg, "retry"), &ci->retry, NULL) != EVB_OK)
            evb_retry_policy_default(&ci->retry);
        json_decref(cfg);
        n++;
    }
    evb_action_rec_array_free(as, na);
    evb_connection_rec_array_free(cs, nc);
    if (info == NULL) {
        evb_log_warn(COMP, "cannot read connections and actions; using the previous set");
        return;
    }
    qsort(info, n, sizeof *info, cmp_info);
    info_free(h->info, h->n_info);
    h->info = info;
    h->n_info = n;
    h->gen = gen;
}

/* ---- feeder: store writes ---- */

static uint64_t next_rnd(evb_stream_hub *h)
{
    uint64_t x = h->rnd; /* xorshift64*: jitter only */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    h->rnd = x;
    return x * 2685821657736338717ULL;
}

static void record(evb_stream_hub *h, const op *o)
{
    int64_t now = evb_now_ms();
    int state = EVB_DELIVERY_PENDING;
    int64_t next_ms = now;
    const char *outcome = "DELIVERED"; /* an ack: the same final outcome as HTTP */
    char err[160] = "";
    const conn_info *ci = find_info(h, o->conn_id);
    evb_retry_policy def;
    evb_retry_policy_default(&def);
    const evb_retry_policy *p = ci ? &ci->retry : &def;
    int64_t delay = 0;
    switch (o->kind) {
    case OP_ACK:
        state = EVB_DELIVERY_DELIVERED;
        break;
    case OP_NACK:
    case OP_TIMEOUT:
        outcome = o->kind == OP_NACK ? "NACK" : "ACK_TIMEOUT";
        if (o->kind == OP_TIMEOUT)
            snprintf(err, sizeof err, "no ack within %lld ms", (long long)o->deadline_ms);
        else
            snprintf(err, sizeof err, "nacked by the subscriber");
        if (!evb_retry_next(p, o->attempt, now - o->recv_ms, -1, next_rnd(h), &delay)) {
            state = EVB_DELIVERY_DEAD;
            outcome = "DEAD";
            snprintf(err + strlen(err), sizeof err - strlen(err),
                     "; the retry policy is exhausted");
        } else if (o->kind == OP_NACK) {
            next_ms = now + (o->delay_ms > 0 ? o->delay_ms : delay);
        }
        break;
    case OP_DISCONNECT:
        outcome = "DISCONNECTED";
        snprintf(err, sizeof err, "the subscriber went away before acking");
        break;
    default:
        outcome = "RETURNED";
        snprintf(err, sizeof err, "%s",
                 ci == NULL ? "the connection no longer exists" : "no subscriber could take it");
        if (ci == NULL) { /* deleted: as the dispatcher does */
            state = EVB_DELIVERY_DEAD;
            outcome = "DEAD";
        }
        break;
    }
    evb_attempt a = {.attempt = o->attempt,
                     .time_ms = o->start_ms ? o->start_ms : now,
                     .outcome = outcome,
                     .latency_ms = o->start_ms ? now - o->start_ms : 0,
                     .error = err};
    evb_err rc = evb_store_delivery_complete(h->store, o->id, &a, state, next_ms);
    if (rc == EVB_OK)
        evb_mx_delivery("stream", outcome,
                        state == EVB_DELIVERY_DELIVERED ? 1 : state == EVB_DELIVERY_DEAD ? 2 : 0,
                        o->kind == OP_NACK || o->kind == OP_TIMEOUT, o->recv_ms,
                        o->start_ms ? a.latency_ms : -1);
    if (rc != EVB_OK && rc != EVB_ERR_PRECONDITION)
        evb_log_warn(COMP, "cannot record delivery %s: %s", o->id, evb_strerror(rc));
}

static void run_ops(evb_stream_hub *h, op *ops, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind == OP_RETURN)
            refresh_info(h); /* a connection may have been created or deleted meanwhile */
        record(h, &ops[i]);
        op_free(&ops[i]);
    }
    free(ops);
}

/* ---- feeder: claims ---- */

typedef struct want {
    char *id;
    int credit;
    int64_t lease_ms;
} want;

/* Connections whose subscribers have free credit and that may be fed. */
static size_t wanted(evb_stream_hub *h, want **out)
{
    size_t n = 0, cap = 0;
    want *w = NULL;
    pthread_mutex_lock(&h->mu);
    for (hconn *c = h->conns; c != NULL; c = c->next) {
        const conn_info *ci = find_info(h, c->id);
        if (ci == NULL || !ci->usable)
            continue;
        int credit = 0, deadline = 0;
        for (evb_stream_sub *s = c->subs; s != NULL; s = s->next) {
            credit += s->max_in_flight - (int)s->n_fl;
            if (s->ack_deadline_ms > deadline)
                deadline = s->ack_deadline_ms;
        }
        if (credit <= 0)
            continue;
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 8;
            want *nw = realloc(w, nc * sizeof *nw);
            if (nw == NULL)
                break;
            w = nw;
            cap = nc;
        }
        w[n] = (want){.id = evb_strdup(c->id),
                      .credit = credit,
                      .lease_ms = deadline + h->opt.lease_extra_ms};
        if (w[n].id != NULL)
            n++;
    }
    pthread_mutex_unlock(&h->mu);
    *out = w;
    return n;
}

/* Claims for one connection; returns 1 when the claim was full (more may be due). */
static int claim_for(evb_stream_hub *h, const want *w, const char **skip)
{
    size_t n_skip = 0;
    for (size_t i = 0; i < h->n_info; i++)
        if (strcmp(h->info[i].id, w->id) != 0)
            skip[n_skip++] = h->info[i].id;
    int limit = w->credit < CLAIM_MAX ? w->credit : CLAIM_MAX;
    evb_claim *cs = NULL;
    size_t n = 0;
    evb_err rc =
        evb_store_delivery_claim(h->store, evb_now_ms(), w->lease_ms, limit, skip, n_skip, &cs, &n);
    if (rc != EVB_OK) {
        if (rc != EVB_ERR_UNAVAILABLE)
            evb_log_warn(COMP, "cannot claim deliveries of %s: %s", w->id, evb_strerror(rc));
        return 0;
    }
    if (n > 0) {
        pthread_mutex_lock(&h->mu);
        distribute_locked(h, cs, n);
        pthread_mutex_unlock(&h->mu);
    }
    evb_claim_array_free(cs, n);
    return n == (size_t)limit;
}

/* One round of claims; returns 1 when some claim was full. */
static int feed(evb_stream_hub *h)
{
    refresh_info(h);
    want *w = NULL;
    size_t n = wanted(h, &w);
    const char **skip = n ? calloc(h->n_info + 1, sizeof *skip) : NULL;
    int more = 0;
    for (size_t i = 0; i < n; i++) {
        if (skip != NULL)
            more |= claim_for(h, &w[i], skip);
        free(w[i].id);
    }
    free(skip);
    free(w);
    return more;
}

static void deadline_ts(int64_t mono_ms, struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    int64_t wait = mono_ms - evb_mono_ms();
    if (wait < 1)
        wait = 1;
    ts->tv_sec += (time_t)(wait / 1000);
    ts->tv_nsec += (long)(wait % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *run(void *arg)
{
    evb_stream_hub *h = arg;
    int64_t next_poll = 0;
    pthread_mutex_lock(&h->mu);
    for (;;) {
        int64_t now = evb_mono_ms();
        int64_t earliest = collect_timeouts_locked(h, now);
        op *ops = h->ops;
        size_t n_ops = h->n_ops;
        h->ops = NULL;
        h->n_ops = h->cap_ops = 0;
        int woke = h->wake, stopping = h->stopping;
        h->wake = 0;
        pthread_mutex_unlock(&h->mu);
        run_ops(h, ops, n_ops);
        int more = 0;
        if (!stopping && (woke || n_ops > 0 || now >= next_poll)) {
            more = feed(h); /* 1: a claim came back full: go round again at once */
            next_poll = evb_mono_ms() + h->opt.poll_ms;
        }
        pthread_mutex_lock(&h->mu);
        if (stopping && h->n_ops == 0)
            break;
        if (more && !stopping)
            h->wake = 1;
        if (h->n_ops > 0 || h->wake || h->stopping)
            continue;
        int64_t until = next_poll < earliest ? next_poll : earliest;
        struct timespec ts;
        deadline_ts(until, &ts);
        pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ---- public ---- */

evb_err evb_stream_hub_start(evb_store *store, const evb_stream_hub_options *opt,
                             evb_stream_hub **out)
{
    if (store == NULL || out == NULL)
        return EVB_ERR_INVALID;
    evb_stream_hub *h = calloc(1, sizeof *h);
    if (h == NULL)
        return EVB_ERR_NOMEM;
    h->store = store;
    if (opt != NULL)
        h->opt = *opt;
    if (h->opt.lease_extra_ms <= 0)
        h->opt.lease_extra_ms = 30000;
    if (h->opt.poll_ms <= 0)
        h->opt.poll_ms = 500;
    if (evb_random_bytes(&h->rnd, sizeof h->rnd) != EVB_OK || h->rnd == 0)
        h->rnd = 0x9E3779B97F4A7C15ULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&h->mu, NULL);
    if (pthread_create(&h->thread, NULL, run, h) != 0) {
        pthread_cond_destroy(&h->cv);
        pthread_mutex_destroy(&h->mu);
        free(h);
        return EVB_ERR_INTERNAL;
    }
    *out = h;
    return EVB_OK;
}

void evb_stream_hub_wake(evb_stream_hub *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    signal_locked(h);
    pthread_mutex_unlock(&h->mu);
}

static void sub_free(evb_stream_sub *s)
{
    for (size_t i = 0; i < s->n_fl; i++)
        free(s->fl[i].id);
    free(s->fl);
    free(s);
}

void evb_stream_hub_stop(evb_stream_hub *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    h->stopping = 1;
    signal_locked(h);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    while (h->conns != NULL) { /* subscribers that never left: their leases expire */
        hconn *c = h->conns;
        h->conns = c->next;
        while (c->subs != NULL) {
            evb_stream_sub *s = c->subs;
            c->subs = s->next;
            sub_free(s);
        }
        free(c->id);
        free(c);
    }
    for (size_t i = 0; i < h->n_ops; i++)
        op_free(&h->ops[i]);
    free(h->ops);
    info_free(h->info, h->n_info);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

evb_err evb_stream_hub_join(evb_stream_hub *h, const char *connection_id, int max_in_flight,
                            int ack_deadline_ms, evb_stream_deliver_fn deliver, void *arg,
                            evb_stream_sub **out)
{
    if (h == NULL || connection_id == NULL || deliver == NULL || out == NULL || max_in_flight < 1 ||
        max_in_flight > EVB_STREAM_MAX_IN_FLIGHT_LIMIT ||
        ack_deadline_ms < EVB_STREAM_ACK_DEADLINE_MIN_MS ||
        ack_deadline_ms > EVB_STREAM_ACK_DEADLINE_MAX_MS)
        return EVB_ERR_INVALID;
    evb_stream_sub *s = calloc(1, sizeof *s);
    if (s == NULL || (s->fl = calloc((size_t)max_in_flight, sizeof *s->fl)) == NULL) {
        free(s);
        return EVB_ERR_NOMEM;
    }
    s->hub = h;
    s->max_in_flight = max_in_flight;
    s->ack_deadline_ms = ack_deadline_ms;
    s->deliver = deliver;
    s->arg = arg;
    evb_err rc = EVB_OK;
    pthread_mutex_lock(&h->mu);
    hconn *c = find_conn_locked(h, connection_id);
    if (h->stopping) {
        rc = EVB_ERR_UNAVAILABLE;
    } else if (c == NULL) {
        c = calloc(1, sizeof *c);
        if (c == NULL || (c->id = evb_strdup(connection_id)) == NULL) {
            free(c);
            c = NULL;
            rc = EVB_ERR_NOMEM;
        } else {
            c->next = h->conns;
            h->conns = c;
        }
    }
    if (rc == EVB_OK) {
        s->conn = c;
        s->next = c->subs;
        c->subs = s;
        evb_mx_stream_subscribers(1);
        signal_locked(h);
    }
    pthread_mutex_unlock(&h->mu);
    if (rc != EVB_OK) {
        sub_free(s);
        return rc;
    }
    *out = s;
    return EVB_OK;
}

/* Removes the listed ids from s's in-flight set, queueing `kind` ops for them. */
static void settle(evb_stream_sub *s, const char *const *ids, size_t n, int kind, int64_t delay_ms)
{
    if (s == NULL || (ids == NULL && n > 0))
        return;
    if (delay_ms > EVB_RETRY_DELAY_MS_LIMIT)
        delay_ms = EVB_RETRY_DELAY_MS_LIMIT;
    if (delay_ms < 0)
        delay_ms = 0;
    evb_stream_hub *h = s->hub;
    int any = 0;
    pthread_mutex_lock(&h->mu);
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; ids[k] != NULL && i < s->n_fl; i++) {
            if (strcmp(s->fl[i].id, ids[k]) != 0)
                continue;
            push_op_locked(h, kind, s->fl[i].id, s->conn->id, &s->fl[i], delay_ms, 0);
            s->fl[i] = s->fl[--s->n_fl];
            evb_mx_stream_in_flight(-1);
            any = 1;
            break;
        }
    }
    if (any)
        signal_locked(h);
    pthread_mutex_unlock(&h->mu);
}

void evb_stream_hub_ack(evb_stream_sub *s, const char *const *ids, size_t n)
{
    settle(s, ids, n, OP_ACK, 0);
}

void evb_stream_hub_nack(evb_stream_sub *s, const char *const *ids, size_t n, int64_t delay_ms)
{
    settle(s, ids, n, OP_NACK, delay_ms);
}

void evb_stream_hub_leave(evb_stream_sub *s)
{
    if (s == NULL)
        return;
    evb_stream_hub *h = s->hub;
    pthread_mutex_lock(&h->mu);
    hconn *c = s->conn;
    for (evb_stream_sub **pp = &c->subs; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    if (c->rr == s)
        c->rr = s->next;
    for (size_t i = 0; i < s->n_fl; i++)
        push_op_locked(h, OP_DISCONNECT, s->fl[i].id, c->id, &s->fl[i], 0, 0);
    evb_mx_stream_in_flight(-(int)s->n_fl);
    evb_mx_stream_subscribers(-1);
    s->n_fl = 0;
    if (c->subs == NULL) {
        for (hconn **pp = &h->conns; *pp != NULL; pp = &(*pp)->next) {
            if (*pp == c) {
                *pp = c->next;
                break;
            }
        }
        free(c->id);
        free(c);
    }
    signal_locked(h);
    pthread_mutex_unlock(&h->mu);
    sub_free(s);
}
