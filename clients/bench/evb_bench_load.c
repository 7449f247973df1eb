/* evb-bench — the publishers: unary calls or bidi streams on the gRPC core client API.
 *
 * Each worker thread owns one completion queue and a share of the load: `concurrency` unary
 * calls in flight in all (each finished call is replaced at once), or `concurrency` streams,
 * each with one SEND_MESSAGE and one RECV_MESSAGE op in flight (the core allows no more) and
 * up to `window` requests awaiting their in-order replies. Calls are spread over
 * `connections` channels with distinct args and a local subchannel pool, so each is its own
 * TCP connection. Requests are pre-encoded (evb_bench_payload.c): a send patches ids and
 * timestamps in place and copies the bytes into a slice.
 *
 * Timing: warm-up, then the measured window [tw, te]; a call counts when its reply arrives
 * inside the window (steady-state throughput), and its latency is from its start to its
 * reply. With --rate the load is open: each worker schedules sends at fixed intervals and a
 * call's latency starts at its *scheduled* time, so queueing behind full slots is counted
 * (no coordinated omission).
 */
#include "evb_bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "evbridge/v1/events.pb-c.h"

enum { OP_UNARY, OP_META, OP_SEND, OP_RECV, OP_STATUS, N_OPS };

typedef struct worker worker;
typedef struct slot slot;

typedef struct optag {
    slot *s;
    int op;
} optag;

struct slot {
    worker *w;
    grpc_channel *ch;
    grpc_call *call;
    optag tags[N_OPS];
    grpc_byte_buffer *send, *recv;
    grpc_metadata_array init_md, trailing;
    grpc_slice details;
    grpc_status_code status;
    int64_t t0;
    size_t nent;
    /* stream state */
    int live, send_busy, recv_busy, status_busy, meta_busy, close_sent, init_md_asked;
    int outstanding;
    int64_t *ring_t0; /* window entries: start time of each request awaiting its reply */
    size_t *ring_n;
    size_t ring_head;
};

struct worker {
    int idx;
    const bench_load_opts *o;
    grpc_completion_queue *cq;
    slot *slots;
    int nslots;
    bench_req *reqs;
    size_t next_req;
    uint64_t next_id;
    int64_t t_begin, tw, te;
    double interval_ns; /* pacing: ns between requests; 0 = closed loop */
    double next_send;
    int in_flight; /* unary calls or live streams */
    size_t rr;
    bench_load_result r;
    int64_t last_done;
};

static _Atomic uint64_t g_count_left; /* count mode: events still to send in the window */
static int g_count_mode;

static gpr_timespec ns_to_deadline(int64_t abs_mono_ns)
{
    int64_t d = abs_mono_ns - bench_now_ns();
    if (d < 0)
        d = 0;
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC), gpr_time_from_nanos(d, GPR_TIMESPAN));
}

/* Remembers the first error: "a" or "a: b". */
static void set_error(worker *w, const char *a, const char *b)
{
    if (w->r.first_error[0] == 0)
        snprintf(w->r.first_error, sizeof w->r.first_error, "%s%s%s", a, b[0] ? ": " : "", b);
}

/* May this worker start a request of n entries now? Sets *t0 to its (scheduled) start. */
static int may_send(worker *w, int64_t now, size_t n, int64_t *t0)
{
    if (!g_count_mode && now >= w->te)
        return 0;
    if (w->interval_ns > 0) {
        if ((double)now < w->next_send)
            return 0;
        *t0 = (int64_t)w->next_send;
    } else {
        *t0 = now;
    }
    if (g_count_mode && now >= w->tw) {
        uint64_t left = atomic_load(&g_count_left);
        do {
            if (left == 0)
                return 0;
        } while (!atomic_compare_exchange_weak(&g_count_left, &left, left > n ? left - n : 0));
    }
    return 1;
}

