/* evbridge — unit tests of the gRPC runtime (server/rpc) against a real loopback server.
 *
 * One server on 127.0.0.1:0 serves a few test methods (echo, delayed reply from another
 * thread, error, metadata, streams); a second short-lived server checks shutdown with calls
 * in flight. The client is the gRPC core client API (rpc_test_client.c). Stream handlers
 * record on_done in a shared counter so tests can wait for the server-side end.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>

#include "server/rpc/rpc.h"
#include "tests/unit/rpc/rpc_test_client.h"

/* ---- shared test state ---- */

static evb_rpc_server *g_srv;
static grpc_channel *g_ch;
static int g_port;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_done, g_cancelled, g_started;
static int64_t g_last_deadline_ms;

#define MAX_LATER 64
static pthread_t g_later[MAX_LATER];
static int g_nlater;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits until g_done >= n (up to 10 s). Returns g_done. */
static int wait_done(int n)
{
    int64_t until = now_ms() + 10000;
    pthread_mutex_lock(&g_mu);
    while (g_done < n && now_ms() < until) {
        pthread_mutex_unlock(&g_mu);
        sleep_ms(5);
        pthread_mutex_lock(&g_mu);
    }
    int d = g_done;
    pthread_mutex_unlock(&g_mu);
    return d;
}

static void counts(int *done, int *cancelled)
{
    pthread_mutex_lock(&g_mu);
    *done = g_done;
    *cancelled = g_cancelled;
    pthread_mutex_unlock(&g_mu);
}

/* ---- unary handlers ---- */

static void h_echo(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    (void)arg;
    evb_rpc_reply(call, req, len);
}

typedef struct later_job {
    evb_rpc_call *call;
    int delay_ms;
    size_t len;
    uint8_t data[];
} later_job;

static void *later_main(void *arg)
{
    later_job *j = arg;
    sleep_ms(j->delay_ms);
    evb_rpc_reply(j->call, j->data, j->len);
    free(j);
    return NULL;
}

/* Replies from another thread after arg (int ms) milliseconds. */
static void h_later(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    pthread_mutex_lock(&g_mu);
    g_last_deadline_ms = evb_rpc_call_deadline_ms(call);
    pthread_mutex_unlock(&g_mu);
    later_job *j = malloc(sizeof(*j) + len);
    if (j == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_RESOURCE_EXHAUSTED, "oom");
        return;
    }
    j->call = call;
    j->delay_ms = (int)(intptr_t)arg;
    j->len = len;
    memcpy(j->data, req, len);
    pthread_mutex_lock(&g_mu);
    if (g_nlater < MAX_LATER && pthread_create(&g_later[g_nlater], NULL, later_main, j) == 0) {
        g_nlater++;
        pthread_mutex_unlock(&g_mu);
        return;
    }
    pthread_mutex_unlock(&g_mu);
    free(j);
    evb_rpc_reply_error(call, EVB_RPC_RESOURCE_EXHAUSTED, "no thread");
}

static void join_later(void)
{
    pthread_mutex_lock(&g_mu);
    int n = g_nlater;
    g_nlater = 0;
    pthread_mutex_unlock(&g_mu);
    for (int i = 0; i < n; i++)
        pthread_join(g_later[i], NULL);
}

static void h_fail(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    (void)req;
    (void)len;
    (void)arg;
    evb_rpc_reply_error(call, evb_rpc_status_from_err(EVB_ERR_INVALID), "org is required");
}

/* Replies "<authorization>|<method>|<peer starts with ipv4:>". */
static void h_meta(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    (void)req;
    (void)len;
    (void)arg;
    const char *auth = evb_rpc_call_metadata(call, "authorization");
    const char *peer = evb_rpc_call_peer(call);
    char out[512];
    int n = snprintf(out, sizeof(out), "%s|%s|%d", auth != NULL ? auth : "(none)",
                     evb_rpc_call_method(call),
                     peer != NULL && strncmp(peer, "ipv4:127.0.0.1:", 15) == 0);
    evb_rpc_reply(call, (const uint8_t *)out, (size_t)n);
}

/* ---- stream handlers ---- */

/* Echo with a small send cap: a message that does not fit waits for on_writable before
 * the next one is requested. */
typedef struct echo_state {
    uint8_t *pending;
    size_t pending_len;
    int half_closed;
    size_t cap;
} echo_state;

