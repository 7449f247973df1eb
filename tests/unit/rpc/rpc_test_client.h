/* evbridge — a tiny gRPC client on the gRPC core API for tests of server/rpc.
 *
 * Unary calls are one blocking batch on a private queue; streams keep at most one send and
 * one receive in flight on their own queue (as the core requires) and receive the final
 * status in the background from the start. Not thread-safe per
 * object; different objects may be used from different threads.
 */
#ifndef EVB_TESTS_RPC_TEST_CLIENT_H
#define EVB_TESTS_RPC_TEST_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <grpc/grpc.h>

typedef struct tc_result {
    grpc_status_code status;
    char *details; /* malloc'd, never NULL after a call */
    uint8_t *resp; /* malloc'd response, NULL when none */
    size_t resp_len;
    int has_resp;
} tc_result;

void tc_result_free(tc_result *r);

/* Channel to 127.0.0.1:port (plaintext). */
grpc_channel *tc_channel(int port);

/* One unary call. md_key/md_val may be NULL. deadline_ms <= 0 = 10 s. */
void tc_unary(grpc_channel *ch, const char *method, const void *req, size_t len, const char *md_key,
              const char *md_val, int deadline_ms, tc_result *out);

typedef struct tc_stream tc_stream;
tc_stream *tc_stream_open(grpc_channel *ch, const char *method, int deadline_ms);
/* Blocking send of one message; 0 = ok. */
int tc_stream_send(tc_stream *s, const void *msg, size_t len);
/* Blocking receive; returns 1 with a malloc'd *msg, 0 at end of stream, -1 on failure. */
int tc_stream_recv(tc_stream *s, uint8_t **msg, size_t *len);
int tc_stream_close_send(tc_stream *s);
/* Cancels the call from the client side. */
void tc_stream_cancel(tc_stream *s);
/* Receives the final status (after the server ends the stream or after a cancel). */
void tc_stream_status(tc_stream *s, tc_result *out);
void tc_stream_free(tc_stream *s);

/* Pipelined echo: sends n messages "m<i>" while reading replies; returns the number of
 * replies that came back in order (n on success). */
int tc_stream_echo_pipelined(tc_stream *s, int n);

#endif