static void sent(worker *w, size_t n)
{
    if (w->interval_ns > 0)
        w->next_send += w->interval_ns;
    w->r.events_sent += n;
}

static grpc_byte_buffer *next_request(worker *w, int64_t t0, size_t *n, size_t *bytes)
{
    bench_req *rq = &w->reqs[w->next_req++ % w->o->n_reqs];
    bench_req_patch(rq, &w->next_id, t0 / 1000);
    grpc_slice s = grpc_slice_from_copied_buffer((const char *)rq->buf, rq->len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    *n = rq->n;
    *bytes = rq->len;
    return bb;
}

/* Accounts one reply (a PutEventsResponse, or an echo) of a request of n entries. */
static void account(worker *w, grpc_byte_buffer *bb, size_t n, int64_t t0, size_t bytes)
{
    int64_t now = bench_now_ns();
    uint64_t ok = 0, dedup = 0, rej = 0;
    if (w->o->echo) {
        ok = n;
    } else {
        grpc_byte_buffer_reader rd;
        grpc_byte_buffer_reader_init(&rd, bb);
        grpc_slice all = grpc_byte_buffer_reader_readall(&rd);
        grpc_byte_buffer_reader_destroy(&rd);
        Evbridge__V1__PutEventsResponse *resp = evbridge__v1__put_events_response__unpack(
            NULL, GRPC_SLICE_LENGTH(all), GRPC_SLICE_START_PTR(all));
        grpc_slice_unref(all);
        if (resp == NULL) {
            set_error(w, "undecodable PutEventsResponse", "");
            rej = n;
        } else {
            for (size_t i = 0; i < resp->n_results; i++) {
                const Evbridge__V1__PutEventsResult *x = resp->results[i];
                if (x->status == EVBRIDGE__V1__RESULT_STATUS__PUBLISHED)
                    ok++;
                else if (x->status == EVBRIDGE__V1__RESULT_STATUS__DEDUPLICATED)
                    dedup++;
                else {
                    rej++;
                    {
                        char c[64];
                        snprintf(c, sizeof c, "rejected %s", x->error_code);
                        set_error(w, c, x->error_message);
                    }
                }
            }
            evbridge__v1__put_events_response__free_unpacked(resp, NULL);
        }
    }
    w->r.events_acked += ok + dedup;
    w->last_done = now;
    if (now >= w->tw && (g_count_mode || now <= w->te)) {
        w->r.events_ok += ok;
        w->r.events_dedup += dedup;
        w->r.events_rejected += rej;
        w->r.calls_ok++;
        w->r.bytes_sent += bytes;
        bench_hist_add(&w->r.lat, now - t0);
    }
}

static grpc_metadata auth_md(const worker *w)
{
    grpc_metadata md = {.key = grpc_slice_from_static_string("authorization"),
                        .value = grpc_slice_from_static_string(w->o->auth ? w->o->auth : "")};
    return md;
}

/* ---- unary ---- */

static int unary_start(slot *s, int64_t t0)
{
    worker *w = s->w;
    size_t bytes;
    s->send = next_request(w, t0, &s->nent, &bytes);
    s->t0 = t0;
    s->recv = NULL;
    s->details = grpc_empty_slice();
    grpc_metadata_array_init(&s->init_md);
    grpc_metadata_array_init(&s->trailing);
    int64_t dl = bench_now_ns() + (int64_t)w->o->deadline_ms * 1000000;
    s->call = grpc_channel_create_call(s->ch, NULL, GRPC_PROPAGATE_DEFAULTS, w->cq,
                                       grpc_slice_from_static_string(w->o->method), NULL,
                                       ns_to_deadline(dl), NULL);
    grpc_metadata md = auth_md(w);
    grpc_op ops[6];
    memset(ops, 0, sizeof ops);
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = w->o->auth ? 1 : 0;
    ops[0].data.send_initial_metadata.metadata = &md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = s->send;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &s->recv;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.status = &s->status;
    ops[5].data.recv_status_on_client.status_details = &s->details;
    ops[5].data.recv_status_on_client.trailing_metadata = &s->trailing;
    if (grpc_call_start_batch(s->call, ops, 6, &s->tags[OP_UNARY], NULL) != GRPC_CALL_OK) {
        set_error(w, "grpc_call_start_batch failed", "");
        grpc_call_unref(s->call);
        s->call = NULL;
        grpc_byte_buffer_destroy(s->send);
        grpc_metadata_array_destroy(&s->init_md);
        grpc_metadata_array_destroy(&s->trailing);
        return -1;
    }
    s->live = 1;
    w->in_flight++;
    sent(w, s->nent);
    (void)bytes;
    s->ring_n[0] = bytes; /* request bytes, for the byte rate */
    return 0;
}

static void unary_done(slot *s, int success)
{
    worker *w = s->w;
    if (success && s->status == GRPC_STATUS_OK && s->recv != NULL) {
        account(w, s->recv, s->nent, s->t0, s->ring_n[0]);
    } else {
        w->r.calls_failed++;
        if (w->r.first_error[0] == 0) {
            char d[200];
            size_t n = GRPC_SLICE_LENGTH(s->details);
            if (n >= sizeof d)
                n = sizeof d - 1;
            memcpy(d, GRPC_SLICE_START_PTR(s->details), n);
            d[n] = 0;
            snprintf(w->r.first_error, sizeof w->r.first_error, "status %d: %s", (int)s->status,
                     d);
        }
    }
    if (s->recv != NULL)
        grpc_byte_buffer_destroy(s->recv);
    grpc_byte_buffer_destroy(s->send);
    grpc_slice_unref(s->details);
    grpc_metadata_array_destroy(&s->init_md);
    grpc_metadata_array_destroy(&s->trailing);
    grpc_call_unref(s->call);
    s->call = NULL;
    s->live = 0;
    w->in_flight--;
}

/* ---- streams ---- */

static int batch1(slot *s, grpc_op *op, int tag)
{
    return grpc_call_start_batch(s->call, op, 1, &s->tags[tag], NULL) == GRPC_CALL_OK ? 0 : -1;
}

static void stream_post_recv(slot *s)
{
    grpc_op ops[2];
    memset(ops, 0, sizeof ops);
    size_t n = 0;
    if (!s->init_md_asked) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n++].data.recv_initial_metadata.recv_initial_metadata = &s->init_md;
        s->init_md_asked = 1;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &s->recv;
    s->recv = NULL;
    if (grpc_call_start_batch(s->call, ops, n, &s->tags[OP_RECV], NULL) == GRPC_CALL_OK)
        s->recv_busy = 1;
}

