/* evbridge — the dispatcher loop. See dispatcher.h.
 *
 * One thread: refresh the target cache, claim what is due (skipping connections at their
 * concurrency or rate limit, STREAM connections and actions whose breaker is open), start a
 * transfer per claim, drive the multi handle, complete finished transfers in the store, and
 * wait in curl_multi_poll until the next due time, a transfer event or a wake-up.
 */
#include "server/delivery/dispatcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/timeutil.h"
#include "server/delivery/dispatch_int.h"
#include "server/delivery/outcome.h"
#include "server/delivery/xfer.h"
#include "server/metrics/catalog.h"

#define COMP "delivery"
#define IDLE_POLL_MS 1000
#define CLAIM_BATCH 64

struct evb_dispatcher {
    evb_store *store;
    evb_dispatcher_options opt;
    CURLM *multi;
    pthread_t thread;
    atomic_int stopping;
    int grace_ms;
    int in_flight;
    target_cache cache;
    uint64_t rnd_state;
    xfer *xfers; /* in flight */
    atomic_int pending_records; /* asynchronous completions not yet committed */
};

static void list_add(evb_dispatcher *d, xfer *x)
{
    x->prev = NULL;
    x->next = d->xfers;
    if (d->xfers != NULL)
        d->xfers->prev = x;
    d->xfers = x;
}

static void list_remove(evb_dispatcher *d, xfer *x)
{
    if (x->prev != NULL)
        x->prev->next = x->next;
    else
        d->xfers = x->next;
    if (x->next != NULL)
        x->next->prev = x->prev;
}

static uint64_t next_rnd(evb_dispatcher *d)
{
    uint64_t x = d->rnd_state; /* xorshift64*: jitter only, seeded from the CSPRNG */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    d->rnd_state = x;
    return x * 2685821657736338717ULL;
}

void evb_dispatcher_wake(evb_dispatcher *d)
{
    if (d != NULL)
        curl_multi_wakeup(d->multi);
}

/* The metrics label of an action kind. */
static const char *kind_name(const action_entry *a)
{
    if (a == NULL)
        return "unknown";
    return a->kind == ACTION_ROBOT ? "robot" : a->kind == ACTION_STREAM ? "stream" : "http";
}

/* Completes a claim without sending it (unknown connection, disabled action, bad request). */
static void complete_now(evb_dispatcher *d, evb_claim *c, const action_entry *act, int state,
                         const char *outcome, const char *error)
{
    evb_attempt a = {.attempt = c->delivery->attempts, .time_ms = evb_now_ms(),
                     .outcome = outcome, .error = error};
    evb_err rc = evb_store_delivery_complete(d->store, c->delivery->id, &a, state, 0);
    if (rc == EVB_OK)
        evb_mx_delivery(kind_name(act), outcome, state == EVB_DELIVERY_DEAD ? 2 : 0, 0, 0, -1);
    if (rc != EVB_OK && rc != EVB_ERR_PRECONDITION)
        evb_log_warn(COMP, "cannot record delivery %s: %s", c->delivery->id, evb_strerror(rc));
}

/* Connections the next claim must skip. *out is malloc'd. *capacity_out receives how many
 * deliveries the other connections could start now (their free concurrency slots), so a
 * claim does not take more than can start and give the rest back. */
static size_t build_skip_list(evb_dispatcher *d, int64_t now, const char ***out,
                              long *capacity_out)
{
    long capacity = 0;
    const char **skip = calloc(d->cache.n_conns + 1, sizeof *skip);
    size_t n = 0;
    int def = d->opt.connection_concurrency;
    for (size_t i = 0; skip != NULL && i < d->cache.n_conns; i++) {
        conn_entry *c = d->cache.conns[i];
        action_entry *a = c->act;
        int limit = c->max_concurrency > 0 ? c->max_concurrency : def;
        /* A PAUSED connection (state 2) sends nothing, not even its PENDING deliveries and
         * retries made before the pause (store_routing.h: "a dispatcher checks the
         * connection's state before sending"); they go once it is resumed. With several
         * nodes the pause may be committed by another one: the routing generation brings
         * it here. */
        int skip_it = c->in_flight >= limit || !evb_bucket_ready(&c->rate, now) ||
                      (a != NULL && a->kind == ACTION_STREAM) || c->state == 2;
        if (!skip_it && a != NULL && !a->disabled) {
            if (a->open_until_ms > now)
                skip_it = 1; /* breaker open */
            else if (a->consecutive_failures >= d->opt.breaker_failures &&
                     a->half_open_in_flight > 0)
                skip_it = 1; /* half open: one probe at a time */
            else if (a->kind == ACTION_ROBOT && !evb_bucket_ready(&a->robot_limit, now))
                skip_it = 1;
        }
        if (skip_it)
            skip[n++] = c->id;
        else
            capacity += limit - c->in_flight;
    }
    *out = skip;
    *capacity_out = capacity;
    return n;
}

