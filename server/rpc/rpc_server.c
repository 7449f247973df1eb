/* evbridge — the gRPC server object: options, method registry, worker threads, shutdown.
 *
 * Design: one grpc_completion_queue per worker thread, all registered with one grpc_server;
 * each worker blocks in grpc_completion_queue_next on its own queue and dispatches tags
 * (rpc_tag in rpc_int.h). Every method gets RPC_PREPOST_* requests posted per queue (plus
 * generic requests that answer UNIMPLEMENTED) and each new call re-posts its replacement.
 * The server mutex guards only the context count and shutdown state.
 *
 * Shutdown order (../shared/notes/grpc-core.md; a wrong order aborts inside gRPC):
 * stop re-posting -> grpc_server_shutdown_and_notify, wait up to the grace period ->
 * grpc_server_cancel_all_calls -> wait for the notification -> wait until every context is
 * released (live == 0) -> shut down every queue, workers drain to GRPC_QUEUE_SHUTDOWN and
 * exit -> join -> grpc_server_destroy -> destroy the queues.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>

#include "server/rpc/rpc_int.h"

#define DEFAULT_MAX_MESSAGE ((size_t)4 * 1024 * 1024)
#define DEFAULT_GRACE_MS 5000
#define MAX_THREADS 256

void evb_rpc_global_init(void)
{
    grpc_init();
}

void evb_rpc_global_fini(void)
{
    grpc_shutdown_blocking();
}

/* ---- context accounting ---- */

bool rpc_server_acquire(evb_rpc_server *s)
{
    pthread_mutex_lock(&s->mu);
    bool ok = !s->stopping;
    if (ok)
        s->live++;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void rpc_server_release(evb_rpc_server *s)
{
    pthread_mutex_lock(&s->mu);
    if (--s->live == 0)
        pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

grpc_completion_queue *rpc_server_cq(evb_rpc_server *s, int idx)
{
    return s->cqs[idx];
}

static evb_err post_one(evb_rpc_server *s, rpc_method *m, int cq_idx)
{
    if (m == NULL)
        return rpc_generic_post(s, cq_idx);
    return m->kind == RPC_KIND_UNARY ? rpc_call_post(s, m, cq_idx) : rpc_stream_post(s, m, cq_idx);
}

void rpc_repost(evb_rpc_server *s, rpc_method *m, int cq_idx)
{
    atomic_int *deficit = m != NULL ? &m->deficit : &s->generic_deficit;
    if (post_one(s, m, cq_idx) != EVB_OK) {
        atomic_fetch_add(deficit, 1);
        return;
    }
    int owed = atomic_load(deficit);
    while (owed > 0) {
        if (!atomic_compare_exchange_weak(deficit, &owed, owed - 1))
            continue;
        if (post_one(s, m, cq_idx) != EVB_OK) {
            atomic_fetch_add(deficit, 1);
            return;
        }
        owed = atomic_load(deficit);
    }
}

/* ---- options and methods ---- */

static char *dup_opt(const char *v, bool *oom)
{
    if (v == NULL)
        return NULL;
    char *p = strdup(v);
    if (p == NULL)
        *oom = true;
    return p;
}

static void free_opts(evb_rpc_server *s)
{
    free(s->listen);
    free(s->tls_cert_pem);
    free(s->tls_key_pem);
    free(s->tls_client_ca_pem);
}

evb_err evb_rpc_server_new(const evb_rpc_options *opt, evb_rpc_server **out)
{
    if (opt == NULL || out == NULL || opt->listen == NULL || opt->listen[0] == '\0')
        return EVB_ERR_INVALID;
    if ((opt->tls_cert_pem == NULL) != (opt->tls_key_pem == NULL))
        return EVB_ERR_INVALID; /* a certificate needs its key and vice versa */
    if (opt->tls_client_ca_pem != NULL && opt->tls_cert_pem == NULL)
        return EVB_ERR_INVALID; /* mutual TLS needs a server certificate */
    if (opt->max_concurrent_streams < 0 || opt->grace_ms < 0)
        return EVB_ERR_INVALID;
    evb_rpc_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return EVB_ERR_NOMEM;
    bool oom = false;
    s->listen = dup_opt(opt->listen, &oom);
    s->tls_cert_pem = dup_opt(opt->tls_cert_pem, &oom);
    s->tls_key_pem = dup_opt(opt->tls_key_pem, &oom);
    s->tls_client_ca_pem = dup_opt(opt->tls_client_ca_pem, &oom);
    if (oom) {
        free_opts(s);
        free(s);
        return EVB_ERR_NOMEM;
    }
    int threads = opt->threads;
    if (threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (int)(n < MAX_THREADS ? n : MAX_THREADS) : 1;
    }
    s->threads = threads < MAX_THREADS ? threads : MAX_THREADS;
    s->max_message_bytes = opt->max_message_bytes ? opt->max_message_bytes : DEFAULT_MAX_MESSAGE;
    s->max_concurrent_streams =
        opt->max_concurrent_streams > 0 ? opt->max_concurrent_streams : EVB_RPC_DEFAULT_MAX_STREAMS;
    s->grace_ms = opt->grace_ms ? opt->grace_ms : DEFAULT_GRACE_MS;

    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0) {
        free_opts(s);
        free(s);
        return EVB_ERR_NOMEM;
    }
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0) {
        free_opts(s);
        free(s);
        return EVB_ERR_NOMEM;
    }
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        pthread_cond_destroy(&s->cv);
        free_opts(s);
        free(s);
        return EVB_ERR_NOMEM;
    }
    atomic_init(&s->generic_deficit, 0);
    *out = s;
    return EVB_OK;
}

