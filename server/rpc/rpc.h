/* evbridge — gRPC runtime on the gRPC C core API (server side).
 *
 * Design: N worker threads, each polling its own completion queue registered with one
 * grpc_server. Every call has a small state machine (a context struct whose tags are
 * posted to the queue). Services register methods by full name before start; unary
 * handlers receive the request bytes and reply later, from any thread; bidi-stream
 * handlers get message callbacks and send through a queue the runtime drains with at most
 * one SEND_MESSAGE in flight (gRPC core allows no more). Unknown methods are answered
 * UNIMPLEMENTED at once. Shutdown follows the order in ../shared/notes/grpc-core.md:
 * stop accepting, let in-flight calls finish within a grace period, cancel the rest, wait
 * for every call context to be released, then drain and destroy the queues.
 *
 * The runtime knows nothing about protobuf messages or evbridge services: it moves bytes.
 * Generated protobuf code is used only in the service files next to it (server/rpc/svc_*.c).
 *
 * Threads: every callback of one call (unary handler; on_start, on_message, on_half_close,
 * on_writable, on_done of a stream) runs on the one worker thread that owns the call, one at
 * a time. The runtime never holds its own locks while calling a handler, so a handler may
 * hold its own mutex while it calls evb_rpc_* (lock order: handler's lock, then runtime's).
 * Implementation: rpc_server.c, rpc_call.c, rpc_stream.c, rpc_meta.c, status.c.
 */
#ifndef EVB_SERVER_RPC_H
#define EVB_SERVER_RPC_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct evb_rpc_server evb_rpc_server;
typedef struct evb_rpc_call evb_rpc_call;     /* one unary call */
typedef struct evb_rpc_stream evb_rpc_stream; /* one streaming call */

/* gRPC status codes (values as grpc_status_code). */
typedef enum evb_rpc_status {
    EVB_RPC_OK = 0,
    EVB_RPC_CANCELLED = 1,
    EVB_RPC_UNKNOWN = 2,
    EVB_RPC_INVALID_ARGUMENT = 3,
    EVB_RPC_DEADLINE_EXCEEDED = 4,
    EVB_RPC_NOT_FOUND = 5,
    EVB_RPC_ALREADY_EXISTS = 6,
    EVB_RPC_PERMISSION_DENIED = 7,
    EVB_RPC_RESOURCE_EXHAUSTED = 8,
    EVB_RPC_FAILED_PRECONDITION = 9,
    EVB_RPC_ABORTED = 10,
    EVB_RPC_OUT_OF_RANGE = 11,
    EVB_RPC_UNIMPLEMENTED = 12,
    EVB_RPC_INTERNAL = 13,
    EVB_RPC_UNAVAILABLE = 14,
    EVB_RPC_DATA_LOSS = 15,
    EVB_RPC_UNAUTHENTICATED = 16
} evb_rpc_status;

/* The one table from evb_err to gRPC status. */
evb_rpc_status evb_rpc_status_from_err(evb_err e);

#define EVB_RPC_DEFAULT_MAX_STREAMS 100

typedef struct evb_rpc_options {
    const char *listen;          /* "127.0.0.1:50051"; port 0 picks a free one */
    int threads;                 /* worker threads (completion queues); <= 0 = number of cores */
    size_t max_message_bytes;    /* max receive message size; 0 = 4 MiB */
    int max_concurrent_streams;  /* calls at once per connection (HTTP/2 streams; a client
                                    queues more on its side); 0 = EVB_RPC_DEFAULT_MAX_STREAMS.
                                    gRPC's own default is unlimited: each call's request is
                                    buffered in the server, so one connection could make it
                                    hold any amount of memory (docs/benchmarks.md, Memory) */
    int grace_ms;                /* shutdown grace period before cancelling calls; 0 = 5000 */
    /* TLS: PEM *contents* (not paths). All NULL = plaintext. client_ca set = mutual TLS
     * (client certificates required and verified). */
    const char *tls_cert_pem;
    const char *tls_key_pem;
    const char *tls_client_ca_pem;
} evb_rpc_options;

/* ---- unary ---- */

/* Called on a worker thread for each request. `req` is valid only during the callback.
 * The handler must eventually call exactly one of evb_rpc_reply / evb_rpc_reply_error
 * for `call`, from any thread (possibly after returning, e.g. after a store commit); also
 * when the client is gone or the deadline passed (the reply is then dropped). Shutdown
 * waits for that reply, so a call never answered blocks evb_rpc_server_shutdown. After
 * the reply `call` must not be touched (it may already be freed).
 * `method_arg` is what was given at registration. */
typedef void (*evb_rpc_unary_fn)(evb_rpc_call *call, const uint8_t *req, size_t len,
                                 void *method_arg);

/* Sends the response (copied) with status OK and releases the call. Thread-safe. */
void evb_rpc_reply(evb_rpc_call *call, const uint8_t *resp, size_t len);
/* Sends a status with a message (may be NULL) and releases the call. Thread-safe.
 * EVB_RPC_OK is not an error and is sent as EVB_RPC_INTERNAL. */
void evb_rpc_reply_error(evb_rpc_call *call, evb_rpc_status status, const char *message);

/* The value of request metadata `key` (lower-case, e.g. "authorization") as a
 * NUL-terminated copy owned by the call, or NULL when absent. Valid until the reply. */
const char *evb_rpc_call_metadata(const evb_rpc_call *call, const char *key);
/* The peer address ("ipv4:127.0.0.1:5555"), owned by the call. */
const char *evb_rpc_call_peer(const evb_rpc_call *call);
/* Deadline as monotonic ms (CLOCK_MONOTONIC, the evb_mono_ms clock), or INT64_MAX when
 * none. The core cancels the call at the deadline by itself. */