/* Starts one claimed delivery: build the request, hand it to curl. */
static void start_claim(evb_dispatcher *d, evb_claim *c, conn_entry *ce, int64_t now)
{
    action_entry *a = ce ? ce->act : NULL;
    char why[768];
    if (ce == NULL || a == NULL) {
        complete_now(d, c, a, EVB_DELIVERY_DEAD, "DEAD",
                     ce == NULL ? "the connection no longer exists"
                                : "the connection's action no longer exists");
        evb_claim_array_free(c, 1);
        return;
    }
    if (a->disabled || ce->state == 3) {
        snprintf(why, sizeof why, "%s is disabled: %.200s",
                 a->disabled ? "the action" : "the connection",
                 a->disabled ? a->disabled_reason : "see its state_reason");
        complete_now(d, c, a, EVB_DELIVERY_DEAD, "DEAD", why);
        evb_claim_array_free(c, 1);
        return;
    }
    xfer *x = NULL;
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = evb_xfer_new(c, ce, a, d->opt.allow, &x, &e);
    if (rc != EVB_OK) {
        snprintf(why, sizeof why, "cannot build the request: %.500s", e.message);
        complete_now(d, c, a, EVB_DELIVERY_DEAD, "DEAD", why);
        evb_claim_array_free(c, 1);
        return;
    }
    if (curl_multi_add_handle(d->multi, x->easy) != CURLM_OK) {
        complete_now(d, &x->claim, a, EVB_DELIVERY_PENDING, "RETRY", "cannot start a transfer");
        evb_xfer_free(x);
        return;
    }
    list_add(d, x);
    ce->in_flight++;
    evb_bucket_take(&ce->rate);
    if (a->kind == ACTION_ROBOT)
        evb_bucket_take(&a->robot_limit);
    if (a->consecutive_failures >= d->opt.breaker_failures)
        a->half_open_in_flight++;
    d->in_flight++;
    (void)now;
}

/* Whether one more delivery of the connection may start now (the claim takes up to a batch
 * at once, so each is checked again against the connection's and action's limits). When
 * not, *wait_ms says how long until it could (0 = when something finishes). */
static int may_start(const evb_dispatcher *d, conn_entry *ce, int64_t now, int64_t *wait_ms)
{
    action_entry *a = ce->act;
    int limit = ce->max_concurrency > 0 ? ce->max_concurrency : d->opt.connection_concurrency;
    *wait_ms = 0;
    if (a == NULL || a->disabled || ce->state == 3)
        return 1; /* dead-lettered at once by start_claim */
    if (ce->state == 2)
        return 0; /* paused since the claim's skip list was built: given back */
    if (ce->in_flight >= limit)
        return 0;
    if (!evb_bucket_ready(&ce->rate, now)) {
        *wait_ms = (int64_t)((1.0 - ce->rate.tokens) * 1000.0 / ce->rate.rate) + 1;
        return 0;
    }
    if (a->open_until_ms > now) {
        *wait_ms = a->open_until_ms - now;
        return 0;
    }
    if (a->consecutive_failures >= d->opt.breaker_failures && a->half_open_in_flight > 0)
        return 0; /* half open: one probe at a time */
    if (a->kind == ACTION_ROBOT && !evb_bucket_ready(&a->robot_limit, now)) {
        *wait_ms = (int64_t)((1.0 - a->robot_limit.tokens) * 1000.0 / a->robot_limit.rate) + 1;
        return 0;
    }
    return 1;
}

/* Claims and starts as much as the limits allow; what a limit holds back is given back to
 * the store, due when the limit allows. Returns the number started. */
