/* evbclient stream — PublishStream (bidirectional) on the gRPC C core.
 *
 * The call has its own "next" completion queue, pumped only by the thread using the stream
 * (a stream is single-threaded; no locks). At open, three batches start: send the initial
 * metadata, receive the initial metadata (the core completes received messages and the
 * status only once it has been asked for), and receive the status (completes when the
 * call ends, which tells send/recv the stream is over). Then at most one SEND_MESSAGE and
 * one RECV_MESSAGE are in flight, as gRPC allows: send waits for the previous write, recv
 * starts a read and waits for it. A wait that times out leaves its operation in flight;
 * the next call picks it up, so nothing is lost or reordered.
 */
#include "evbclient_int.h"

#include <grpc/support/time.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_START = 1, TAG_INITIAL, TAG_STATUS, TAG_SEND, TAG_RECV, TAG_CLOSE };

struct evb_client_stream {
    evb_client *client;
    grpc_completion_queue *cq;
    grpc_call *call;
    grpc_metadata md;
    grpc_metadata_array initial, trailing;
    grpc_status_code status;
    grpc_slice details;
    grpc_byte_buffer *send_buf; /* in flight until TAG_SEND */
    grpc_byte_buffer *recv_buf; /* filled by TAG_RECV */
    unsigned busy;              /* bit per tag in flight */
    int status_done;            /* the call has ended (status known) */
    int recv_ready;             /* a RECV completed; recv_buf holds the message or NULL */
    int read_ended;             /* the server half-closed (or the call broke) */
    int half_closed;            /* close_send done */
};

#define BIT(tag) (1u << (tag))

static void *tag_of(int t)
{
    return (void *)(intptr_t)t;
}

/* Waits for one event until deadline. Returns 1 when one was handled, 0 on timeout. */
static int pump(evb_client_stream *s, gpr_timespec deadline)
{
    grpc_event ev = grpc_completion_queue_next(s->cq, deadline, NULL);
    if (ev.type != GRPC_OP_COMPLETE)
        return 0;
    int t = (int)(intptr_t)ev.tag;
    s->busy &= ~BIT(t);
    switch (t) {
    case TAG_STATUS:
        s->status_done = 1;
        break;
    case TAG_SEND:
        grpc_byte_buffer_destroy(s->send_buf);
        s->send_buf = NULL;
        break;
    case TAG_RECV:
        s->recv_ready = 1;
        if (!ev.success || s->recv_buf == NULL)
            s->read_ended = 1;
        break;
    default:
        break;
    }
    return 1;
}

/* Pumps until none of mask's operations is in flight. */
static evb_client_err wait_idle(evb_client_stream *s, unsigned mask, gpr_timespec deadline,
                                evb_client_error *err)
{
    while (s->busy & mask) {
        if (!pump(s, deadline))
            return evb_client_fail(err, EVB_CLIENT_ERR_TIMEOUT, -1, "stream: timed out");
    }
    return EVB_CLIENT_OK;
}

static evb_client_err start(evb_client_stream *s, grpc_op *ops, size_t n, int tag,
                            evb_client_error *err)
{
    grpc_call_error ce = grpc_call_start_batch(s->call, ops, n, tag_of(tag), NULL);
    if (ce != GRPC_CALL_OK)
        return evb_client_fail(err, EVB_CLIENT_ERR_TRANSPORT, -1,
                               "stream: grpc_call_start_batch: %d", (int)ce);
    s->busy |= BIT(tag);
    return EVB_CLIENT_OK;
}

/* The outcome of an ended stream: EOF for status OK, else the status. */
static evb_client_err ended(evb_client_stream *s, evb_client_error *err)
{
    if (s->status == GRPC_STATUS_OK)
        return evb_client_fail(err, EVB_CLIENT_ERR_EOF, 0, "stream: ended");
    return evb_client_fail_status(err, s->status, s->details);
}

evb_client_err evb_client_stream_open(evb_client *c, evb_client_stream **out, evb_client_error *err)
{
    evb_client_error_clear(err);
    if (out == NULL)
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "out is NULL");
    *out = NULL;
    if (c == NULL)
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "client is NULL");
    evb_client_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return evb_client_fail(err, EVB_CLIENT_ERR_NOMEM, -1, "stream");
    s->client = c;
    s->status = GRPC_STATUS_UNKNOWN;
    s->details = grpc_empty_slice();
    grpc_metadata_array_init(&s->initial);
    grpc_metadata_array_init(&s->trailing);
    s->cq = grpc_completion_queue_create_for_next(NULL);
    s->call = grpc_channel_create_call(
        c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, s->cq,
        grpc_slice_from_static_string(EVB_CLIENT_METHOD_STREAM), NULL,
        evb_client_deadline(c->stream_timeout_ms > 0 ? c->stream_timeout_ms : -1), NULL);

    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_INITIAL_METADATA;
    op.data.send_initial_metadata.count = evb_client_metadata(c, &s->md);
    op.data.send_initial_metadata.metadata = &s->md;
    evb_client_err rc = start(s, &op, 1, TAG_START, err);
    if (rc == EVB_CLIENT_OK) {
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_INITIAL_METADATA;
        op.data.recv_initial_metadata.recv_initial_metadata = &s->initial;
        rc = start(s, &op, 1, TAG_INITIAL, err);
    }
    if (rc == EVB_CLIENT_OK) {
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        op.data.recv_status_on_client.trailing_metadata = &s->trailing;
        op.data.recv_status_on_client.status = &s->status;
        op.data.recv_status_on_client.status_details = &s->details;
        rc = start(s, &op, 1, TAG_STATUS, err);
    }
    if (rc != EVB_CLIENT_OK) {
        evb_client_stream_close(s);
        return rc;
    }
    *out = s;
    return EVB_CLIENT_OK;
}