static evb_err add_method(evb_rpc_server *s, const char *method, rpc_method *m)
{
    if (s == NULL || method == NULL || method[0] != '/' || method[1] == '\0')
        return EVB_ERR_INVALID;
    if (s->started)
        return EVB_ERR_PRECONDITION;
    for (size_t i = 0; i < s->nmethods; i++) {
        if (strcmp(s->methods[i].name, method) == 0)
            return EVB_ERR_EXISTS;
    }
    if (s->nmethods == s->methods_cap) {
        size_t cap = s->methods_cap ? 2 * s->methods_cap : 16;
        rpc_method *a = realloc(s->methods, cap * sizeof(*a));
        if (a == NULL)
            return EVB_ERR_NOMEM;
        s->methods = a;
        s->methods_cap = cap;
    }
    m->name = strdup(method);
    if (m->name == NULL)
        return EVB_ERR_NOMEM;
    s->methods[s->nmethods] = *m;
    atomic_init(&s->methods[s->nmethods].deficit, 0);
    s->nmethods++;
    return EVB_OK;
}

evb_err evb_rpc_server_add_unary(evb_rpc_server *s, const char *method, evb_rpc_unary_fn fn,
                                 void *method_arg)
{
    if (fn == NULL)
        return EVB_ERR_INVALID;
    rpc_method m;
    memset(&m, 0, sizeof(m));
    m.kind = RPC_KIND_UNARY;
    m.unary_fn = fn;
    m.arg = method_arg;
    return add_method(s, method, &m);
}

evb_err evb_rpc_server_add_stream(evb_rpc_server *s, const char *method,
                                  const evb_rpc_stream_ops *ops, void *method_arg)
{
    if (ops == NULL || ops->on_message == NULL)
        return EVB_ERR_INVALID;
    rpc_method m;
    memset(&m, 0, sizeof(m));
    m.kind = RPC_KIND_STREAM;
    m.stream_ops = *ops;
    m.arg = method_arg;
    return add_method(s, method, &m);
}

/* ---- workers ---- */

static void *worker_main(void *arg)
{
    grpc_completion_queue *cq = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type == GRPC_OP_COMPLETE) {
            rpc_tag *t = ev.tag;
            t->fn(t, ev.success);
        }
    }
    return NULL;
}

