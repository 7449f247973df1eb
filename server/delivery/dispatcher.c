/* evbridge — the dispatcher loop. See dispatcher.h.
 *
 * One thread: take what the claimer brought (claimer.c: claims run on a helper thread, one
 * at a time, so this thread never waits for a commit), start what the limits allow from the
 * ready queue, drive the multi handle, complete finished transfers in the store without
 * waiting (they ride the writer's group commits), ask for the next claim, and wait in
 * curl_multi_poll until a transfer event, a claim result, a wake-up or the next due time.
 *
 * Claims run ahead of the transfers: each connection may have claimed-and-waiting rows up to
 * what it finishes in PREFETCH_HORIZON_MS (measured per connection), so one claim (a commit
 * away) feeds the transfers until the next one is back; a slow endpoint gets no more than
 * its concurrency limit, as before, and cannot fill the queue. A claimed row that a limit
 * other than concurrency holds back (rate, robot, breaker, pause) is given back at once.
 * Figures: docs/benchmarks.md, "Delivery path".
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
#define LIMIT_POLL_MS 50        /* due work held back by a limit: look again this soon */
#define CLAIM_MAX 1000          /* rows per claim (the store takes 1..1000) */
#define READY_MAX 2048          /* claimed rows waiting to start, over all connections */
#define PREFETCH_HORIZON_MS 250 /* claim ahead what a connection finishes in this time */
#define RATE_WINDOW_MS 250      /* window of the per-connection finish rate */

/* A claimed delivery waiting for a transfer slot. */
typedef struct ready_claim {
    evb_claim c;
    int counted; /* in its conn_entry's queued */
} ready_claim;

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
    xfer *xfers;                /* in flight */
    atomic_int pending_records; /* asynchronous completions not yet committed */
    claimer *claimer;
    ready_claim *ready; /* READY_MAX slots, FIFO (claim order) */
    size_t n_ready;
    int claim_again;        /* the last claim brought rows: more may be due */
    atomic_int poke;        /* new deliveries committed, or a retry: claim again */
    int finished;           /* transfers finished since the last claim request */
    int64_t next_claim_ms;  /* monotonic: claim again by then at the latest */
    int64_t blind_claim_ms; /* monotonic: the next claim with every connection skipped */
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
    if (d != NULL) {
        atomic_store(&d->poke, 1);
        curl_multi_wakeup(d->multi);
    }
}

/* The metrics label of an action kind. */
static const char *kind_name(const action_entry *a)
{
    if (a == NULL)
        return "unknown";
    return a->kind == ACTION_ROBOT ? "robot" : a->kind == ACTION_STREAM ? "stream" : "http";
}

/* What an asynchronous completion needs when its commit is done. */
typedef struct recorded {
    evb_dispatcher *d;          /* outlives the callback: stop waits for pending_records */
    const char *kind, *outcome; /* static strings */
    int final;
    int counted; /* an attempt that was sent (metrics) */
    int64_t recv_ms, latency_ms;
    char id[64];
} recorded;

/* Runs on the store's writer thread after the completion's commit (or its failure). */
static void on_recorded(void *arg, evb_err err)
{
    recorded *r = arg;
    if (err == EVB_OK)
        evb_mx_delivery(r->kind, r->outcome, r->final, r->counted, r->recv_ms, r->latency_ms);
    else if (err != EVB_ERR_PRECONDITION)
        evb_log_warn(COMP, "cannot record delivery %s: %s (it is sent again after its lease)",
                     r->id, evb_strerror(err));
    evb_dispatcher *d = r->d;
    int retry = r->final == 0;
    free(r);
    if (retry) /* a retry is due soon: recompute the wait now that it is committed */
        evb_dispatcher_wake(d);
    atomic_fetch_sub(&d->pending_records, 1);
}

/* Records an attempt without waiting (it rides the writer's next group commit); when the
 * write queue is full, waits for the commit instead. */
