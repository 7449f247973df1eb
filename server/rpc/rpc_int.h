/* evbridge — private header of the gRPC runtime (server/rpc/rpc_*.c only).
 *
 * Design: every completion-queue tag is a `rpc_tag` embedded in a context struct; the
 * worker that polls the queue calls tag->fn(tag, ok) and the owner finds itself with
 * RPC_CONTAINER_OF. A call is bound to the queue its request was posted on, and each queue
 * has exactly one worker thread, so all completions (and therefore all handler callbacks)
 * of one call run on one thread, one at a time. Every context (posted request, live unary
 * call, live stream, unknown-method call) is counted in srv->live; shutdown waits for the
 * count to reach zero before it shuts the queues down, so no batch can be started on a
 * call whose queue is already shut down.
 */
#ifndef EVB_SERVER_RPC_INT_H
#define EVB_SERVER_RPC_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>

#include "server/rpc/rpc.h"

#define RPC_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Requests kept posted per method per queue (re-posted on each new call). */
#define RPC_PREPOST_UNARY 8
#define RPC_PREPOST_STREAM 4
#define RPC_PREPOST_GENERIC 2

typedef struct rpc_tag rpc_tag;
struct rpc_tag {
    void (*fn)(rpc_tag *tag, int ok);
};

typedef enum rpc_kind { RPC_KIND_UNARY, RPC_KIND_STREAM } rpc_kind;

typedef struct rpc_method {
    char *name;
    rpc_kind kind;
    evb_rpc_unary_fn unary_fn;
    evb_rpc_stream_ops stream_ops;
    void *arg;
    void *handle;       /* from grpc_server_register_method */
    atomic_int deficit; /* requests that could not be re-posted (allocation failure) */
} rpc_method;

struct evb_rpc_server {
    /* options (strings owned) */
    char *listen;
    int threads;
    size_t max_message_bytes;
    int max_concurrent_streams;
    int grace_ms;
    char *tls_cert_pem, *tls_key_pem, *tls_client_ca_pem;

    rpc_method *methods;
    size_t nmethods, methods_cap;

    grpc_server *server;
    grpc_completion_queue **cqs; /* one per worker */
    pthread_t *workers;
    int nworkers_running;

    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled on live == 0, shutdown notified, state change */
    size_t live;       /* contexts alive (posted requests + calls) */
    bool started;
    bool stopping; /* no more re-posting */
    bool shutdown_notified;
    int shutdown_state; /* 0 none, 1 running, 2 done */
    rpc_tag shutdown_tag;
    atomic_int generic_deficit;
};

/* Fields shared by every call context: the call, its request metadata and copies of what
 * handlers may read. */
typedef struct rpc_head {
    evb_rpc_server *srv;
    rpc_method *method; /* NULL for unknown-method calls */
    int cq_idx;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    /* copies made in rpc_head_capture */
    char **md_kv; /* md_n pairs: key, value, key, value ... */
    size_t md_n;
    char *peer;
    int64_t deadline_ms;
    int64_t start_ns; /* monotonic, when the request arrived (metrics) */
} rpc_head;

/* ---- rpc_server.c ---- */
/* Counts a new context; false when the server is stopping (do not post then). */
bool rpc_server_acquire(evb_rpc_server *s);
/* Uncounts a context (after it is freed). */
void rpc_server_release(evb_rpc_server *s);
grpc_completion_queue *rpc_server_cq(evb_rpc_server *s, int idx);

/* ---- rpc_meta.c ---- */
void rpc_head_init(rpc_head *h, evb_rpc_server *srv, rpc_method *m, int cq_idx);
/* Copies metadata, peer and deadline after the request completed. EVB_ERR_NOMEM. */
evb_err rpc_head_capture(rpc_head *h);
void rpc_head_fini(rpc_head *h);
const char *rpc_head_metadata(const rpc_head *h, const char *key);
int64_t rpc_mono_ms(void);
/* Counts the finished call in the metrics (method, status, duration since start_ns). */
void rpc_head_count(const rpc_head *h, int status);
/* Reads a whole byte buffer into one slice (caller unrefs). */
grpc_slice rpc_bb_read(grpc_byte_buffer *bb);
/* A byte buffer holding a copy of msg. */
grpc_byte_buffer *rpc_bb_copy(const uint8_t *msg, size_t len);

/* ---- rpc_call.c / rpc_stream.c: post one request ---- */
/* Each returns EVB_OK when a request is posted (or the server is stopping). */
evb_err rpc_call_post(evb_rpc_server *s, rpc_method *m, int cq_idx);
evb_err rpc_stream_post(evb_rpc_server *s, rpc_method *m, int cq_idx);
evb_err rpc_generic_post(evb_rpc_server *s, int cq_idx);
/* Re-posts after a new call: the replacement plus any earlier shortfall, so a transient
 * allocation failure does not shrink the pool of requests for good. */
void rpc_repost(evb_rpc_server *s, rpc_method *m, int cq_idx);

#endif
