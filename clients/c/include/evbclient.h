/* evbclient — the evbridge C client library (libevbclient).
 *
 * Publishes events to an evbridge server (evbridge.v1.EventService) from C and C++
 * applications and small devices: PutEvents (one batch, per-entry results) and
 * PublishStream (a bidirectional stream of batches, each acknowledged in order).
 *
 * Design:
 *  - Messages are encoded and decoded with nanopb. Encoding writes straight from the
 *    caller's entries into the output buffer: the encode path never allocates
 *    (tests/unit/evbclient checks it with a counting malloc). Decoding copies into the
 *    caller's evb_client_result array, truncating over-long strings, also without
 *    allocating. The gRPC C core transport does allocate (channels, calls, byte buffers).
 *  - Entries, strings and results are borrowed from the caller for the duration of a call;
 *    nothing the library returns needs freeing except the client and stream handles.
 *  - This header needs neither gRPC nor nanopb headers.
 *
 * Limits (see also clients/c/README.md):
 *  - 1..EVB_CLIENT_MAX_ENTRIES entries per request (the server's protocol limit);
 *  - the encoded request must fit the server's message limit (4 MiB by default;
 *    evbridged --max-message-bytes); the server rejects a larger one (RESOURCE_EXHAUSTED);
 *  - result strings are truncated to the sizes below (flag EVB_CLIENT_TRUNCATED); at most
 *    EVB_CLIENT_MAX_VIOLATIONS violations are kept per result (n_violations counts all).
 *
 * Thread safety:
 *  - evb_client_put_events may be called from several threads at once on one client.
 *  - A stream is single-threaded: one thread at a time may use it (several streams of one
 *    client may be used from different threads).
 *  - evb_client_open and evb_client_close must not race with other calls on that client;
 *    every stream must be closed before its client.
 *  - The codec functions (evb_client_encode_*, evb_client_decode_*) are reentrant.
 */
#ifndef EVBCLIENT_H
#define EVBCLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVB_CLIENT_VERSION "0.1.0"

/* Protocol limit: entries per PutEventsRequest. */
#define EVB_CLIENT_MAX_ENTRIES 100
/* Sizes of the result fields, NUL included (the server's ids are <= 128 chars). */
#define EVB_CLIENT_EVENT_ID_SIZE 129
#define EVB_CLIENT_ERROR_CODE_SIZE 64
#define EVB_CLIENT_ERROR_MESSAGE_SIZE 256
#define EVB_CLIENT_REQUEST_ID_SIZE 129
#define EVB_CLIENT_POINTER_SIZE 128
#define EVB_CLIENT_VIOLATION_MESSAGE_SIZE 192
/* Violations kept per result. */
#define EVB_CLIENT_MAX_VIOLATIONS 3

/* Return codes of every fallible function. */
typedef enum evb_client_err {
    EVB_CLIENT_OK = 0,
    EVB_CLIENT_ERR_INVALID,  /* bad argument (NULL, 0 or > 100 entries, ...) */
    EVB_CLIENT_ERR_NOSPACE,  /* the output buffer is too small (encode) */
    EVB_CLIENT_ERR_ENCODE,   /* nanopb could not encode (see evb_client_error.message) */
    EVB_CLIENT_ERR_DECODE,   /* the server's reply is not a valid PutEventsResponse */
    EVB_CLIENT_ERR_RPC,      /* the call ended with a gRPC status other than OK */
    EVB_CLIENT_ERR_TIMEOUT,  /* the local wait ran out (the call or stream may go on) */
    EVB_CLIENT_ERR_EOF,      /* stream: the server finished the stream with status OK */
    EVB_CLIENT_ERR_STATE,    /* stream: not allowed now (sending after close_send, ...) */
    EVB_CLIENT_ERR_NOMEM,    /* an allocation failed (open, transport) */
    EVB_CLIENT_ERR_TRANSPORT /* gRPC refused to start an operation */
} evb_client_err;

/* A short, stable text for code. Never NULL. Thread-safe. */
const char *evb_client_strerror(evb_client_err code);

/* Details of a failure, filled when a function is passed a non-NULL evb_client_error.
 * grpc_status is the gRPC status code (0 OK, 3 INVALID_ARGUMENT, 4 DEADLINE_EXCEEDED,
 * 7 PERMISSION_DENIED, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE, 16 UNAUTHENTICATED, ...)
 * for EVB_CLIENT_ERR_RPC, -1 otherwise. message is NUL-terminated, possibly truncated. */
typedef struct evb_client_error {
    evb_client_err code;
    int grpc_status;
    char message[256];
} evb_client_error;