static int stream_open(slot *s)
{
    worker *w = s->w;
    memset(&s->init_md, 0, sizeof s->init_md);
    grpc_metadata_array_init(&s->init_md);
    grpc_metadata_array_init(&s->trailing);
    s->details = grpc_empty_slice();
    s->init_md_asked = s->close_sent = 0;
    s->outstanding = 0;
    s->ring_head = 0;
    int64_t dl = w->te + (int64_t)(w->o->duration_s > 0 ? 0 : 3600e9) +
                 (int64_t)w->o->deadline_ms * 1000000 + 60000000000LL;
    s->call = grpc_channel_create_call(s->ch, NULL, GRPC_PROPAGATE_DEFAULTS, w->cq,
                                       grpc_slice_from_static_string(w->o->method), NULL,
                                       ns_to_deadline(dl), NULL);
    grpc_metadata md = auth_md(w);
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    op.data.send_initial_metadata.count = w->o->auth ? 1 : 0;
    op.data.send_initial_metadata.metadata = &md;
    if (batch1(s, &op, OP_META) != 0)
        return -1;
    s->meta_busy = 1;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.status = &s->status;
    op.data.recv_status_on_client.status_details = &s->details;
    op.data.recv_status_on_client.trailing_metadata = &s->trailing;
    if (batch1(s, &op, OP_STATUS) != 0)
        return -1;
    s->status_busy = 1;
    s->live = 1;
    w->in_flight++;
    stream_post_recv(s);
    return 0;
}