static void record(evb_dispatcher *d, const evb_delivery_rec *dl, const evb_attempt *at, int state,
                   int64_t next_ms, const recorded *what)
{
    recorded *r = malloc(sizeof *r);
    evb_err rc = EVB_ERR_NOMEM;
    if (r != NULL) {
        *r = *what;
        r->d = d;
        r->final = state == EVB_DELIVERY_DELIVERED ? 1 : state == EVB_DELIVERY_DEAD ? 2 : 0;
        snprintf(r->id, sizeof r->id, "%s", dl->id);
        atomic_fetch_add(&d->pending_records, 1);
        rc =
            evb_store_delivery_complete_async(d->store, dl->id, at, state, next_ms, on_recorded, r);
        if (rc != EVB_OK) {
            atomic_fetch_sub(&d->pending_records, 1);
            free(r);
        }
    }
    if (rc != EVB_OK) { /* queue full or no memory: wait for the commit instead */
        rc = evb_store_delivery_complete(d->store, dl->id, at, state, next_ms);
        if (rc == EVB_OK)
            evb_mx_delivery(what->kind, what->outcome,
                            state == EVB_DELIVERY_DELIVERED ? 1
                            : state == EVB_DELIVERY_DEAD    ? 2
                                                            : 0,
                            what->counted, what->recv_ms, what->latency_ms);
        else if (rc != EVB_ERR_PRECONDITION)
            evb_log_warn(COMP, "cannot record delivery %s: %s", dl->id, evb_strerror(rc));
    }
}

/* Completes a claim without sending it (unknown connection, disabled action, bad request). */
static void complete_now(evb_dispatcher *d, evb_claim *c, const action_entry *act, int state,
                         const char *outcome, const char *error)
{
    evb_attempt a = {.attempt = c->delivery->attempts,
                     .time_ms = evb_now_ms(),
                     .outcome = outcome,
                     .error = error};
    recorded what = {.kind = kind_name(act), .outcome = outcome, .latency_ms = -1};
    record(d, c->delivery, &a, state, 0, &what);
}

/* The connection's concurrency limit. */
static int conn_limit(const evb_dispatcher *d, const conn_entry *c)
{
    return c->max_concurrency > 0 ? c->max_concurrency : d->opt.connection_concurrency;
}

/* How many of the connection's deliveries may be claimed or in flight at once: its
 * concurrency limit plus what it finishes in PREFETCH_HORIZON_MS, so a claim a commit away
 * keeps it busy; a slow (or new) endpoint gets its concurrency limit only. */
static long prefetch_cap(const evb_dispatcher *d, const conn_entry *c, int64_t now)
{
    double rate = c->done_per_s;
    int64_t window = now - c->done_since_ms;
    if (c->done_since_ms != 0 && window > 4LL * RATE_WINDOW_MS) { /* gone quiet or slow */
        double recent = (double)c->done_n * 1000.0 / (double)window;
        rate = recent < rate ? recent : rate;
    }
    long cap = conn_limit(d, c) + (long)(rate * PREFETCH_HORIZON_MS / 1000.0);
    return cap < READY_MAX ? cap : READY_MAX;
}

/* Connections the next claim must skip. *out is malloc'd. *capacity_out receives how many
 * deliveries the other connections could take now (free concurrency slots plus prefetch,
 * bounded by rate-limit tokens and the breaker's single probe), so a claim does not take
 * more than they can start soon. */