/* ---- client ---------------------------------------------------------------------------- */

typedef struct evb_client_options {
    const char *target;  /* required: "host:port", "dns:///host:port", "unix:/path" */
    const char *api_key; /* sent as "authorization: Bearer <key>"; NULL = none */
    /* TLS: set use_tls (or any PEM below). root_ca_pem NULL = gRPC's default roots.
     * client_cert_pem + client_key_pem (both or neither) for mutual TLS. PEM contents,
     * not file names; copied by gRPC during open. */
    int use_tls;
    const char *root_ca_pem;
    const char *client_cert_pem;
    const char *client_key_pem;
    const char *tls_server_name; /* override the name checked in the server certificate */
    int timeout_ms;              /* deadline of each unary call; 0 = 10000 */
    int stream_timeout_ms;       /* deadline of a whole stream; 0 = none */
    int max_receive_bytes;       /* largest reply accepted; 0 = 4 MiB */
} evb_client_options;

typedef struct evb_client evb_client;

/* Creates a client for opt->target (the connection is made lazily, on the first call).
 * Initializes the gRPC library (reference counted; evb_client_close releases it).
 * On EVB_CLIENT_OK *out is the new client; else *out is NULL. opt and its strings are
 * borrowed (copied). Thread-safe. */
evb_client_err evb_client_open(const evb_client_options *opt, evb_client **out,
                               evb_client_error *err);

/* Closes the channel and frees c; shuts gRPC down when it was the last user
 * (grpc_shutdown_blocking). Every stream of c must be closed first. NULL is a no-op. */
void evb_client_close(evb_client *c);

/* ---- requests and results -------------------------------------------------------------- */

typedef struct evb_client_extension {
    const char *key; /* CloudEvents extension attribute name: [a-z0-9]{1,20} */
    const char *value;
} evb_client_extension;

/* One event to publish. NULL strings are sent as empty (proto3 default). All borrowed. */
typedef struct evb_client_entry {
    const char *id;              /* NULL/"" = the server generates a UUIDv7 */
    const char *org;             /* required */
    const char *type;            /* one of the connector's event types */
    const char *subject;         /* optional */
    const char *time;            /* RFC 3339; NULL = receipt time */
    const char *datacontenttype; /* NULL = application/json */
    const void *data;            /* data_len bytes (may be NULL when data_len is 0) */
    size_t data_len;
    const evb_client_extension *extensions;
    size_t n_extensions;
} evb_client_entry;

typedef enum evb_client_status {
    EVB_CLIENT_UNSPECIFIED = 0,
    EVB_CLIENT_PUBLISHED = 1,
    EVB_CLIENT_DEDUPLICATED = 2,
    EVB_CLIENT_REJECTED = 3
} evb_client_status;

/* evb_client_result.flags */
#define EVB_CLIENT_TRUNCATED 1u /* a string was cut to its field size (at a UTF-8 boundary) */

typedef struct evb_client_violation {
    char instance_path[EVB_CLIENT_POINTER_SIZE];    /* JSON pointer into the data */
    char keyword_location[EVB_CLIENT_POINTER_SIZE]; /* JSON pointer into the schema */
    char message[EVB_CLIENT_VIOLATION_MESSAGE_SIZE];
} evb_client_violation;

/* The server's answer for one entry (results come in request order). */
typedef struct evb_client_result {
    evb_client_status status;
    char event_id[EVB_CLIENT_EVENT_ID_SIZE];     /* PUBLISHED / DEDUPLICATED */
    char error_code[EVB_CLIENT_ERROR_CODE_SIZE]; /* REJECTED: INVALID_ARGUMENT, UNKNOWN_TYPE,
                                                    TOO_LARGE, SCHEMA_VIOLATION, ... */
    char error_message[EVB_CLIENT_ERROR_MESSAGE_SIZE];
    size_t n_violations; /* received; the first EVB_CLIENT_MAX_VIOLATIONS are kept */
    evb_client_violation violations[EVB_CLIENT_MAX_VIOLATIONS];
    unsigned flags; /* EVB_CLIENT_TRUNCATED */
} evb_client_result;

/* A decoded PutEventsResponse. The caller sets results/results_cap; decoding fills the
 * rest. Results beyond results_cap are counted in n_received but not stored. */
typedef struct evb_client_reply {
    evb_client_result *results; /* in: caller's array (may be NULL when results_cap is 0) */
    size_t results_cap;         /* in */
    size_t n_results;           /* out: results stored, min(n_received, results_cap) */
    size_t n_received;          /* out: results in the message */
    int failed_entry_count;     /* out: entries REJECTED */
    char request_id[EVB_CLIENT_REQUEST_ID_SIZE]; /* out: echoed by the server */
    unsigned flags;                              /* out: EVB_CLIENT_TRUNCATED (request_id) */
} evb_client_reply;