static void *echo_start(evb_rpc_stream *st, void *arg)
{
    (void)st;
    echo_state *e = calloc(1, sizeof(*e));
    if (e != NULL)
        e->cap = (size_t)(intptr_t)arg;
    pthread_mutex_lock(&g_mu);
    g_started++;
    pthread_mutex_unlock(&g_mu);
    return e;
}

static void echo_message(evb_rpc_stream *st, void *user, const uint8_t *msg, size_t len)
{
    echo_state *e = user;
    evb_err rc = evb_rpc_stream_send(st, msg, len, e->cap);
    if (rc == EVB_ERR_LIMIT) {
        e->pending = malloc(len ? len : 1);
        if (e->pending == NULL) {
            evb_rpc_stream_finish(st, EVB_RPC_RESOURCE_EXHAUSTED, "oom");
            return;
        }
        memcpy(e->pending, msg, len);
        e->pending_len = len;
        return;
    }
    if (rc == EVB_OK)
        evb_rpc_stream_request_next(st);
}

static void echo_half_close(evb_rpc_stream *st, void *user)
{
    echo_state *e = user;
    e->half_closed = 1;
    if (e->pending == NULL)
        evb_rpc_stream_finish(st, EVB_RPC_OK, NULL);
}

static void echo_writable(evb_rpc_stream *st, void *user)
{
    echo_state *e = user;
    if (e->pending == NULL)
        return;
    if (evb_rpc_stream_send(st, e->pending, e->pending_len, e->cap) != EVB_OK)
        return;
    free(e->pending);
    e->pending = NULL;
    if (e->half_closed)
        evb_rpc_stream_finish(st, EVB_RPC_OK, NULL);
    else
        evb_rpc_stream_request_next(st);
}

static void echo_done(evb_rpc_stream *st, void *user, int cancelled)
{
    (void)st;
    echo_state *e = user;
    if (e != NULL)
        free(e->pending);
    free(e);
    pthread_mutex_lock(&g_mu);
    g_done++;
    g_cancelled += cancelled != 0;
    pthread_mutex_unlock(&g_mu);
}

static const evb_rpc_stream_ops echo_ops = {
    .on_start = echo_start,
    .on_message = echo_message,
    .on_half_close = echo_half_close,
    .on_writable = echo_writable,
    .on_done = echo_done,
};

/* Burst: the first message is a count N; the handler sends N numbered messages through a
 * queue capped at 8, continuing in on_writable, then finishes. */
typedef struct burst_state {
    int n, next;
} burst_state;

static void *burst_start(evb_rpc_stream *st, void *arg)
{
    (void)st;
    (void)arg;
    return calloc(1, sizeof(burst_state));
}

static void burst_pump(evb_rpc_stream *st, burst_state *b)
{
    while (b->next < b->n) {
        char m[32];
        int l = snprintf(m, sizeof(m), "b%d", b->next);
        evb_err rc = evb_rpc_stream_send(st, (const uint8_t *)m, (size_t)l, 8);
        if (rc == EVB_ERR_LIMIT) {
            CU_ASSERT(evb_rpc_stream_queued(st) == 8);
            return;
        }
        if (rc != EVB_OK)
            return;
        b->next++;
    }
    evb_rpc_stream_finish(st, EVB_RPC_OK, NULL);
}

static void burst_message(evb_rpc_stream *st, void *user, const uint8_t *msg, size_t len)
{
    burst_state *b = user;
    char num[16];
    size_t l = len < sizeof(num) - 1 ? len : sizeof(num) - 1;
    memcpy(num, msg, l);
    num[l] = 0;
    b->n = atoi(num);
    burst_pump(st, b);
}

static void burst_writable(evb_rpc_stream *st, void *user)
{
    burst_pump(st, user);
}

static void burst_done(evb_rpc_stream *st, void *user, int cancelled)
{
    (void)st;
    free(user);
    pthread_mutex_lock(&g_mu);
    g_done++;
    g_cancelled += cancelled != 0;
    pthread_mutex_unlock(&g_mu);
}

static const evb_rpc_stream_ops burst_ops = {
    .on_start = burst_start,
    .on_message = burst_message,
    .on_writable = burst_writable,
    .on_done = burst_done,
};