static size_t build_skip_list(evb_dispatcher *d, int64_t now, const char ***out, long *capacity_out)
{
    long capacity = 0;
    const char **skip = calloc(d->cache.n_conns + 1, sizeof *skip);
    size_t n = 0;
    for (size_t i = 0; skip != NULL && i < d->cache.n_conns; i++) {
        conn_entry *c = d->cache.conns[i];
        action_entry *a = c->act;
        long room = prefetch_cap(d, c, now) - c->in_flight - c->queued;
        /* A PAUSED connection (state 2) sends nothing, not even its PENDING deliveries and
         * retries made before the pause (store_routing.h: "a dispatcher checks the
         * connection's state before sending"); they go once it is resumed. With several
         * nodes the pause may be committed by another one: the routing generation brings
         * it here. */
        int skip_it = c->in_flight >= conn_limit(d, c) || room <= 0 ||
                      !evb_bucket_ready(&c->rate, now) || (a != NULL && a->kind == ACTION_STREAM) ||
                      c->state == 2;
        if (!skip_it && c->rate.rate > 0 && (long)c->rate.tokens - c->queued < room)
            room = (long)c->rate.tokens - c->queued; /* no more than it may send now */
        if (!skip_it && a != NULL && !a->disabled) {
            if (a->open_until_ms > now) {
                skip_it = 1; /* breaker open */
            } else if (a->consecutive_failures >= d->opt.breaker_failures) {
                if (a->half_open_in_flight > 0 || c->queued > 0)
                    skip_it = 1; /* half open: one probe at a time */
                room = 1;
            } else if (a->kind == ACTION_ROBOT) {
                if (!evb_bucket_ready(&a->robot_limit, now))
                    skip_it = 1;
                else if ((long)a->robot_limit.tokens - c->queued < room)
                    room = (long)a->robot_limit.tokens - c->queued;
            }
        }
        if (skip_it || room <= 0)
            skip[n++] = c->id;
        else
            capacity += room;
    }
    *out = skip;
    *capacity_out = capacity;
    return n;
}

/* A claim whose connection is not in our routing snapshot: with several nodes on one
 * database, another node may have created the connection (and routed events to it) a
 * moment before its notification reaches us. When the store has the connection, the
 * snapshot is behind: give the claim back (due shortly, the attempt taken back) instead of
 * dead-lettering it; the routing generation brings the connection in. Returns 1 then. */
static int cache_behind(evb_dispatcher *d, const evb_claim *c)
{
    evb_connection_rec *rec = NULL;
    if (evb_store_connection_get(d->store, c->delivery->connection_id, &rec) != EVB_OK)
        return 0;
    evb_connection_rec_free(rec);
    const char *id = c->delivery->id;
    int attempts = c->delivery->attempts;
    if (evb_store_delivery_give_back(d->store, &id, &attempts, 1, evb_now_ms() + 200) != EVB_OK)
        evb_log_warn(COMP, "cannot give back delivery %s (due again when its lease ends)", id);
    return 1;
}

/* Starts one claimed delivery: build the request, hand it to curl. Returns 1 when a
 * transfer started. */
static int start_claim(evb_dispatcher *d, evb_claim *c, conn_entry *ce)
{
    action_entry *a = ce ? ce->act : NULL;
    char why[768];
    if (ce == NULL && cache_behind(d, c)) {
        evb_claim_array_free(c, 1);
        return 0;
    }
    if (ce == NULL || a == NULL) {
        complete_now(d, c, a, EVB_DELIVERY_DEAD, "DEAD",
                     ce == NULL ? "the connection no longer exists"
                                : "the connection's action no longer exists");
        evb_claim_array_free(c, 1);
        return 0;
    }
    if (a->disabled || ce->state == 3) {
        snprintf(why, sizeof why, "%s is disabled: %.200s",
                 a->disabled ? "the action" : "the connection",
                 a->disabled ? a->disabled_reason : "see its state_reason");
        complete_now(d, c, a, EVB_DELIVERY_DEAD, "DEAD", why);
        evb_claim_array_free(c, 1);
        return 0;
    }
    xfer *x = NULL;
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = evb_xfer_new(c, ce, a, d->opt.allow, &x, &e);
    if (rc != EVB_OK) {
        snprintf(why, sizeof why, "cannot build the request: %.500s", e.message);
        complete_now(d, c, a, EVB_DELIVERY_DEAD, "DEAD", why);
        evb_claim_array_free(c, 1);
        return 0;
    }
    if (curl_multi_add_handle(d->multi, x->easy) != CURLM_OK) {
        complete_now(d, &x->claim, a, EVB_DELIVERY_PENDING, "RETRY", "cannot start a transfer");
        evb_xfer_free(x);
        return 0;
    }
    list_add(d, x);
    ce->in_flight++;
    evb_bucket_take(&ce->rate);
    if (a->kind == ACTION_ROBOT)
        evb_bucket_take(&a->robot_limit);
    if (a->consecutive_failures >= d->opt.breaker_failures)
        a->half_open_in_flight++;
    d->in_flight++;
    return 1;
}