evb_client_err evb_client_stream_send(evb_client_stream *s, const char *connector,
                                      const evb_client_entry *entries, size_t n,
                                      const char *request_id, int timeout_ms, evb_client_error *err)
{
    evb_client_error_clear(err);
    if (s == NULL)
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "stream is NULL");
    if (s->half_closed)
        return evb_client_fail(err, EVB_CLIENT_ERR_STATE, -1, "stream: send after close_send");
    evb_client_err rc = evb_client_check_request(connector, entries, n, err);
    if (rc != EVB_CLIENT_OK)
        return rc;
    rc = wait_idle(s, BIT(TAG_SEND), evb_client_deadline(timeout_ms), err);
    if (rc != EVB_CLIENT_OK)
        return rc;
    /* Pick up an end that has already been reported, without waiting. */
    while (!s->status_done && pump(s, gpr_inf_past(GPR_CLOCK_MONOTONIC)))
        ;
    if (s->status_done)
        return ended(s, err);

    grpc_byte_buffer *bb = NULL;
    rc = evb_client_encode_buffer(connector, entries, n, request_id, &bb, err);
    if (rc != EVB_CLIENT_OK)
        return rc;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_MESSAGE;
    op.data.send_message.send_message = bb;
    s->send_buf = bb;
    rc = start(s, &op, 1, TAG_SEND, err);
    if (rc != EVB_CLIENT_OK) {
        s->send_buf = NULL;
        grpc_byte_buffer_destroy(bb);
    }
    return rc;
}

evb_client_err evb_client_stream_recv(evb_client_stream *s, evb_client_reply *reply, int timeout_ms,
                                      evb_client_error *err)
{
    evb_client_error_clear(err);
    if (s == NULL || reply == NULL || (reply->results == NULL && reply->results_cap > 0))
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "stream or reply is NULL");
    gpr_timespec deadline = evb_client_deadline(timeout_ms);
    evb_client_err rc;
    if (!s->recv_ready && !s->read_ended && !(s->busy & BIT(TAG_RECV))) {
        grpc_op op;
        memset(&op, 0, sizeof op);
        op.op = GRPC_OP_RECV_MESSAGE;
        op.data.recv_message.recv_message = &s->recv_buf;
        s->recv_buf = NULL;
        rc = start(s, &op, 1, TAG_RECV, err);
        if (rc != EVB_CLIENT_OK)
            return rc;
    }
    rc = wait_idle(s, BIT(TAG_RECV), deadline, err);
    if (rc != EVB_CLIENT_OK)
        return rc;
    if (s->recv_ready && s->recv_buf != NULL) {
        s->recv_ready = 0;
        rc = evb_client_decode_buffer(s->recv_buf, reply, err);
        grpc_byte_buffer_destroy(s->recv_buf);
        s->recv_buf = NULL;
        return rc;
    }
    /* No more messages: the status follows. */
    while (!s->status_done) {
        if (!pump(s, deadline))
            return evb_client_fail(err, EVB_CLIENT_ERR_TIMEOUT, -1,
                                   "stream: timed out waiting for the status");
    }
    return ended(s, err);
}

evb_client_err evb_client_stream_close_send(evb_client_stream *s, int timeout_ms,
                                            evb_client_error *err)
{
    evb_client_error_clear(err);
    if (s == NULL)
        return evb_client_fail(err, EVB_CLIENT_ERR_INVALID, -1, "stream is NULL");
    if (s->half_closed)
        return EVB_CLIENT_OK;
    evb_client_err rc = wait_idle(s, BIT(TAG_SEND), evb_client_deadline(timeout_ms), err);
    if (rc != EVB_CLIENT_OK)
        return rc;
    grpc_op op;
    memset(&op, 0, sizeof op);
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    rc = start(s, &op, 1, TAG_CLOSE, err);
    if (rc == EVB_CLIENT_OK)
        s->half_closed = 1;
    return rc;
}

void evb_client_stream_close(evb_client_stream *s)
{
    if (s == NULL)
        return;
    if (s->call != NULL) {
        if (!s->status_done)
            grpc_call_cancel(s->call, NULL);
        /* Cancelling completes every operation in flight. */
        while (s->busy != 0)
            pump(s, gpr_inf_future(GPR_CLOCK_MONOTONIC));
        grpc_call_unref(s->call);
    }
    if (s->recv_buf != NULL)
        grpc_byte_buffer_destroy(s->recv_buf);
    if (s->send_buf != NULL)
        grpc_byte_buffer_destroy(s->send_buf);
    grpc_metadata_array_destroy(&s->initial);
    grpc_metadata_array_destroy(&s->trailing);
    grpc_slice_unref(s->details);
    if (s->cq != NULL) {
        grpc_completion_queue_shutdown(s->cq);
        while (grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
               GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(s->cq);
    }
    free(s);
}