/* Async: every message is answered from another thread 10 ms later (as a store writer
 * would); "fin" makes that thread finish the stream. The state is shared with the
 * threads, so it has a mutex, a reference count and an `ended` flag set by on_done. */
typedef struct async_state {
    pthread_mutex_t mu;
    int refs, ended;
    evb_rpc_stream *st;
} async_state;

typedef struct async_job {
    async_state *a;
    size_t len;
    uint8_t data[];
} async_job;

static void async_unref(async_state *a)
{
    pthread_mutex_lock(&a->mu);
    int last = --a->refs == 0;
    pthread_mutex_unlock(&a->mu);
    if (last) {
        pthread_mutex_destroy(&a->mu);
        free(a);
    }
}

static void *async_main(void *arg)
{
    async_job *j = arg;
    async_state *a = j->a;
    sleep_ms(10);
    pthread_mutex_lock(&a->mu);
    if (!a->ended) {
        if (j->len == 3 && memcmp(j->data, "fin", 3) == 0) {
            evb_rpc_stream_finish(a->st, EVB_RPC_OK, NULL);
        } else if (j->len == 4 && memcmp(j->data, "finr", 4) == 0) {
            /* finish while a receive is outstanding: the stream must still end */
            evb_rpc_stream_request_next(a->st);
            evb_rpc_stream_finish(a->st, EVB_RPC_ABORTED, "stop");
        } else {
            CU_ASSERT(evb_rpc_stream_send(a->st, j->data, j->len, 0) == EVB_OK);
            evb_rpc_stream_request_next(a->st);
        }
    }
    pthread_mutex_unlock(&a->mu);
    async_unref(a);
    free(j);
    return NULL;
}

static void *async_start(evb_rpc_stream *st, void *arg)
{
    (void)arg;
    async_state *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        evb_rpc_stream_finish(st, EVB_RPC_RESOURCE_EXHAUSTED, "oom");
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    a->refs = 1;
    a->st = st;
    return a;
}

static void async_message(evb_rpc_stream *st, void *user, const uint8_t *msg, size_t len)
{
    async_state *a = user;
    async_job *j = malloc(sizeof(*j) + len);
    if (j == NULL) {
        evb_rpc_stream_finish(st, EVB_RPC_RESOURCE_EXHAUSTED, "oom");
        return;
    }
    j->a = a;
    j->len = len;
    memcpy(j->data, msg, len);
    pthread_mutex_lock(&a->mu);
    a->refs++;
    pthread_mutex_unlock(&a->mu);
    pthread_mutex_lock(&g_mu);
    int ok = g_nlater < MAX_LATER && pthread_create(&g_later[g_nlater], NULL, async_main, j) == 0;
    if (ok)
        g_nlater++;
    pthread_mutex_unlock(&g_mu);
    if (!ok) {
        async_unref(a);
        free(j);
        evb_rpc_stream_finish(st, EVB_RPC_RESOURCE_EXHAUSTED, "no thread");
    }
}

static void async_done(evb_rpc_stream *st, void *user, int cancelled)
{
    (void)st;
    async_state *a = user;
    if (a != NULL) {
        pthread_mutex_lock(&a->mu);
        a->ended = 1;
        pthread_mutex_unlock(&a->mu);
        async_unref(a);
    }
    pthread_mutex_lock(&g_mu);
    g_done++;
    g_cancelled += cancelled != 0;
    pthread_mutex_unlock(&g_mu);
}

static const evb_rpc_stream_ops async_ops = {
    .on_start = async_start,
    .on_message = async_message,
    .on_done = async_done,
};

/* ---- setup ---- */