typedef enum { START, WAIT_SLOT, GIVE_BACK } start_verdict;

/* Whether one more delivery of the connection may start now (rows are claimed ahead, so
 * each is checked again against the connection's and action's limits when it starts).
 * WAIT_SLOT: at the concurrency limit, it stays in the ready queue for the next free slot;
 * GIVE_BACK: another limit holds it back, *wait_ms says for how long (0 = unknown). */
static start_verdict may_start(const evb_dispatcher *d, conn_entry *ce, int64_t now,
                               int64_t *wait_ms)
{
    action_entry *a = ce->act;
    *wait_ms = 0;
    if (a == NULL || a->disabled || ce->state == 3)
        return START; /* dead-lettered at once by start_claim */
    if (ce->state == 2)
        return GIVE_BACK; /* paused since it was claimed */
    if (a->open_until_ms > now) {
        *wait_ms = a->open_until_ms - now;
        return GIVE_BACK;
    }
    if (a->consecutive_failures >= d->opt.breaker_failures && a->half_open_in_flight > 0)
        return GIVE_BACK; /* half open: one probe at a time */
    if (ce->in_flight >= conn_limit(d, ce))
        return WAIT_SLOT;
    if (!evb_bucket_ready(&ce->rate, now)) {
        *wait_ms = (int64_t)((1.0 - ce->rate.tokens) * 1000.0 / ce->rate.rate) + 1;
        return GIVE_BACK;
    }
    if (a->kind == ACTION_ROBOT && !evb_bucket_ready(&a->robot_limit, now)) {
        *wait_ms = (int64_t)((1.0 - a->robot_limit.tokens) * 1000.0 / a->robot_limit.rate) + 1;
        return GIVE_BACK;
    }
    return START;
}

/* Gives claims back to the store, due in wait_ms; frees them. */
static void give_back(evb_dispatcher *d, evb_claim *cs, size_t n, int64_t wait_ms)
{
    if (n == 0)
        return;
    const char **ids = calloc(n, sizeof *ids);
    int *attempts = calloc(n, sizeof *attempts);
    if (ids != NULL && attempts != NULL) {
        for (size_t i = 0; i < n; i++) {
            ids[i] = cs[i].delivery->id;
            attempts[i] = cs[i].delivery->attempts;
        }
        if (evb_store_delivery_give_back(d->store, ids, attempts, n, evb_now_ms() + wait_ms) !=
            EVB_OK)
            evb_log_warn(COMP, "cannot give back %zu claims; their leases will expire", n);
    }
    free(ids);
    free(attempts);
    for (size_t i = 0; i < n; i++) {
        evb_delivery_rec_free(cs[i].delivery);
        evb_event_free(cs[i].event);
    }
}

/* Removes ready[i]'s count from its connection. */
static void uncount(evb_dispatcher *d, ready_claim *r)
{
    if (!r->counted)
        return;
    conn_entry *ce = evb_targets_conn(&d->cache, r->c.delivery->connection_id);
    if (ce != NULL && ce->queued > 0)
        ce->queued--;
    r->counted = 0;
}

/* Starts what the limits allow from the ready queue, in claim order; rows at their
 * connection's concurrency limit wait for a slot, rows another limit holds back are given
 * back. Returns the number started. */