int64_t evb_rpc_call_deadline_ms(const evb_rpc_call *call);
/* The full method name, e.g. "/evbridge.v1.EventService/PutEvents". */
const char *evb_rpc_call_method(const evb_rpc_call *call);

/* ---- bidirectional streams ---- */

typedef struct evb_rpc_stream_ops {
    /* Called once when the call starts, on a worker thread. Return the per-stream user
     * state (may be NULL). The runtime then reads the first message (unless on_start
     * already called evb_rpc_stream_finish, e.g. to refuse the caller). May be NULL. */
    void *(*on_start)(evb_rpc_stream *st, void *method_arg);
    /* Called for each message, serially (never two at once for one stream). `msg` is
     * valid only during the callback. The runtime does NOT read the next message until
     * the handler calls evb_rpc_stream_request_next (flow control is the handler's). */
    void (*on_message)(evb_rpc_stream *st, void *user, const uint8_t *msg, size_t len);
    /* The client half-closed (no more messages). The handler should finish the stream
     * with evb_rpc_stream_finish once its replies are queued. May be NULL: the runtime
     * then finishes with EVB_RPC_OK after the queued messages. */
    void (*on_half_close)(evb_rpc_stream *st, void *user);
    /* Called when the queued-send count drops to the low-water mark (a quarter of the
     * cap last given to evb_rpc_stream_send) and whenever the queue runs empty; never
     * after evb_rpc_stream_finish. Calls may be spurious: re-check your own state.
     * May be NULL. */
    void (*on_writable)(evb_rpc_stream *st, void *user);
    /* Called exactly once at the end (finished, cancelled, broken or server shutdown),
     * after which `st` must not be used; the handler frees `user` here. `cancelled` is 1
     * when the stream ended without a clean finish. Not called when on_start never ran.
     * The runtime frees `st` when on_done returns, so threads of the handler that may
     * still call evb_rpc_stream_* must be stopped by on_done: e.g. they call only under
     * the handler's mutex and check an `ended` flag that on_done sets under it. */
    void (*on_done)(evb_rpc_stream *st, void *user, int cancelled);
} evb_rpc_stream_ops;

/* Asks for the next message (exactly one on_message or on_half_close follows, unless the
 * stream ends). Thread-safe; a second request before the first is satisfied is ignored,
 * and so is a request after half-close or the end. */
void evb_rpc_stream_request_next(evb_rpc_stream *st);
/* Queues a message (copied). Thread-safe. Messages go out in queue order. Returns
 * EVB_ERR_LIMIT when `cap` messages are already queued (nothing queued then; wait for
 * on_writable), EVB_ERR_CANCELLED when the stream is ending or finish was called,
 * EVB_ERR_NOMEM. `cap` 0 means no cap. */
evb_err evb_rpc_stream_send(evb_rpc_stream *st, const uint8_t *msg, size_t len, size_t cap);
/* Number of messages queued and not yet written. Thread-safe. */
size_t evb_rpc_stream_queued(const evb_rpc_stream *st);
/* Sends the status after every queued message; then on_done follows. Thread-safe;
 * later calls are ignored. `message` (may be NULL) is copied. */
void evb_rpc_stream_finish(evb_rpc_stream *st, evb_rpc_status status, const char *message);
/* Metadata and peer as for unary calls, valid until on_done. */
const char *evb_rpc_stream_metadata(const evb_rpc_stream *st, const char *key);
const char *evb_rpc_stream_peer(const evb_rpc_stream *st);

/* ---- server ---- */

/* Creates the server (not yet listening). Copies options. EVB_ERR_INVALID when `listen`
 * is missing, a certificate comes without its key (or the reverse), or a client CA comes
 * without a server certificate. Not thread-safe (configure from one thread). */
evb_err evb_rpc_server_new(const evb_rpc_options *opt, evb_rpc_server **out);
/* Registers a method by full name ("/pkg.Service/Method") before evb_rpc_server_start.
 * EVB_ERR_EXISTS for a name registered twice, EVB_ERR_PRECONDITION after start,
 * EVB_ERR_INVALID for a bad name, NULL fn or ops without on_message. */
evb_err evb_rpc_server_add_unary(evb_rpc_server *s, const char *method, evb_rpc_unary_fn fn,
                                 void *method_arg);
evb_err evb_rpc_server_add_stream(evb_rpc_server *s, const char *method,
                                  const evb_rpc_stream_ops *ops, void *method_arg);
/* Binds, starts the worker threads and starts serving. *port_out (may be NULL) receives
 * the bound port. EVB_ERR_IO when the address cannot be bound. */
evb_err evb_rpc_server_start(evb_rpc_server *s, int *port_out);
/* Graceful shutdown: stops accepting calls, waits for in-flight calls up to the grace
 * period, cancels the rest, waits for every call to be released, joins the workers.
 * Handlers may still be running replies from other threads: the runtime waits for them.
 * Idempotent; must not be called from a worker thread. */
void evb_rpc_server_shutdown(evb_rpc_server *s);
/* Frees the server (shutting it down first if needed). NULL is a no-op. Call
 * grpc_shutdown-related cleanup (evb_rpc_global_fini) after the last server is freed. */
void evb_rpc_server_free(evb_rpc_server *s);

/* grpc_init / grpc_shutdown_blocking wrappers (call once per process). */
void evb_rpc_global_init(void);
void evb_rpc_global_fini(void);

#endif