static int start_server(evb_rpc_server **out, int *port, int grace_ms, int threads)
{
    evb_rpc_options o;
    memset(&o, 0, sizeof(o));
    o.listen = "127.0.0.1:0";
    o.threads = threads;
    o.max_message_bytes = (size_t)64 * 1024;
    o.grace_ms = grace_ms;
    evb_rpc_server *s = NULL;
    if (evb_rpc_server_new(&o, &s) != EVB_OK)
        return -1;
    unsigned rc = 0;
    rc |= (unsigned)evb_rpc_server_add_unary(s, "/t.T/Echo", h_echo, NULL);
    rc |= (unsigned)evb_rpc_server_add_unary(s, "/t.T/Later", h_later, (void *)(intptr_t)100);
    rc |= (unsigned)evb_rpc_server_add_unary(s, "/t.T/Slow", h_later, (void *)(intptr_t)600);
    rc |= (unsigned)evb_rpc_server_add_unary(s, "/t.T/Fail", h_fail, NULL);
    rc |= (unsigned)evb_rpc_server_add_unary(s, "/t.T/Meta", h_meta, NULL);
    rc |= (unsigned)evb_rpc_server_add_stream(s, "/t.T/Bidi", &echo_ops, (void *)(intptr_t)4);
    rc |= (unsigned)evb_rpc_server_add_stream(s, "/t.T/Burst", &burst_ops, NULL);
    rc |= (unsigned)evb_rpc_server_add_stream(s, "/t.T/Async", &async_ops, NULL);
    if (rc != 0 || evb_rpc_server_start(s, port) != EVB_OK) {
        evb_rpc_server_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

static int suite_init(void)
{
    if (start_server(&g_srv, &g_port, 300, 0) != 0)
        return -1;
    g_ch = tc_channel(g_port);
    return g_ch != NULL ? 0 : -1;
}

static int suite_fini(void)
{
    grpc_channel_destroy(g_ch);
    evb_rpc_server_free(g_srv);
    join_later();
    return 0;
}

/* ---- tests ---- */

static void test_status_table(void)
{
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_OK), EVB_RPC_OK);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_INVALID), EVB_RPC_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_NOT_FOUND), EVB_RPC_NOT_FOUND);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_EXISTS), EVB_RPC_ALREADY_EXISTS);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_PRECONDITION), EVB_RPC_FAILED_PRECONDITION);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_DENIED), EVB_RPC_PERMISSION_DENIED);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_UNAUTHENTICATED), EVB_RPC_UNAUTHENTICATED);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_LIMIT), EVB_RPC_RESOURCE_EXHAUSTED);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_TOO_LARGE), EVB_RPC_RESOURCE_EXHAUSTED);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_UNAVAILABLE), EVB_RPC_UNAVAILABLE);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_NOMEM), EVB_RPC_RESOURCE_EXHAUSTED);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_IO), EVB_RPC_INTERNAL);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_PARSE), EVB_RPC_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_UNIMPLEMENTED), EVB_RPC_UNIMPLEMENTED);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_CANCELLED), EVB_RPC_CANCELLED);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_TIMEOUT), EVB_RPC_DEADLINE_EXCEEDED);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR_INTERNAL), EVB_RPC_INTERNAL);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err(EVB_ERR__COUNT), EVB_RPC_UNKNOWN);
    CU_ASSERT_EQUAL(evb_rpc_status_from_err((evb_err)-1), EVB_RPC_UNKNOWN);
}

static void test_options(void)
{
    evb_rpc_options o;
    memset(&o, 0, sizeof(o));
    evb_rpc_server *s = NULL;
    CU_ASSERT_EQUAL(evb_rpc_server_new(&o, &s), EVB_ERR_INVALID); /* no listen address */
    o.listen = "127.0.0.1:0";
    o.tls_cert_pem = "x"; /* certificate without key */
    CU_ASSERT_EQUAL(evb_rpc_server_new(&o, &s), EVB_ERR_INVALID);
    o.tls_cert_pem = NULL;
    CU_ASSERT_EQUAL(evb_rpc_server_new(&o, &s), EVB_OK);
    CU_ASSERT_EQUAL(evb_rpc_server_add_unary(s, "/a.B/C", h_echo, NULL), EVB_OK);
    CU_ASSERT_EQUAL(evb_rpc_server_add_unary(s, "/a.B/C", h_echo, NULL), EVB_ERR_EXISTS);
    CU_ASSERT_EQUAL(evb_rpc_server_add_unary(s, "noslash", h_echo, NULL), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_rpc_server_add_stream(s, "/a.B/D", NULL, NULL), EVB_ERR_INVALID);
    evb_rpc_server_free(s); /* never started */
    evb_rpc_server_free(NULL);

    /* an address that cannot be bound: EVB_ERR_IO, and the server can still be freed */
    o.listen = "256.1.1.1:1";
    s = NULL;
    CU_ASSERT_EQUAL(evb_rpc_server_new(&o, &s), EVB_OK);
    CU_ASSERT_EQUAL(evb_rpc_server_start(s, NULL), EVB_ERR_IO);
    evb_rpc_server_free(s);
}