static int start_ready(evb_dispatcher *d)
{
    if (d->n_ready == 0)
        return 0;
    if (evb_targets_refresh(&d->cache, d->store) != EVB_OK)
        evb_log_warn(COMP, "cannot refresh connections and actions; using the previous set");
    int64_t now = evb_mono_ms();
    evb_claim *back = calloc(d->n_ready, sizeof *back);
    size_t n_back = 0, kept = 0;
    int64_t back_wait = INT64_MAX;
    int started = 0, refreshed = 0;
    for (size_t i = 0; i < d->n_ready; i++) {
        ready_claim *r = &d->ready[i];
        if (d->in_flight >= d->opt.max_in_flight || back == NULL) {
            d->ready[kept++] = *r;
            continue;
        }
        conn_entry *ce = evb_targets_conn(&d->cache, r->c.delivery->connection_id);
        if (ce == NULL && !refreshed) { /* created just now? */
            refreshed = 1;
            if (evb_targets_refresh(&d->cache, d->store) == EVB_OK)
                ce = evb_targets_conn(&d->cache, r->c.delivery->connection_id);
        }
        int64_t wait = 0;
        start_verdict v = ce != NULL ? may_start(d, ce, now, &wait) : START;
        if (v == WAIT_SLOT) {
            d->ready[kept++] = *r;
            continue;
        }
        uncount(d, r);
        if (v == GIVE_BACK) {
            back[n_back++] = r->c;
            back_wait = wait < back_wait ? wait : back_wait;
            continue;
        }
        evb_claim *one = malloc(sizeof *one); /* its transfer owns it */
        if (one == NULL) {                    /* its lease expires: retried later */
            evb_delivery_rec_free(r->c.delivery);
            evb_event_free(r->c.event);
            continue;
        }
        *one = r->c;
        started += start_claim(d, one, ce);
    }
    d->n_ready = kept;
    if (n_back > 0) {
        int64_t w = back_wait == INT64_MAX ? 0 : back_wait;
        give_back(d, back, n_back, w);
        int64_t at = now + (w > LIMIT_POLL_MS ? w : LIMIT_POLL_MS);
        if (at < d->next_claim_ms)
            d->next_claim_ms = at;
    }
    free(back);
    return started;
}

/* When to claim again at the latest after a claim that brought nothing: the next due
 * time, but soon (LIMIT_POLL_MS) when due work is held back by limits, and within
 * IDLE_POLL_MS anyway. */
static int64_t next_claim_at(evb_dispatcher *d, int64_t now)
{
    int64_t next = INT64_MAX;
    if (evb_store_delivery_next_due(d->store, &next) != EVB_OK || next == INT64_MAX)
        return now + IDLE_POLL_MS;
    int64_t w = next - evb_now_ms();
    return now + (w < LIMIT_POLL_MS ? LIMIT_POLL_MS : w > IDLE_POLL_MS ? IDLE_POLL_MS : w);
}

/* Moves a finished claim into the ready queue (or gives it back when stopping). Returns 1
 * when one was taken. */
static int take_claim(evb_dispatcher *d)
{
    evb_claim *cs = NULL;
    size_t n = 0;
    evb_err rc = EVB_OK;
    if (!evb_claimer_take(d->claimer, &cs, &n, &rc))
        return 0;
    if (rc != EVB_OK && rc != EVB_ERR_NOT_FOUND)
        evb_log_warn(COMP, "cannot claim deliveries: %s", evb_strerror(rc));
    int64_t now = evb_mono_ms();
    if (atomic_load(&d->stopping)) {
        give_back(d, cs, n, 0);
        free(cs);
        return 1;
    }
    d->claim_again = rc == EVB_OK && n > 0;
    if (!d->claim_again)
        d->next_claim_ms = next_claim_at(d, now);
    size_t i = 0;
    for (; i < n && d->n_ready < READY_MAX; i++) {
        ready_claim *r = &d->ready[d->n_ready++];
        r->c = cs[i];
        conn_entry *ce = evb_targets_conn(&d->cache, cs[i].delivery->connection_id);
        r->counted = ce != NULL;
        if (ce != NULL)
            ce->queued++;
    }
    give_back(d, cs + i, n - i, 0); /* beyond the queue's bound (claims are not bigger) */
    free(cs);
    return 1;
}