static int stream_try_send(slot *s, int64_t now)
{
    worker *w = s->w;
    int64_t t0;
    if (!s->live || s->send_busy || s->close_sent || s->outstanding >= w->o->window)
        return 0;
    if (!may_send(w, now, w->reqs[w->next_req % w->o->n_reqs].n, &t0))
        return 0;
    size_t n, bytes;
    s->send = next_request(w, t0, &n, &bytes);
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = s->send;
    if (batch1(s, &op, OP_SEND) != 0) {
        grpc_byte_buffer_destroy(s->send);
        s->send = NULL;
        return 0;
    }
    size_t k = (s->ring_head + (size_t)s->outstanding) % (size_t)w->o->window;
    s->ring_t0[k] = t0;
    s->ring_n[k] = n | (bytes << 16);
    s->outstanding++;
    s->send_busy = 1;
    sent(w, n);
    return 1;
}

static void stream_try_close(slot *s, int64_t now)
{
    worker *w = s->w;
    int stopping = g_count_mode ? (now >= w->tw && atomic_load(&g_count_left) == 0)
                                : now >= w->te;
    if (!s->live || !stopping || s->close_sent || s->send_busy || s->outstanding > 0)
        return;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    if (batch1(s, &op, OP_SEND) == 0) {
        s->send_busy = 1;
        s->close_sent = 1;
    }
}

static void stream_maybe_end(slot *s)
{
    if (!s->live || s->send_busy || s->recv_busy || s->status_busy || s->meta_busy)
        return;
    worker *w = s->w;
    if (s->status != GRPC_STATUS_OK || s->outstanding > 0) {
        w->r.calls_failed++;
        char d[200];
        size_t n = GRPC_SLICE_LENGTH(s->details);
        if (n >= sizeof d)
            n = sizeof d - 1;
        memcpy(d, GRPC_SLICE_START_PTR(s->details), n);
        d[n] = 0;
        char st[32];
        snprintf(st, sizeof st, "stream status %d", (int)s->status);
        set_error(w, st, d);
    }
    grpc_slice_unref(s->details);
    grpc_metadata_array_destroy(&s->init_md);
    grpc_metadata_array_destroy(&s->trailing);
    grpc_call_unref(s->call);
    s->call = NULL;
    s->live = 0;
    w->in_flight--;
}

static void stream_event(slot *s, int op, int success)
{
    worker *w = s->w;
    switch (op) {
    case OP_META:
        s->meta_busy = 0;
        break;
    case OP_SEND:
        s->send_busy = 0;
        if (s->send != NULL) {
            grpc_byte_buffer_destroy(s->send);
            s->send = NULL;
        }
        break;
    case OP_RECV:
        s->recv_busy = 0;
        if (success && s->recv != NULL) {
            if (s->outstanding > 0) {
                size_t k = s->ring_head;
                account(w, s->recv, s->ring_n[k] & 0xFFFF, s->ring_t0[k], s->ring_n[k] >> 16);
                s->ring_head = (s->ring_head + 1) % (size_t)w->o->window;
                s->outstanding--;
            }
            grpc_byte_buffer_destroy(s->recv);
            s->recv = NULL;
            stream_post_recv(s);
        } else if (s->recv != NULL) {
            grpc_byte_buffer_destroy(s->recv);
            s->recv = NULL;
        }
        break;
    case OP_STATUS:
        s->status_busy = 0;
        if (s->send_busy || s->outstanding > 0)
            grpc_call_cancel(s->call, NULL);
        break;
    default:
        break;
    }
    stream_maybe_end(s);
}

/* ---- worker ---- */