static void test_unary_echo(void)
{
    tc_result r;
    tc_unary(g_ch, "/t.T/Echo", "hello", 5, NULL, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_OK);
    CU_ASSERT(r.has_resp && r.resp_len == 5 && memcmp(r.resp, "hello", 5) == 0);
    tc_result_free(&r);
    /* empty message */
    tc_unary(g_ch, "/t.T/Echo", "", 0, NULL, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_OK);
    CU_ASSERT(r.has_resp && r.resp_len == 0);
    tc_result_free(&r);
    /* many in a row */
    int ok = 0;
    for (int i = 0; i < 200; i++) {
        char m[32];
        int l = snprintf(m, sizeof(m), "msg-%d", i);
        tc_unary(g_ch, "/t.T/Echo", m, (size_t)l, NULL, NULL, 0, &r);
        ok += r.status == GRPC_STATUS_OK && r.resp_len == (size_t)l &&
              memcmp(r.resp, m, (size_t)l) == 0;
        tc_result_free(&r);
    }
    CU_ASSERT_EQUAL(ok, 200);
}

static void test_unary_later(void)
{
    tc_result r;
    int64_t t0 = now_ms();
    tc_unary(g_ch, "/t.T/Later", "abc", 3, NULL, NULL, 5000, &r);
    int64_t took = now_ms() - t0;
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_OK);
    CU_ASSERT(r.resp_len == 3 && memcmp(r.resp, "abc", 3) == 0);
    CU_ASSERT(took >= 90);
    tc_result_free(&r);
    pthread_mutex_lock(&g_mu);
    int64_t dl = g_last_deadline_ms;
    pthread_mutex_unlock(&g_mu);
    /* the deadline is visible on the monotonic clock, about 5 s after the start */
    CU_ASSERT(dl != INT64_MAX && dl > t0 + 4000 && dl < t0 + 6000);
    join_later();
}

static void test_unary_error(void)
{
    tc_result r;
    tc_unary(g_ch, "/t.T/Fail", "x", 1, NULL, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_INVALID_ARGUMENT);
    CU_ASSERT_STRING_EQUAL(r.details, "org is required");
    CU_ASSERT(!r.has_resp);
    tc_result_free(&r);
}

static void test_metadata(void)
{
    tc_result r;
    tc_unary(g_ch, "/t.T/Meta", "x", 1, "authorization", "Bearer k3y", 0, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_OK);
    CU_ASSERT(r.resp != NULL && strcmp((char *)r.resp, "Bearer k3y|/t.T/Meta|1") == 0);
    tc_result_free(&r);
    tc_unary(g_ch, "/t.T/Meta", "x", 1, NULL, NULL, 0, &r);
    CU_ASSERT(r.resp != NULL && strcmp((char *)r.resp, "(none)|/t.T/Meta|1") == 0);
    tc_result_free(&r);
}

static void test_unknown_method(void)
{
    tc_result r;
    int64_t t0 = now_ms();
    tc_unary(g_ch, "/t.T/Nope", "x", 1, NULL, NULL, 5000, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_UNIMPLEMENTED);
    CU_ASSERT_STRING_EQUAL(r.details, "unknown method /t.T/Nope");
    CU_ASSERT(now_ms() - t0 < 1000);
    tc_result_free(&r);
    /* still serving, and many unknown calls in a row do not exhaust the generic requests */
    for (int i = 0; i < 20; i++) {
        tc_unary(g_ch, "/other.S/X", "x", 1, NULL, NULL, 5000, &r);
        CU_ASSERT_EQUAL(r.status, GRPC_STATUS_UNIMPLEMENTED);
        tc_result_free(&r);
    }
}