/* Asks the claimer for due deliveries when it is idle, there is room, and something may
 * be due: the last claim brought rows, a commit or a finished transfer may have made some
 * claimable, or the next due time came. */
static void request_claim(evb_dispatcher *d)
{
    if (atomic_load(&d->stopping) || !evb_claimer_idle(d->claimer))
        return;
    int64_t now = evb_mono_ms();
    int poked = atomic_exchange(&d->poke, 0);
    if (!d->claim_again && !poked && d->finished == 0 && now < d->next_claim_ms)
        return;
    long room = READY_MAX - (long)d->n_ready;
    if (room <= 0) { /* a finished transfer makes room */
        d->next_claim_ms = now + IDLE_POLL_MS;
        return;
    }
    if (evb_targets_refresh(&d->cache, d->store) != EVB_OK)
        evb_log_warn(COMP, "cannot refresh connections and actions; using the previous set");
    const char **skip = NULL;
    long capacity = 0;
    size_t n_skip = build_skip_list(d, now, &skip, &capacity);
    long limit = room < CLAIM_MAX ? room : CLAIM_MAX;
    if (capacity < limit)
        limit = capacity;
    if (limit <= 0 && d->in_flight == 0 && d->n_ready == 0 && now >= d->blind_claim_ms) {
        /* every known connection is held back: rows of one not in the cache (created since
         * the refresh, or deleted: dead-lettered at start) are looked for once a second */
        limit = 1;
        d->blind_claim_ms = now + IDLE_POLL_MS;
    }
    if (skip == NULL || limit <= 0) {
        free(skip);
        d->claim_again = 0;
        d->finished = 0;
        /* held back by limits: no store read here (a round trip on PostgreSQL, and this
         * runs after every finished transfer while the queue is full); a finished transfer
         * looks again at once, a rate limit's tokens within LIMIT_POLL_MS */
        d->next_claim_ms =
            now + (d->in_flight + (long)d->n_ready > 0 ? IDLE_POLL_MS : LIMIT_POLL_MS);
        return;
    }
    evb_err rc = evb_claimer_request(d->claimer, d->opt.lease_ms, (int)limit, skip, n_skip);
    free(skip);
    if (rc != EVB_OK) {
        evb_log_warn(COMP, "cannot claim deliveries: %s", evb_strerror(rc));
        d->next_claim_ms = now + LIMIT_POLL_MS;
        return;
    }
    d->claim_again = 0;
    d->finished = 0;
}

/* Updates the connection's finish rate (sizes its prefetch). */
static void count_finished(conn_entry *ce)
{
    int64_t now = evb_mono_ms();
    if (ce->done_since_ms == 0)
        ce->done_since_ms = now;
    ce->done_n++;
    int64_t window = now - ce->done_since_ms;
    if (window >= RATE_WINDOW_MS) {
        double r = (double)ce->done_n * 1000.0 / (double)window;
        ce->done_per_s = ce->done_per_s > 0 ? (ce->done_per_s + r) / 2 : r;
        ce->done_since_ms = now;
        ce->done_n = 0;
    }
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
    evb_attempt at = {.attempt = dl->attempts,
                      .time_ms = x->start_ms,
                      .outcome = name,
                      .http_status = res.http_status,
                      .errcode = res.errcode,
                      .latency_ms = now - x->start_ms,
                      .error = res.error};
    /* recorded without waiting: completions share the writer's group commits */
    recorded what = {.kind = x->is_robot ? "robot" : "http",
                     .outcome = name,
                     .counted = 1,
                     .recv_ms = x->claim.event->recv_ms,
                     .latency_ms = at.latency_ms};
    record(d, dl, &at, state, next_ms, &what);
    const char *ctx[] = {
        "delivery_id", dl->id,  "connection_id", dl->connection_id,  "event_id", dl->event_id,
        "org",         dl->org, "action",        a ? a->name : NULL, NULL};
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
    if (ce != NULL) {
        if (ce->in_flight > 0)
            ce->in_flight--;
        count_finished(ce);
    }
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
    d->finished++;
}