static int fill(evb_dispatcher *d)
{
    int room = d->opt.max_in_flight - d->in_flight;
    if (room <= 0 || atomic_load(&d->stopping))
        return 0;
    if (evb_targets_refresh(&d->cache, d->store) != EVB_OK)
        evb_log_warn(COMP, "cannot refresh connections and actions; using the previous set");
    int64_t now = evb_mono_ms();
    const char **skip = NULL;
    long capacity = 0;
    size_t n_skip = build_skip_list(d, now, &skip, &capacity);
    evb_claim *cs = NULL;
    size_t n = 0;
    long limit = room < CLAIM_BATCH ? room : CLAIM_BATCH;
    if (capacity < limit)
        limit = capacity > 0 ? capacity : 1; /* 1: a connection created since the refresh */
    evb_err rc = evb_store_delivery_claim(d->store, evb_now_ms(), d->opt.lease_ms, (int)limit,
                                          skip, n_skip, &cs, &n);
    free(skip);
    if (rc != EVB_OK) {
        if (rc != EVB_ERR_NOT_FOUND)
            evb_log_warn(COMP, "cannot claim deliveries: %s", evb_strerror(rc));
        return 0;
    }
    const char **back_ids = calloc(n + 1, sizeof *back_ids);
    int *back_attempts = calloc(n + 1, sizeof *back_attempts);
    size_t n_back = 0;
    int64_t back_wait = INT64_MAX, started = 0;
    for (size_t i = 0; i < n; i++) {
        conn_entry *ce = evb_targets_conn(&d->cache, cs[i].delivery->connection_id);
        if (ce == NULL && evb_targets_refresh(&d->cache, d->store) == EVB_OK)
            ce = evb_targets_conn(&d->cache, cs[i].delivery->connection_id); /* created just now */
        int64_t wait = 0;
        if (ce != NULL && back_ids != NULL && back_attempts != NULL &&
            !may_start(d, ce, now, &wait)) {
            back_ids[n_back] = cs[i].delivery->id; /* freed after the give-back below */
            back_attempts[n_back++] = cs[i].delivery->attempts;
            back_wait = wait < back_wait ? wait : back_wait;
            continue;
        }
        /* move the claim into its own allocation so its transfer owns it */
        evb_claim *one = malloc(sizeof *one);
        if (one == NULL) { /* its lease expires: retried later */
            evb_delivery_rec_free(cs[i].delivery);
            evb_event_free(cs[i].event);
            cs[i].delivery = NULL;
            continue;
        }
        *one = cs[i];
        cs[i].delivery = NULL;
        cs[i].event = NULL;
        start_claim(d, one, ce, now);
        started++;
    }
    if (n_back > 0) {
        int64_t due = evb_now_ms() + (back_wait == INT64_MAX ? 0 : back_wait);
        if (evb_store_delivery_give_back(d->store, back_ids, back_attempts, n_back, due) != EVB_OK)
            evb_log_warn(COMP, "cannot give back %zu claims; their leases will expire", n_back);
    }
    for (size_t i = 0; i < n; i++) { /* what was given back (or failed to move) */
        evb_delivery_rec_free(cs[i].delivery);
        evb_event_free(cs[i].event);
    }
    free(back_ids);
    free(back_attempts);
    free(cs);
    return (int)started;
}

/* What an asynchronous completion needs when its commit is done. */
typedef struct recorded {
    evb_dispatcher *d; /* outlives the callback: stop waits for pending_records */
    const char *kind, *outcome; /* static strings */
    int final;
    int64_t recv_ms, latency_ms;
    char id[64];
} recorded;

/* Runs on the store's writer thread after the completion's commit (or its failure). */
static void on_recorded(void *arg, evb_err err)
{
    recorded *r = arg;
    if (err == EVB_OK)
        evb_mx_delivery(r->kind, r->outcome, r->final, 1, r->recv_ms, r->latency_ms);
    else if (err != EVB_ERR_PRECONDITION)
        evb_log_warn(COMP, "cannot record delivery %s: %s (it is sent again after its lease)",
                     r->id, evb_strerror(err));
    evb_dispatcher *d = r->d;
    int retry = r->final == 0;
    free(r);
    if (retry) /* a retry is due soon: recompute the wait now that it is committed */
        curl_multi_wakeup(d->multi);
    atomic_fetch_sub(&d->pending_records, 1);
}