static void test_oversized(void)
{
    size_t big = (size_t)100 * 1024;
    char *p = calloc(1, big);
    CU_ASSERT_FATAL(p != NULL);
    tc_result r;
    tc_unary(g_ch, "/t.T/Echo", p, big, NULL, NULL, 5000, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_RESOURCE_EXHAUSTED);
    tc_result_free(&r);
    /* oversized message in a stream */
    int d0, c0;
    counts(&d0, &c0);
    tc_stream *s = tc_stream_open(g_ch, "/t.T/Bidi", 5000);
    CU_ASSERT_FATAL(s != NULL);
    (void)tc_stream_send(s, p, big);
    tc_stream_status(s, &r);
    if (r.status != GRPC_STATUS_RESOURCE_EXHAUSTED)
        fprintf(stderr, "stream oversized: status %d %s\n", r.status, r.details);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_RESOURCE_EXHAUSTED);
    tc_result_free(&r);
    tc_stream_free(s);
    CU_ASSERT(wait_done(d0 + 1) >= d0 + 1);
    free(p);
    /* still serving */
    tc_unary(g_ch, "/t.T/Echo", "ok", 2, NULL, NULL, 0, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_OK);
    tc_result_free(&r);
}

static void test_deadline(void)
{
    tc_result r;
    int64_t t0 = now_ms();
    tc_unary(g_ch, "/t.T/Slow", "x", 1, NULL, NULL, 150, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_DEADLINE_EXCEEDED);
    CU_ASSERT(now_ms() - t0 < 550);
    tc_result_free(&r);
    join_later(); /* the late reply goes to an expired call without harm */

    /* a stream past its deadline ends with on_done(cancelled) */
    int d0, c0;
    counts(&d0, &c0);
    tc_stream *s = tc_stream_open(g_ch, "/t.T/Bidi", 200);
    CU_ASSERT_FATAL(s != NULL);
    tc_stream_status(s, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_DEADLINE_EXCEEDED);
    tc_result_free(&r);
    tc_stream_free(s);
    CU_ASSERT(wait_done(d0 + 1) >= d0 + 1);
    int d1, c1;
    counts(&d1, &c1);
    CU_ASSERT_EQUAL(c1, c0 + 1);
}

static void test_bidi_echo(void)
{
    int d0, c0;
    counts(&d0, &c0);
    tc_stream *s = tc_stream_open(g_ch, "/t.T/Bidi", 30000);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL(tc_stream_echo_pipelined(s, 1000), 1000);
    CU_ASSERT_EQUAL(tc_stream_close_send(s), 0);
    uint8_t *m = NULL;
    size_t l = 0;
    CU_ASSERT_EQUAL(tc_stream_recv(s, &m, &l), 0); /* end of stream */
    tc_result r;
    tc_stream_status(s, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_OK);
    tc_result_free(&r);
    tc_stream_free(s);
    CU_ASSERT(wait_done(d0 + 1) >= d0 + 1);
    int d1, c1;
    counts(&d1, &c1);
    CU_ASSERT_EQUAL(c1, c0); /* clean finish */
}

static void test_burst_writable(void)
{
    int d0, c0;
    counts(&d0, &c0);
    tc_stream *s = tc_stream_open(g_ch, "/t.T/Burst", 30000);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL(tc_stream_send(s, "500", 3), 0);
    int in_order = 0;
    for (int i = 0; i < 500; i++) {
        uint8_t *m = NULL;
        size_t l = 0;
        if (tc_stream_recv(s, &m, &l) != 1)
            break;
        char want[32];
        int wl = snprintf(want, sizeof(want), "b%d", i);
        in_order += l == (size_t)wl && memcmp(m, want, l) == 0;
        free(m);
    }
    CU_ASSERT_EQUAL(in_order, 500);
    uint8_t *m = NULL;
    size_t l = 0;
    CU_ASSERT_EQUAL(tc_stream_recv(s, &m, &l), 0); /* the status follows the end of stream */
    tc_result r;
    tc_stream_status(s, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_OK);
    tc_result_free(&r);
    tc_stream_free(s);
    CU_ASSERT(wait_done(d0 + 1) >= d0 + 1);
}

static void test_client_cancel(void)
{
    int d0, c0;
    counts(&d0, &c0);
    tc_stream *s = tc_stream_open(g_ch, "/t.T/Bidi", 30000);
    CU_ASSERT_FATAL(s != NULL);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(tc_stream_send(s, "ping", 4), 0);
        uint8_t *m = NULL;
        size_t l = 0;
        CU_ASSERT_EQUAL(tc_stream_recv(s, &m, &l), 1);
        free(m);
    }
    tc_stream_cancel(s);
    tc_result r;
    tc_stream_status(s, &r);
    CU_ASSERT_EQUAL(r.status, GRPC_STATUS_CANCELLED);
    tc_result_free(&r);
    tc_stream_free(s);
    CU_ASSERT(wait_done(d0 + 1) >= d0 + 1);
    int d1, c1;
    counts(&d1, &c1);
    CU_ASSERT_EQUAL(c1, c0 + 1);
}

