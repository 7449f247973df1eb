/* evbclient — internals shared by the library's files (never installed).
 *
 * codec.c is pure nanopb (no gRPC, no allocation); client.c owns the channel and the
 * unary call; stream.c the PublishStream call. The gRPC glue for messages (encode into a
 * grpc_byte_buffer, decode from one) lives in client.c and is shared with stream.c.
 */
#ifndef EVBCLIENT_INT_H
#define EVBCLIENT_INT_H

#include "evbclient.h"

#include <grpc/grpc.h>

#define EVB_CLIENT_METHOD_PUT "/evbridge.v1.EventService/PutEvents"
#define EVB_CLIENT_METHOD_STREAM "/evbridge.v1.EventService/PublishStream"

struct evb_client {
    grpc_channel *channel;
    char *authorization; /* "Bearer <key>", or NULL */
    int timeout_ms;
    int stream_timeout_ms;
};

/* Sets err (when not NULL) and returns code. grpc_status -1 when not an RPC status. */
evb_client_err evb_client_fail(evb_client_error *err, evb_client_err code, int grpc_status,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Clears err to EVB_CLIENT_OK. NULL is a no-op. */
void evb_client_error_clear(evb_client_error *err);

/* Checks the arguments of a request (the rules of evb_client_put_events). */
evb_client_err evb_client_check_request(const char *connector, const evb_client_entry *entries,
                                        size_t n, evb_client_error *err);

/* Encodes a request into a new byte buffer (*out, to grpc_byte_buffer_destroy). The bytes
 * are written by nanopb straight into the slice gRPC sends. */
evb_client_err evb_client_encode_buffer(const char *connector, const evb_client_entry *entries,
                                        size_t n, const char *request_id, grpc_byte_buffer **out,
                                        evb_client_error *err);

/* Decodes a received byte buffer (borrowed) into reply. */
evb_client_err evb_client_decode_buffer(grpc_byte_buffer *bb, evb_client_reply *reply,
                                        evb_client_error *err);

/* Fills the authorization metadata of c into md (md borrows c's string). Returns the
 * number of entries (0 or 1). */
size_t evb_client_metadata(const evb_client *c, grpc_metadata *md);

/* A deadline timeout_ms from now; < 0 = never, 0 = now. */
gpr_timespec evb_client_deadline(int timeout_ms);

/* Copies a gRPC status into err as EVB_CLIENT_ERR_RPC. */
evb_client_err evb_client_fail_status(evb_client_error *err, grpc_status_code status,
                                      grpc_slice details);

#endif