static int stopped(const worker *w, int64_t now)
{
    if (g_count_mode)
        return now >= w->tw && atomic_load(&g_count_left) == 0;
    return now >= w->te;
}

static void start_what_we_can(worker *w, int64_t now)
{
    if (w->o->stream) {
        for (int progress = 1; progress;) {
            progress = 0;
            for (int i = 0; i < w->nslots; i++) {
                slot *s = &w->slots[(w->rr + (size_t)i) % (size_t)w->nslots];
                if (stream_try_send(s, now)) {
                    progress = 1;
                    w->rr++;
                }
            }
        }
        for (int i = 0; i < w->nslots; i++)
            stream_try_close(&w->slots[i], now);
        return;
    }
    for (int i = 0; i < w->nslots; i++) {
        slot *s = &w->slots[i];
        int64_t t0;
        if (s->live)
            continue;
        if (!may_send(w, now, w->reqs[w->next_req % w->o->n_reqs].n, &t0))
            break;
        if (unary_start(s, t0) != 0)
            break;
    }
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    if (w->o->stream)
        for (int i = 0; i < w->nslots; i++)
            if (stream_open(&w->slots[i]) != 0)
                set_error(w, "cannot open a stream", "");
    int64_t drain_until = 0;
    for (;;) {
        int64_t now = bench_now_ns();
        start_what_we_can(w, now);
        if (w->in_flight == 0 && stopped(w, now))
            break;
        if (stopped(w, now)) {
            if (drain_until == 0)
                drain_until = now + (int64_t)w->o->deadline_ms * 1000000 + 2000000000LL;
            else if (now > drain_until) {
                for (int i = 0; i < w->nslots; i++)
                    if (w->slots[i].call != NULL)
                        grpc_call_cancel(w->slots[i].call, NULL);
                drain_until = now + 60000000000LL;
            }
        }
        int64_t wake = now + 20000000;
        if (w->interval_ns > 0 && w->next_send < (double)wake && w->next_send > (double)now)
            wake = (int64_t)w->next_send;
        grpc_event ev = grpc_completion_queue_next(w->cq, ns_to_deadline(wake), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        optag *t = ev.tag;
        if (t->op == OP_UNARY)
            unary_done(t->s, ev.success);
        else
            stream_event(t->s, t->op, ev.success);
    }
    return NULL;
}

int bench_load_run(const bench_load_opts *o, bench_load_result *res)
{
    memset(res, 0, sizeof *res);
    int threads = o->threads > 0 ? o->threads : 1;
    if (threads > o->concurrency)
        threads = o->concurrency;
    int nch = o->connections > 0 ? o->connections : 1;
    grpc_channel **chs = calloc((size_t)nch, sizeof *chs);
    worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    int rc = -1;
    if (!chs || !ws || !tids)
        goto out;
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    for (int i = 0; i < nch; i++) {
        grpc_arg args[3] = {
            {.type = GRPC_ARG_INTEGER,
             .key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL,
             .value.integer = 1},
            {.type = GRPC_ARG_INTEGER, .key = (char *)"evb.bench.channel", .value.integer = i},
            {.type = GRPC_ARG_INTEGER,
             .key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
             .value.integer = 64 << 20}};
        grpc_channel_args ca = {.num_args = 3, .args = args};
        chs[i] = grpc_channel_create(o->addr, creds, &ca);
    }
    grpc_channel_credentials_release(creds);

    g_count_mode = o->count > 0;
    atomic_store(&g_count_left, o->count);
    int64_t t_begin = bench_now_ns();
    int64_t tw = t_begin + (int64_t)(o->warmup_s * 1e9);
    int64_t te = g_count_mode ? INT64_MAX : tw + (int64_t)(o->duration_s * 1e9);
    uint64_t nonce = ((uint64_t)time(NULL) ^ (uint64_t)t_begin) & 0xFFFFF;
    int gslot = 0;
    for (int i = 0; i < threads; i++) {
        worker *w = &ws[i];
        w->idx = i;
        w->o = o;
        w->reqs = o->reqs[i];
        w->next_id = (nonce << 44) | ((uint64_t)i << 36);
        w->t_begin = t_begin;
        w->tw = tw;
        w->te = te;
        w->nslots = o->concurrency / threads + (i < o->concurrency % threads ? 1 : 0);
        w->slots = calloc((size_t)w->nslots, sizeof *w->slots);
        w->cq = grpc_completion_queue_create_for_next(NULL);
        if (w->slots == NULL)
            goto out;
        size_t win = o->stream ? (size_t)o->window : 1;
        for (int j = 0; j < w->nslots; j++) {
            slot *s = &w->slots[j];
            s->w = w;
            s->ch = chs[gslot++ % nch];
            for (int k = 0; k < N_OPS; k++)
                s->tags[k] = (optag){s, k};
            s->ring_t0 = calloc(win, sizeof *s->ring_t0);
            s->ring_n = calloc(win, sizeof *s->ring_n);
            if (!s->ring_t0 || !s->ring_n)
                goto out;
        }
        if (o->rate > 0) {
            double share = o->rate * (double)w->nslots / (double)o->concurrency;
            w->interval_ns = (double)o->reqs[i][0].n / share * 1e9;
            w->next_send = (double)t_begin + w->interval_ns * (double)i / threads;
        }
    }
    for (int i = 0; i < threads; i++)
        pthread_create(&tids[i], NULL, worker_main, &ws[i]);
    struct timespec ts;
    int64_t d = tw - bench_now_ns();
    if (d > 0) {
        ts.tv_sec = d / 1000000000;
        ts.tv_nsec = d % 1000000000;
        nanosleep(&ts, NULL);
    }
    if (o->on_window)
        o->on_window(o->on_window_arg, 1);
    if (!g_count_mode) {
        d = te - bench_now_ns();
        if (d > 0) {
            ts.tv_sec = d / 1000000000;
            ts.tv_nsec = d % 1000000000;
            nanosleep(&ts, NULL);
        }
        if (o->on_window)
            o->on_window(o->on_window_arg, 0);
    }
    int64_t last = tw;
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        bench_load_result *r = &ws[i].r;
        res->events_ok += r->events_ok;
        res->events_dedup += r->events_dedup;
        res->events_rejected += r->events_rejected;
        res->calls_ok += r->calls_ok;
        res->calls_failed += r->calls_failed;
        res->events_sent += r->events_sent;
        res->events_acked += r->events_acked;
        res->bytes_sent += r->bytes_sent;
        bench_hist_merge(&res->lat, &r->lat);
        if (res->first_error[0] == 0 && r->first_error[0] != 0)
            memcpy(res->first_error, r->first_error, sizeof res->first_error);
        if (ws[i].last_done > last)
            last = ws[i].last_done;
    }
    if (g_count_mode && o->on_window)
        o->on_window(o->on_window_arg, 0);
    res->window_s = g_count_mode ? (double)(last - tw) / 1e9 : o->duration_s;
    rc = 0;
out:
    for (int i = 0; ws && i < threads; i++) {
        if (ws[i].cq != NULL) {
            grpc_completion_queue_shutdown(ws[i].cq);
            while (grpc_completion_queue_next(ws[i].cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                       .type != GRPC_QUEUE_SHUTDOWN) {
            }
            grpc_completion_queue_destroy(ws[i].cq);
        }
        for (int j = 0; ws[i].slots && j < ws[i].nslots; j++) {
            free(ws[i].slots[j].ring_t0);
            free(ws[i].slots[j].ring_n);
        }
        free(ws[i].slots);
    }
    for (int i = 0; chs && i < nch; i++)
        if (chs[i] != NULL)
            grpc_channel_destroy(chs[i]);
    free(chs);
    free(ws);
    free(tids);
    return rc;
}