static void test_stream_async_replies(void)
{
    int d0, c0;
    counts(&d0, &c0);
    tc_stream *s = tc_stream_open(g_ch, "/t.T/Async", 30000);
    CU_ASSERT_FATAL(s != NULL);
    int good = 0;
    for (int i = 0; i < 10; i++) {
        char m[16];
        int l = snprintf(m, sizeof(m), "a%d", i);
        CU_ASSERT_EQUAL(tc_stream_send(s, m, (size_t)l), 0);
        uint8_t *r = NULL;
        size_t rl = 0;
        if (tc_stream_recv(s, &r, &rl) == 1 && rl == (size_t)l && memcmp(r, m, rl) == 0)
            good++;
        free(r);
    }
    CU_ASSERT_EQUAL(good, 10);
    CU_ASSERT_EQUAL(tc_stream_send(s, "fin", 3), 0);
    uint8_t *r = NULL;
    size_t rl = 0;
    CU_ASSERT_EQUAL(tc_stream_recv(s, &r, &rl), 0);
    tc_result res;
    tc_stream_status(s, &res);
    CU_ASSERT_EQUAL(res.status, GRPC_STATUS_OK);
    tc_result_free(&res);
    tc_stream_free(s);
    CU_ASSERT(wait_done(d0 + 1) >= d0 + 1);
    int d1, c1;
    counts(&d1, &c1);
    CU_ASSERT_EQUAL(c1, c0);

    /* the server finishes while its next receive is outstanding and the client is idle */
    s = tc_stream_open(g_ch, "/t.T/Async", 30000);
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_EQUAL(tc_stream_send(s, "finr", 4), 0);
    CU_ASSERT_EQUAL(tc_stream_recv(s, &r, &rl), 0);
    tc_stream_status(s, &res);
    CU_ASSERT_EQUAL(res.status, GRPC_STATUS_ABORTED);
    CU_ASSERT_STRING_EQUAL(res.details, "stop");
    tc_result_free(&res);
    CU_ASSERT(wait_done(d1 + 1) >= d1 + 1);
    tc_stream_free(s);
    join_later();
}

typedef struct par_arg {
    int id, ok;
    pthread_t th;
} par_arg;

static void *par_main(void *arg)
{
    par_arg *p = arg;
    for (int i = 0; i < 100; i++) {
        char m[32];
        int l = snprintf(m, sizeof(m), "t%d-%d", p->id, i);
        tc_result r;
        tc_unary(g_ch, "/t.T/Echo", m, (size_t)l, NULL, NULL, 0, &r);
        p->ok += r.status == GRPC_STATUS_OK && r.resp_len == (size_t)l &&
                 memcmp(r.resp, m, (size_t)l) == 0;
        tc_result_free(&r);
    }
    return NULL;
}