/* ---- unary ----------------------------------------------------------------------------- */

/* PutEvents: publishes entries[0..n) (1 <= n <= EVB_CLIENT_MAX_ENTRIES) to connector and
 * writes one result per entry into results[0..n) (caller-provided, n elements). request_id
 * is optional (NULL = ""). Returns EVB_CLIENT_OK when the call succeeded — entries may
 * still be REJECTED individually (see results[i].status); EVB_CLIENT_ERR_RPC with
 * err->grpc_status when the whole call failed (UNAUTHENTICATED, NOT_FOUND connector,
 * deadline, ...), EVB_CLIENT_ERR_DECODE when the reply is malformed or holds a result
 * count other than n. Blocks up to the client's timeout_ms. Thread-safe. */
evb_client_err evb_client_put_events(evb_client *c, const char *connector,
                                     const evb_client_entry *entries, size_t n,
                                     evb_client_result *results, const char *request_id,
                                     evb_client_error *err);

/* ---- stream ---------------------------------------------------------------------------- */

typedef struct evb_client_stream evb_client_stream;

/* Opens a PublishStream call. Returns at once (the server is contacted with the first
 * request). On EVB_CLIENT_OK *out is the stream; else NULL. Thread-safe on c. */
evb_client_err evb_client_stream_open(evb_client *c, evb_client_stream **out,
                                      evb_client_error *err);

/* Queues one request (same arguments as evb_client_put_events). One request is in flight
 * in the transport at a time: this waits (up to timeout_ms; < 0 = forever) for the
 * previous one to be written, then starts this one and returns. The entries are encoded
 * before it returns, so they may be reused at once. When the server applies back-pressure
 * (replies not read), the wait ends with EVB_CLIENT_ERR_TIMEOUT and nothing is sent:
 * read replies and retry. EVB_CLIENT_ERR_RPC / EVB_CLIENT_ERR_EOF: the stream has ended. */
evb_client_err evb_client_stream_send(evb_client_stream *s, const char *connector,
                                      const evb_client_entry *entries, size_t n,
                                      const char *request_id, int timeout_ms,
                                      evb_client_error *err);

/* Waits up to timeout_ms (< 0 = forever, 0 = poll) for the next reply, in request order,
 * and decodes it into reply (set reply->results / results_cap first). Returns
 * EVB_CLIENT_ERR_TIMEOUT when none came (call again; nothing is lost),
 * EVB_CLIENT_ERR_EOF when the server ended the stream with OK (after close_send),
 * EVB_CLIENT_ERR_RPC with err->grpc_status when it ended with an error. */
evb_client_err evb_client_stream_recv(evb_client_stream *s, evb_client_reply *reply, int timeout_ms,
                                      evb_client_error *err);

/* Half-closes: tells the server no more requests follow (waits up to timeout_ms for the
 * last request to be written). Replies can still be received until EVB_CLIENT_ERR_EOF. */
evb_client_err evb_client_stream_close_send(evb_client_stream *s, int timeout_ms,
                                            evb_client_error *err);

/* Ends the stream and frees s. A stream that has not reached EVB_CLIENT_ERR_EOF or an
 * error is cancelled (requests whose replies were not read may or may not have been
 * published). NULL is a no-op. */
void evb_client_stream_close(evb_client_stream *s);

/* ---- codec (no gRPC; allocation-free) -------------------------------------------------- */

/* Size of the encoded PutEventsRequest, into *size. Same argument rules as
 * evb_client_put_events. Never allocates. Reentrant. */
evb_client_err evb_client_encoded_size(const char *connector, const evb_client_entry *entries,
                                       size_t n, const char *request_id, size_t *size,
                                       evb_client_error *err);

/* Encodes a PutEventsRequest into buf[0..cap); *len is the encoded length.
 * EVB_CLIENT_ERR_NOSPACE when cap is too small. Never allocates. Reentrant. */
evb_client_err evb_client_encode_put_events(const char *connector, const evb_client_entry *entries,
                                            size_t n, const char *request_id, uint8_t *buf,
                                            size_t cap, size_t *len, evb_client_error *err);

/* Decodes a PutEventsResponse from buf[0..len) into reply (see evb_client_reply).
 * Never allocates. Reentrant. */
evb_client_err evb_client_decode_put_events_response(const uint8_t *buf, size_t len,
                                                     evb_client_reply *reply,
                                                     evb_client_error *err);

#ifdef __cplusplus
}
#endif

#endif
