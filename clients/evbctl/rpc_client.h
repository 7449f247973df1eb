/* evbctl — a small gRPC client core on the gRPC C core API.
 *
 * One channel per process (insecure, TLS or mutual TLS), unary calls with a deadline and the
 * `authorization: Bearer <key>` metadata, and a bidi-stream helper that keeps at most one
 * send and one receive in flight (the core refuses a second one) and reports completions
 * one at a time, so a single thread can drive a stream. Messages are raw bytes: packing and
 * unpacking is the caller's (protobuf-c). grpc_init() / grpc_shutdown_blocking() are the
 * caller's too (main.c). Not thread-safe: one thread per client.
 */
#ifndef EVB_CLIENTS_EVBCTL_RPC_CLIENT_H
#define EVB_CLIENTS_EVBCTL_RPC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

typedef struct evb_rpc_client evb_rpc_client;
typedef struct evb_rpc_bidi evb_rpc_bidi;

typedef struct evb_rpc_client_opts {
    const char *target;      /* host:port */
    int tls;                 /* 0 = plaintext */
    const char *ca_pem;      /* TLS: root certificates (PEM text); NULL = system roots */
    const char *cert_pem;    /* mTLS: client certificate chain (PEM text) or NULL */
    const char *key_pem;     /* mTLS: client private key (PEM text) or NULL */
    const char *server_name; /* TLS: expected name in the server certificate, or NULL */
} evb_rpc_client_opts;

/* Creates the channel (connection happens on the first call). Strings are copied by gRPC.
 * EVB_ERR_INVALID (err says why) or EVB_ERR_NOMEM. */
evb_err evb_rpc_client_new(const evb_rpc_client_opts *o, evb_rpc_client **out, evb_error *err);
void evb_rpc_client_free(evb_rpc_client *c);

/* Result of a unary call: status is a grpc_status_code (0 = OK); details and resp are
 * malloc'd (details never NULL after a call). Free with evb_rpc_result_fini. */
typedef struct evb_rpc_result {
    int status;
    char *details;
    uint8_t *resp;
    size_t resp_len;
    int has_resp;
} evb_rpc_result;

void evb_rpc_result_fini(evb_rpc_result *r);

/* One unary call of method ("/pkg.Service/Method") with req[0..len), api_key (NULL = no
 * authorization metadata) and a deadline of timeout_ms (> 0). Always fills *out. */
void evb_rpc_client_unary(evb_rpc_client *c, const char *method, const char *api_key,
                          const void *req, size_t len, int timeout_ms, evb_rpc_result *out);

/* ---- bidi streams ---- */

typedef enum evb_bidi_event {
    EVB_BIDI_TIMEOUT = 0, /* nothing happened within wait_ms */
    EVB_BIDI_MESSAGE,     /* a message arrived (*msg, *len; free(*msg)) */
    EVB_BIDI_SENT,        /* the send in flight completed (ok or not) */
    EVB_BIDI_STATUS,      /* the call ended; evb_rpc_bidi_status() tells how */
    EVB_BIDI_ERROR        /* the queue failed (should not happen) */
} evb_bidi_event;

/* Opens a stream; timeout_ms 0 = no deadline. NULL on failure (out of memory). */
evb_rpc_bidi *evb_rpc_bidi_open(evb_rpc_client *c, const char *method, const char *api_key,
                                int timeout_ms);
/* Starts sending msg[0..len) (copied). -1 when a send is in flight or the send side is
 * closed. */
int evb_rpc_bidi_send(evb_rpc_bidi *b, const void *msg, size_t len);
/* 1 while a send is in flight. */
int evb_rpc_bidi_sending(const evb_rpc_bidi *b);
/* Half-closes (no more sends). Call when no send is in flight; -1 otherwise. */
int evb_rpc_bidi_close_send(evb_rpc_bidi *b);
/* Waits up to wait_ms for the next completion and reports it. */
evb_bidi_event evb_rpc_bidi_poll(evb_rpc_bidi *b, int wait_ms, uint8_t **msg, size_t *len);
/* After EVB_BIDI_STATUS: the status code; *details (may be NULL) is borrowed. */
int evb_rpc_bidi_status(const evb_rpc_bidi *b, const char **details);
/* Cancels (when not ended), waits for every outstanding operation and frees. NULL ok. */
void evb_rpc_bidi_free(evb_rpc_bidi *b);

#endif