/* Completes the finished transfers. Returns how many. */
static int drain_done(evb_dispatcher *d)
{
    CURLMsg *m;
    int left, n = 0;
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
        n++;
    }
    return n;
}

static void *run(void *arg)
{
    evb_dispatcher *d = arg;
    int64_t stop_at = 0;
    for (;;) {
        int stopping = atomic_load(&d->stopping);
        if (stopping && stop_at == 0) {
            stop_at = evb_mono_ms() + d->grace_ms;
            for (size_t i = 0; i < d->n_ready; i++) /* not started: due again at once */
                uncount(d, &d->ready[i]);
            evb_claim *cs = calloc(d->n_ready + 1, sizeof *cs);
            for (size_t i = 0; cs != NULL && i < d->n_ready; i++)
                cs[i] = d->ready[i].c;
            if (cs != NULL) {
                give_back(d, cs, d->n_ready, 0);
                d->n_ready = 0;
            }
            free(cs);
        }
        if (stopping && (d->in_flight == 0 || evb_mono_ms() >= stop_at))
            break;
        int progress = take_claim(d);
        progress += start_ready(d);
        int running = 0;
        curl_multi_perform(d->multi, &running);
        if (drain_done(d) > 0)
            progress += start_ready(d);
        request_claim(d);
        int timeout = IDLE_POLL_MS;
        if (stopping) {
            timeout = 50;
        } else if (progress > 0) {
            timeout = 0;
        } else if (evb_claimer_idle(d->claimer)) { /* else the claimer wakes us */
            int64_t w = d->next_claim_ms - evb_mono_ms();
            timeout = w < 0 ? 0 : w > IDLE_POLL_MS ? IDLE_POLL_MS : (int)w;
        }
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
        d->opt.max_in_flight = EVB_DISPATCHER_MAX_IN_FLIGHT;
    if (d->opt.connection_concurrency <= 0)
        d->opt.connection_concurrency = EVB_DISPATCHER_CONNECTION_CONCURRENCY;
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
    atomic_init(&d->poke, 1);
    d->ready = calloc(READY_MAX, sizeof *d->ready);
    if (d->ready == NULL) {
        free(d);
        return EVB_ERR_NOMEM;
    }
    int64_t released = 0;
    if (evb_store_delivery_release_leases(store, evb_now_ms(), &released) == EVB_OK && released > 0)
        evb_log_info(COMP, "%lld deliveries leased before a restart are due again",
                     (long long)released);
    d->multi = curl_multi_init();
    if (d->multi == NULL) {
        free(d->ready);
        free(d);
        return EVB_ERR_NOMEM;
    }
    curl_multi_setopt(d->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32L);
    curl_multi_setopt(d->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    if (evb_claimer_start(store, d->multi, &d->claimer) != EVB_OK) {
        curl_multi_cleanup(d->multi);
        free(d->ready);
        free(d);
        return EVB_ERR_NOMEM;
    }
    if (pthread_create(&d->thread, NULL, run, d) != 0) {
        evb_claim *cs = NULL;
        size_t n = 0;
        evb_claimer_stop(d->claimer, &cs, &n);
        evb_claim_array_free(cs, n);
        curl_multi_cleanup(d->multi);
        free(d->ready);
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
    /* a claim that finished after the loop ended: not started, so due again at once */
    evb_claim *cs = NULL;
    size_t n = 0;
    evb_claimer_stop(d->claimer, &cs, &n);
    give_back(d, cs, n, 0);
    free(cs);
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
    free(d->ready);
    free(d);
}