static void test_unary_parallel(void)
{
    par_arg p[4];
    for (int i = 0; i < 4; i++) {
        p[i].id = i;
        p[i].ok = 0;
        CU_ASSERT_FATAL(pthread_create(&p[i].th, NULL, par_main, &p[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(p[i].th, NULL);
        CU_ASSERT_EQUAL(p[i].ok, 100);
    }
}

typedef struct bg_unary {
    grpc_channel *ch;
    tc_result r;
    pthread_t th;
} bg_unary;

static void *bg_unary_main(void *arg)
{
    bg_unary *b = arg;
    tc_unary(b->ch, "/t.T/Slow", "s", 1, NULL, NULL, 10000, &b->r);
    return NULL;
}

static void test_shutdown_in_flight(void)
{
    evb_rpc_server *s = NULL;
    int port = 0;
    CU_ASSERT_FATAL(start_server(&s, &port, 200, 2) == 0);
    grpc_channel *ch = tc_channel(port);
    int d0, c0, st0;
    counts(&d0, &c0);
    pthread_mutex_lock(&g_mu);
    st0 = g_started;
    pthread_mutex_unlock(&g_mu);

    /* two open streams and three unary calls whose replies come 600 ms later */
    tc_stream *st[2];
    for (int i = 0; i < 2; i++) {
        st[i] = tc_stream_open(ch, "/t.T/Bidi", 30000);
        CU_ASSERT_FATAL(st[i] != NULL);
        CU_ASSERT_EQUAL(tc_stream_send(st[i], "hi", 2), 0);
        uint8_t *m = NULL;
        size_t l = 0;
        CU_ASSERT_EQUAL(tc_stream_recv(st[i], &m, &l), 1);
        free(m);
    }
    bg_unary bg[3];
    for (int i = 0; i < 3; i++) {
        bg[i].ch = ch;
        CU_ASSERT_FATAL(pthread_create(&bg[i].th, NULL, bg_unary_main, &bg[i]) == 0);
    }
    sleep_ms(100); /* let the unary calls reach the handler */

    int64_t t0 = now_ms();
    evb_rpc_server_shutdown(s);
    int64_t took = now_ms() - t0;
    CU_ASSERT(took >= 150 && took < 3000); /* grace 200 ms, then cancel, wait for replies */
    evb_rpc_server_shutdown(s);            /* idempotent */

    int d1, c1;
    counts(&d1, &c1);
    CU_ASSERT_EQUAL(d1, d0 + 2);
    CU_ASSERT_EQUAL(c1, c0 + 2);
    pthread_mutex_lock(&g_mu);
    CU_ASSERT_EQUAL(g_started, st0 + 2);
    pthread_mutex_unlock(&g_mu);

    for (int i = 0; i < 3; i++) {
        pthread_join(bg[i].th, NULL);
        CU_ASSERT(bg[i].r.status != GRPC_STATUS_OK); /* cancelled before the late reply */
        tc_result_free(&bg[i].r);
    }
    for (int i = 0; i < 2; i++) {
        tc_result r;
        tc_stream_status(st[i], &r);
        CU_ASSERT(r.status != GRPC_STATUS_OK);
        tc_result_free(&r);
        tc_stream_free(st[i]);
    }
    grpc_channel_destroy(ch);
    evb_rpc_server_free(s);
    join_later();
}

static void test_shutdown_idle(void)
{
    evb_rpc_server *s = NULL;
    int port = 0;
    CU_ASSERT_FATAL(start_server(&s, &port, 5000, 1) == 0);
    int64_t t0 = now_ms();
    evb_rpc_server_free(s); /* no calls: returns at once, not after the grace period */
    CU_ASSERT(now_ms() - t0 < 1000);
}

int main(void)
{
    evb_rpc_global_init();
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite basic = CU_add_suite("rpc_basic", NULL, NULL);
    CU_pSuite live = CU_add_suite("rpc_live", suite_init, suite_fini);
    CU_pSuite life = CU_add_suite("rpc_lifecycle", NULL, NULL);
    if (basic == NULL || live == NULL || life == NULL ||
        !CU_add_test(basic, "status table", test_status_table) ||
        !CU_add_test(basic, "options", test_options) ||
        !CU_add_test(live, "unary echo", test_unary_echo) ||
        !CU_add_test(live, "unary reply from another thread", test_unary_later) ||
        !CU_add_test(live, "unary error status", test_unary_error) ||
        !CU_add_test(live, "metadata", test_metadata) ||
        !CU_add_test(live, "unknown method", test_unknown_method) ||
        !CU_add_test(live, "oversized message", test_oversized) ||
        !CU_add_test(live, "deadline", test_deadline) ||
        !CU_add_test(live, "bidi echo 1000", test_bidi_echo) ||
        !CU_add_test(live, "send cap and on_writable", test_burst_writable) ||
        !CU_add_test(live, "client cancel", test_client_cancel) ||
        !CU_add_test(live, "stream replies from other threads", test_stream_async_replies) ||
        !CU_add_test(live, "unary from 4 client threads", test_unary_parallel) ||
        !CU_add_test(life, "shutdown with calls in flight", test_shutdown_in_flight) ||
        !CU_add_test(life, "shutdown idle", test_shutdown_idle)) {
        CU_cleanup_registry();
        return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failures = CU_get_number_of_failures();
    unsigned suite_failures = CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    evb_rpc_global_fini();
    return failures > 0 || suite_failures > 0 ? 1 : 0;
}