/* Decides and records the outcome of a finished transfer. */
static void finish(evb_dispatcher *d, xfer *x, CURLcode cc)
{
    evb_xfer_result res;
    evb_xfer_outcome(x, cc, &res);
    conn_entry *ce = evb_targets_conn(&d->cache, x->claim.delivery->connection_id);
    action_entry *a = ce ? ce->act : NULL;
    const evb_delivery_rec *dl = x->claim.delivery;
    int64_t now = evb_now_ms();
    int state = EVB_DELIVERY_DELIVERED;
    int64_t next_ms = 0;
    const char *name = "DELIVERED";
    if (res.outcome == EVB_OUTCOME_RETRY) {
        int64_t delay = 0;
        evb_retry_policy def;
        evb_retry_policy_default(&def);
        const evb_retry_policy *p = ce ? &ce->retry : &def;
        int64_t age = now - x->claim.event->recv_ms;
        if (evb_retry_next(p, dl->attempts, age, x->retry_after_ms, next_rnd(d), &delay)) {
            state = EVB_DELIVERY_PENDING;
            next_ms = now + delay;
            name = "RETRY";
        } else {
            state = EVB_DELIVERY_DEAD;
            name = "DEAD";
        }
    } else if (res.outcome != EVB_OUTCOME_DELIVERED) {
        state = EVB_DELIVERY_DEAD;
        name = "DEAD";
    }
    evb_attempt at = {.attempt = dl->attempts, .time_ms = x->start_ms, .outcome = name,
                      .http_status = res.http_status, .errcode = res.errcode,
                      .latency_ms = evb_now_ms() - x->start_ms, .error = res.error};
    /* recorded without waiting: completions share the writer's group commits */
    recorded *r = malloc(sizeof *r);
    evb_err rc = EVB_ERR_NOMEM;
    if (r != NULL) {
        *r = (recorded){.d = d, .kind = x->is_robot ? "robot" : "http", .outcome = name,
                        .final = state == EVB_DELIVERY_DELIVERED ? 1
                                 : state == EVB_DELIVERY_DEAD    ? 2
                                                                 : 0,
                        .recv_ms = x->claim.event->recv_ms, .latency_ms = at.latency_ms};
        snprintf(r->id, sizeof r->id, "%s", dl->id);
        atomic_fetch_add(&d->pending_records, 1);
        rc = evb_store_delivery_complete_async(d->store, dl->id, &at, state, next_ms,
                                               on_recorded, r);
        if (rc != EVB_OK) {
            atomic_fetch_sub(&d->pending_records, 1);
            free(r);
        }
    }
    if (rc != EVB_OK) { /* queue full or no memory: wait for the commit instead */
        rc = evb_store_delivery_complete(d->store, dl->id, &at, state, next_ms);
        if (rc != EVB_OK && rc != EVB_ERR_PRECONDITION)
            evb_log_warn(COMP, "cannot record delivery %s: %s", dl->id, evb_strerror(rc));
    }
    const char *ctx[] = {"delivery_id", dl->id,          "connection_id", dl->connection_id,
                         "event_id",    dl->event_id,    "org",           dl->org,
                         "action",      a ? a->name : NULL, NULL};
    if (evb_log_enabled(EVB_LOG_DEBUG))
        evb_log(EVB_LOG_DEBUG, COMP, ctx, "attempt %d: %s (HTTP %d)%s%s", dl->attempts, name,
                res.http_status, res.error[0] ? ": " : "", res.error);
    if (res.outcome == EVB_OUTCOME_GONE && ce != NULL) {
        evb_store_connection_set_state(d->store, ce->id, 3, res.error);
        evb_log(EVB_LOG_WARN, COMP, ctx, "connection disabled: %s", res.error);
    } else if (res.outcome == EVB_OUTCOME_DISABLE_ACTION && a != NULL) {
        evb_store_action_set_disabled(d->store, a->name, 1, res.error);
        evb_log(EVB_LOG_WARN, COMP, ctx, "action disabled: %s", res.error);
    } else if (state == EVB_DELIVERY_DEAD) {
        evb_log(EVB_LOG_INFO, COMP, ctx, "dead-lettered after %d attempts: %s", dl->attempts,
                res.error);
    }
    if (ce != NULL && ce->in_flight > 0)
        ce->in_flight--;
    if (a != NULL) {
        if (a->half_open_in_flight > 0)
            a->half_open_in_flight--;
        if (res.outcome == EVB_OUTCOME_DELIVERED) {
            a->consecutive_failures = 0;
            a->open_until_ms = 0;
        } else if (res.outcome == EVB_OUTCOME_RETRY &&
                   ++a->consecutive_failures >= d->opt.breaker_failures) {
            a->open_until_ms = evb_mono_ms() + d->opt.breaker_open_ms;
        }
    }
    d->in_flight--;
}