static void on_shutdown_notified(rpc_tag *t, int ok)
{
    (void)ok;
    evb_rpc_server *s = RPC_CONTAINER_OF(t, evb_rpc_server, shutdown_tag);
    pthread_mutex_lock(&s->mu);
    s->shutdown_notified = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Shuts the queues down, joins the workers, destroys server and queues. The server must
 * be unstarted without listeners, or fully shut down with no live context. */
static void teardown(evb_rpc_server *s)
{
    for (int i = 0; i < s->threads; i++) {
        if (s->cqs[i] != NULL)
            grpc_completion_queue_shutdown(s->cqs[i]);
    }
    for (int i = 0; i < s->nworkers_running; i++)
        pthread_join(s->workers[i], NULL);
    s->nworkers_running = 0;
    if (s->server != NULL)
        grpc_server_destroy(s->server);
    s->server = NULL;
    for (int i = 0; i < s->threads; i++) {
        if (s->cqs[i] != NULL)
            grpc_completion_queue_destroy(s->cqs[i]);
    }
    free(s->cqs);
    s->cqs = NULL;
    free(s->workers);
    s->workers = NULL;
}

static grpc_server_credentials *make_creds(const evb_rpc_server *s)
{
    if (s->tls_cert_pem == NULL)
        return grpc_insecure_server_credentials_create();
    grpc_ssl_pem_key_cert_pair pair = {s->tls_key_pem, s->tls_cert_pem};
    if (s->tls_client_ca_pem != NULL)
        return grpc_ssl_server_credentials_create_ex(
            s->tls_client_ca_pem, &pair, 1,
            GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY, NULL);
    return grpc_ssl_server_credentials_create_ex(NULL, &pair, 1,
                                                 GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE, NULL);
}

static evb_err post_all(evb_rpc_server *s)
{
    for (int q = 0; q < s->threads; q++) {
        for (size_t i = 0; i < s->nmethods; i++) {
            rpc_method *m = &s->methods[i];
            int n = m->kind == RPC_KIND_UNARY ? RPC_PREPOST_UNARY : RPC_PREPOST_STREAM;
            for (int k = 0; k < n; k++) {
                evb_err rc = post_one(s, m, q);
                if (rc != EVB_OK)
                    return rc;
            }
        }
        for (int k = 0; k < RPC_PREPOST_GENERIC; k++) {
            evb_err rc = rpc_generic_post(s, q);
            if (rc != EVB_OK)
                return rc;
        }
    }
    return EVB_OK;
}

evb_err evb_rpc_server_start(evb_rpc_server *s, int *port_out)
{
    if (s == NULL)
        return EVB_ERR_INVALID;
    if (s->started || s->shutdown_state != 0)
        return EVB_ERR_PRECONDITION;
    evb_err rc = EVB_OK;

    grpc_arg args[3];
    size_t nargs = 0;
    memset(args, 0, sizeof(args));
    args[nargs].type = GRPC_ARG_INTEGER;
    args[nargs].key = (char *)GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    args[nargs].value.integer =
        s->max_message_bytes > (size_t)INT_MAX ? INT_MAX : (int)s->max_message_bytes;
    nargs++;
    /* No BDP probing: HTTP/2 flow-control windows stay at gRPC's 64 KiB per stream. With
     * it, gRPC grows a fast client's windows to megabytes and buffers what arrives before
     * the streams read it: 400 PublishStream streams pushing more than the server could
     * take held 1.5 GB after 15 s, growing (docs/benchmarks.md, Memory). The cost: one
     * stream moves at most 64 KiB per round trip (~1.3 MB/s at 50 ms). */
    args[nargs].type = GRPC_ARG_INTEGER;
    args[nargs].key = (char *)GRPC_ARG_HTTP2_BDP_PROBE;
    args[nargs].value.integer = 0;
    nargs++;
    if (s->max_concurrent_streams > 0) {
        args[nargs].type = GRPC_ARG_INTEGER;
        args[nargs].key = (char *)GRPC_ARG_MAX_CONCURRENT_STREAMS;
        args[nargs].value.integer = s->max_concurrent_streams;
        nargs++;
    }
    grpc_channel_args cargs = {nargs, args};

    s->cqs = calloc((size_t)s->threads, sizeof(grpc_completion_queue *));
    s->workers = calloc((size_t)s->threads, sizeof(*s->workers));
    if (s->cqs == NULL || s->workers == NULL) {
        rc = EVB_ERR_NOMEM;
        goto fail;
    }
    s->server = grpc_server_create(&cargs, NULL);
    if (s->server == NULL) {
        rc = EVB_ERR_INTERNAL;
        goto fail;
    }
    for (int i = 0; i < s->threads; i++) {
        s->cqs[i] = grpc_completion_queue_create_for_next(NULL);
        if (s->cqs[i] == NULL) {
            rc = EVB_ERR_NOMEM;
            goto fail;
        }
        grpc_server_register_completion_queue(s->server, s->cqs[i], NULL);
    }
    for (size_t i = 0; i < s->nmethods; i++) {
        rpc_method *m = &s->methods[i];
        m->handle = grpc_server_register_method(s->server, m->name, NULL,
                                                m->kind == RPC_KIND_UNARY
                                                    ? GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER
                                                    : GRPC_SRM_PAYLOAD_NONE,
                                                0);
        if (m->handle == NULL) {
            rc = EVB_ERR_INVALID;
            goto fail;
        }
    }
    /* Workers first: until the port is added the server has no listener and can still be
     * destroyed without a shutdown. */
    for (int i = 0; i < s->threads; i++) {
        if (pthread_create(&s->workers[i], NULL, worker_main, s->cqs[i]) != 0) {
            rc = EVB_ERR_NOMEM;
            goto fail;
        }
        s->nworkers_running = i + 1;
    }
    grpc_server_credentials *creds = make_creds(s);
    if (creds == NULL) {
        rc = EVB_ERR_INVALID;
        goto fail;
    }
    int port = grpc_server_add_http2_port(s->server, s->listen, creds);
    grpc_server_credentials_release(creds);
    if (port == 0) {
        rc = EVB_ERR_IO;
        goto fail;
    }
    s->shutdown_tag.fn = on_shutdown_notified;
    grpc_server_start(s->server);
    s->started = true;
    rc = post_all(s);
    if (rc != EVB_OK) {
        evb_rpc_server_shutdown(s);
        return rc;
    }
    if (port_out != NULL)
        *port_out = port;
    return EVB_OK;

fail:
    if (s->cqs != NULL)
        teardown(s);
    free(s->cqs);
    s->cqs = NULL;
    free(s->workers);
    s->workers = NULL;
    for (size_t i = 0; i < s->nmethods; i++)
        s->methods[i].handle = NULL;
    return rc;
}

/* ---- shutdown ---- */

static struct timespec mono_after_ms(int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

void evb_rpc_server_shutdown(evb_rpc_server *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    if (!s->started || s->shutdown_state == 2) {
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (s->shutdown_state == 1) { /* another thread is shutting down: wait for it */
        while (s->shutdown_state != 2)
            pthread_cond_wait(&s->cv, &s->mu);
        pthread_mutex_unlock(&s->mu);
        return;
    }
    s->shutdown_state = 1;
    s->stopping = true;
    pthread_mutex_unlock(&s->mu);

    /* 1. stop accepting; pending requests fail back to their queues */
    grpc_server_shutdown_and_notify(s->server, s->cqs[0], &s->shutdown_tag);

    /* 2. grace period for in-flight calls */
    struct timespec until = mono_after_ms(s->grace_ms);
    pthread_mutex_lock(&s->mu);
    while (!s->shutdown_notified) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
            break;
    }
    bool notified = s->shutdown_notified;
    pthread_mutex_unlock(&s->mu);

    /* 3. cancel the rest and wait for the notification */
    if (!notified)
        grpc_server_cancel_all_calls(s->server);
    pthread_mutex_lock(&s->mu);
    while (!s->shutdown_notified)
        pthread_cond_wait(&s->cv, &s->mu);
    /* 4. every context released (replies from other threads included) */
    while (s->live > 0)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);

    /* 5. queues, workers, server */
    teardown(s);

    pthread_mutex_lock(&s->mu);
    s->shutdown_state = 2;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void evb_rpc_server_free(evb_rpc_server *s)
{
    if (s == NULL)
        return;
    evb_rpc_server_shutdown(s);
    for (size_t i = 0; i < s->nmethods; i++)
        free(s->methods[i].name);
    free(s->methods);
    free_opts(s);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