static void drain_done(evb_dispatcher *d)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(d->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        CURLcode cc = m->data.result;
        curl_multi_remove_handle(d->multi, m->easy_handle);
        list_remove(d, x);
        finish(d, x, cc);
        evb_xfer_free(x);
    }
}

/* How long to wait: until the next due delivery, at most IDLE_POLL_MS. */
static int wait_ms(evb_dispatcher *d)
{
    int64_t next = INT64_MAX;
    if (d->in_flight >= d->opt.max_in_flight)
        return IDLE_POLL_MS;
    if (evb_store_delivery_next_due(d->store, &next) != EVB_OK || next == INT64_MAX)
        return IDLE_POLL_MS;
    int64_t w = next - evb_now_ms();
    if (w < 0)
        w = 0;
    /* limits (rate, robot, breaker) can hold due work back: poll again soon */
    return (int)(w < 50 ? 50 : w > IDLE_POLL_MS ? IDLE_POLL_MS : w);
}

static void *run(void *arg)
{
    evb_dispatcher *d = arg;
    int64_t stop_at = 0;
    for (;;) {
        int stopping = atomic_load(&d->stopping);
        if (stopping && stop_at == 0)
            stop_at = evb_mono_ms() + d->grace_ms;
        if (stopping && (d->in_flight == 0 || evb_mono_ms() >= stop_at))
            break;
        int started = fill(d);
        int running = 0;
        curl_multi_perform(d->multi, &running);
        drain_done(d);
        int timeout = stopping ? 50 : started > 0 ? 0 : wait_ms(d);
        curl_multi_poll(d->multi, NULL, 0, timeout, NULL);
    }
    return NULL;
}

evb_err evb_dispatcher_start(evb_store *store, const evb_dispatcher_options *opt,
                             evb_dispatcher **out)
{
    evb_dispatcher *d = calloc(1, sizeof *d);
    if (d == NULL)
        return EVB_ERR_NOMEM;
    d->store = store;
    if (opt != NULL)
        d->opt = *opt;
    if (d->opt.max_in_flight <= 0)
        d->opt.max_in_flight = 64;
    if (d->opt.connection_concurrency <= 0)
        d->opt.connection_concurrency = 16;
    if (d->opt.lease_ms <= 0)
        d->opt.lease_ms = 150000;
    if (d->opt.breaker_failures <= 0)
        d->opt.breaker_failures = 5;
    if (d->opt.breaker_open_ms <= 0)
        d->opt.breaker_open_ms = 30000;
    if (evb_random_bytes(&d->rnd_state, sizeof d->rnd_state) != EVB_OK || d->rnd_state == 0)
        d->rnd_state = 0x9E3779B97F4A7C15ULL;
    atomic_init(&d->stopping, 0);
    atomic_init(&d->pending_records, 0);
    int64_t released = 0;
    if (evb_store_delivery_release_leases(store, evb_now_ms(), &released) == EVB_OK &&
        released > 0)
        evb_log_info(COMP, "%lld deliveries leased before a restart are due again",
                     (long long)released);
    d->multi = curl_multi_init();
    if (d->multi == NULL) {
        free(d);
        return EVB_ERR_NOMEM;
    }
    curl_multi_setopt(d->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32L);
    curl_multi_setopt(d->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    if (pthread_create(&d->thread, NULL, run, d) != 0) {
        curl_multi_cleanup(d->multi);
        free(d);
        return EVB_ERR_INTERNAL;
    }
    *out = d;
    return EVB_OK;
}

void evb_dispatcher_stop(evb_dispatcher *d, int grace_ms)
{
    if (d == NULL)
        return;
    d->grace_ms = grace_ms;
    atomic_store(&d->stopping, 1);
    curl_multi_wakeup(d->multi);
    pthread_join(d->thread, NULL);
    /* completions queued in the store call back into d: wait until they have run */
    for (int i = 0; i < 10000 && atomic_load(&d->pending_records) > 0; i++)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    /* transfers still running are abandoned: their leases expire, they are sent again */
    while (d->xfers != NULL) {
        xfer *x = d->xfers;
        list_remove(d, x);
        curl_multi_remove_handle(d->multi, x->easy);
        evb_xfer_free(x);
    }
    curl_multi_cleanup(d->multi);
    evb_targets_fini(&d->cache);
    free(d);
}
